"""Private DNS name ownership: the lab's "public DNS", where providers publish TXT records, and the check.

On AWS a service's private DNS name (e.g. api.example.com) is usable only once the provider proves
it owns the domain: it publishes a TXT record `_vpce-<token>.<domain>` = `vpce:<token>` in the
domain's public DNS and asks AWS to verify (states pendingVerification -> verified, or failed).

The lab has no internet, so the public DNS is a small lab-owned record store: `public-dns.json` in
the lab's state folder (a list of {name, type, value}), written by `lab dns publish` (the provider at
its DNS host) and read by `lab dns verify-domain` (AWS's check). The check's result goes into the
lab's stored topology (`endpoint_services[].private_dns_state`, the desired state that the control
plane also edits), the lab is re-planned and its resolvers synced: consumers with private DNS enabled
see the name within milliseconds, and no resolver restarts.
"""

from __future__ import annotations

import json
import re

from lab.apply import dns
from lab.apply.context import Progress
from lab.plan.dns import verification_state
from lab.privatelink import edit
from lab.privatelink.control import locked, transaction
from lab.state.store import LabState
from lab.topology.errors import LabInputError

STORE = "public-dns.json"
RECORD_NAME_RE = re.compile(r"^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
TXT_MAX = 255  # one TXT character-string


def _quiet(_msg: str) -> None:
    pass


def published(state: LabState) -> list[dict]:
    path = state.dir / STORE
    return json.loads(path.read_text())["records"] if path.exists() else []


def records(lab: str) -> list[dict]:
    """The records in the lab's public DNS."""
    state = LabState(lab)
    state.load_plan()  # raises the "no lab named ... is up" input error
    return published(state)


def configurations(lab: str) -> list[dict]:
    """Every service's private DNS name: its verification state, the TXT record the provider must
    publish, and whether it is published."""
    state = LabState(lab)
    plan = state.load_plan()  # raises the "no lab named ... is up" input error
    public = published(state)
    return [{"Service": p["service"], "ServiceId": p["service_id"], "PrivateDnsName": p["name"], "State": p["state"],
             "Type": "TXT", "Name": p["txt_name"], "Value": p["txt_value"],
             "Published": any(r["name"] == p["txt_name"] and r["value"] == p["txt_value"] for r in public)}
            for p in plan.get("private_dns_names", [])]


def _save(state: LabState, records: list[dict]) -> None:
    tmp = state.dir / f".{STORE}.tmp"
    tmp.write_text(json.dumps({"records": records}, indent=1))
    tmp.replace(state.dir / STORE)


def publish(lab: str, name: str, value: str, rtype: str = "TXT") -> dict:
    """Publish a record in the lab's public DNS (idempotent: the same record twice is one record)."""
    name = name.rstrip(".").lower()
    if not RECORD_NAME_RE.match(name) or len(name) > 253:
        raise LabInputError("NAME", f"{name!r} is not a DNS name", "write labels of a-z, 0-9, '-', '_' joined by dots, "
                                                                    "e.g. _vpce-abcd1234.api.example.com")
    if rtype != "TXT":
        raise LabInputError("--type", f"{rtype} records are not modeled", "publish a TXT record")
    if not value or len(value) > TXT_MAX:
        raise LabInputError("VALUE", f"a TXT value must be 1-{TXT_MAX} characters", "e.g. vpce:abc123...")
    state = LabState(lab)
    with locked(state):
        records = published(state)
        record = {"name": name, "type": rtype, "value": value}
        if record not in records:
            records.append(record)
            _save(state, records)
        return record


def unpublish(lab: str, name: str, value: str | None = None) -> int:
    """Remove records by name (and value, if given); returns how many went."""
    state = LabState(lab)
    with locked(state):
        records = published(state)
        keep = [r for r in records if not (r["name"] == name.rstrip(".").lower() and value in (None, r["value"]))]
        _save(state, keep)
        return len(records) - len(keep)


def verify_domain(lab: str, service: str, progress: Progress = _quiet) -> dict:
    """AWS's StartVpcEndpointServicePrivateDnsVerification, done at once: check the TXT record, record
    verified or failed in the stored topology, re-plan, and sync every resolver. Returns the outcome."""
    with transaction(lab, progress) as txn:
        names = {p["service"]: p for p in txn.view.plan.get("private_dns_names", [])}
        if service not in names:
            raise LabInputError("SERVICE", f"service {service!r} has no private DNS name in lab {lab!r}",
                                f"use one of: {', '.join(names) or '(none: give a service private_dns_name)'}")
        pdn = names[service]
        found = [r["value"] for r in published(txn.state) if r["type"] == "TXT" and r["name"] == pdn["txt_name"]]
        result = verification_state(pdn["txt_value"], found)
        raw = edit.set_service_key(txn.raw, service, "private_dns_state", result)
        topo, plan = txn.validate(raw, "verify-domain")
        ctx = txn.context(plan)
        try:
            dns.sync(ctx)
        finally:
            ctx.close()
        txn.save(raw, topo, plan)
        progress(f"service {service}: private DNS name {pdn['name']} is {result}")
        return {"Service": service, "PrivateDnsName": pdn["name"], "State": result, "Type": "TXT",
                "Name": pdn["txt_name"], "Value": pdn["txt_value"], "Found": found}
