"""One request as an instance makes it: resolve a name with the instance's VPC resolver, then one HTTP
GET to the first address. The workshop's checks ask it "does this client, using this name, get an
answer, and from which target?"; the answer is observed, never read from the plan.

Both packets leave from inside the instance's namespace (lab.verify.traffic makes them; one query, one
connection, each with a timeout): a namespace the lab made, with no link out of the lab.
"""

from __future__ import annotations

import ipaddress


def _instance(plan: dict, name: str) -> dict:
    from lab.topology.errors import LabInputError

    for inst in plan["inventory"]["instances"]:
        if inst["Name"] == name:
            return inst
    names = ", ".join(i["Name"] for i in plan["inventory"]["instances"])
    raise LabInputError("--from", f"no instance {name!r} in lab {plan['lab']!r}", f"use one of: {names}")


def _resolver(plan: dict, netns: str) -> str | None:
    return next((r["ip"] for r in plan.get("resolvers", []) if netns in r["clients"] and r.get("enabled", True)), None)


def _is_address(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
        return True
    except ValueError:
        return False


def resolve(lab: str, instance: str, name: str, timeout: float = 1.0) -> dict:
    """An A query from `instance` to its VPC's resolver: {"Name", "Addresses" (in the resolver's order), "Error"}."""
    from lab.state.store import LabState

    plan = LabState(lab).load_plan()
    return _resolve(plan, _instance(plan, instance), name, timeout)


def _resolve(plan: dict, inst: dict, name: str, timeout: float = 1.0) -> dict:
    from lab.verify.flows import DnsSpec
    from lab.verify.traffic import dns_query

    resolver = _resolver(plan, inst["Netns"])
    if resolver is None:
        return {"Name": name, "Addresses": [], "Error": f"{inst['Name']}'s VPC has no resolver"}
    run = dns_query(DnsSpec(inst["Name"], inst["PrivateIpAddress"], inst["Netns"], "", resolver, name, "probe", "",
                            ()), timeout)
    error = run.error or (f"rcode {run.rcode}" if run.rcode else None)
    return {"Name": name, "Addresses": list(run.given), "Error": error}


def request(lab: str, instance: str, host: str, port: int = 80, timeout: float = 3.0) -> dict:
    """GET / from `instance` to `host` (a name or an address) on `port`, as the instance would.

    -> {"From", "Host", "Addresses", "Address", "Status", "AnsweredBy", "Tenant", "Error", "Milliseconds"}:
    AnsweredBy and Tenant come from the demo target's JSON answer (which instance served, as whom).
    """
    from lab.apply import netns
    from lab.state.store import LabState
    from lab.verify.traffic import http

    plan = LabState(lab).load_plan()
    inst = _instance(plan, instance)
    out = {"From": instance, "Host": host, "Addresses": [], "Address": None, "Status": None, "AnsweredBy": None,
           "Tenant": None, "Error": None, "Milliseconds": None}
    if _is_address(host):
        out["Addresses"] = [host]
    else:
        found = _resolve(plan, inst, host)  # the plan read once
        out["Addresses"] = found["Addresses"]
        if not found["Addresses"]:
            out["Error"] = f"{host} does not resolve from {instance} ({found['Error'] or 'no A record'})"
            return out
    out["Address"] = out["Addresses"][0]
    run = http(str(netns.netns_path(inst["Netns"])), inst["PrivateIpAddress"], out["Address"], port, timeout=timeout,
               host=None if _is_address(host) else host)
    out["Milliseconds"] = round(run.seconds * 1000, 1)
    if not run.ok:
        out["Error"] = run.error
        return out
    out["Status"] = run.status
    body = run.json() or {}
    out["AnsweredBy"], out["Tenant"] = body.get("instance"), body.get("tenant")
    return out
