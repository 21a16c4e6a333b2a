"""Security groups on endpoint ENIs: stateful nftables rules with counters, in each NLB node's namespace.

Where they are enforced: at the ENI itself, i.e. in the NLB node's namespace on the `eni-...` leg
(family `inet`, hook `input`, `iifname "eni-..."`). Not on the consumer router's bridge port, because
- a security group is stateful, and conntrack in the `bridge` family needs the nf_conntrack_bridge
  module, which kernels such as this project's CI machine do not have (no modules there); the
  `inet` family uses the namespace's ordinary conntrack, present wherever Docker runs;
- the ENI's address lives in this namespace, so a rule reads as on AWS: source CIDR -> ENI port;
- the namespace belongs to the lab's own NLB node container, so the tables vanish with it.

How: one table per ENI (`plsg_<leg>`), rendered from templates/security-groups.nft.j2; every
changed or stale table of a node goes into one file loaded with one `nft -f` inside the namespace.
Each table's text adds, deletes and re-creates it, and nft applies the whole file as ONE
transaction: a table is replaced atomically, never half there. pyroute2's
nftables module cannot do this (it has no conntrack-state, port or counter expressions and no
batched transaction), hence the `nft` command. A table is matched by interface name, so it can be
(and is) loaded before its leg exists: when an endpoint is accepted, its ENI is guarded from the
first packet. A table is only replaced when its text changes, so a sync that changes nothing keeps
the counters; a change to an ENI's groups resets that ENI's counters only.

Denied packets are dropped (no reset, no ICMP): the client sees no answer at all, and the ENI's
`deny` counter rises. `guard_counters()` reads every counter (`nft -j list table`) for `lab sg show`
and for `lab verify`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from lab.apply import netns, templates
from lab.apply.context import ApplyContext
from lab.plan.security import TABLE_PREFIX, EniGuard, SecurityGroupPlan

TEMPLATE = "security-groups.nft.j2"
NFT_TIMEOUT_S = 10
DENY_PREFIX = "deny "


class FirewallError(RuntimeError):
    """nft refused a ruleset or could not run (the message carries nft's own words)."""


def rule_comment(group_id: str, index: int) -> str:
    return f"{group_id} ingress[{index}]"


def render(lab: str, guard: EniGuard, groups: dict[str, SecurityGroupPlan]) -> str:
    """The ENI's table. Rules of all its groups are OR-ed (any group allowing a packet lets it in), as on AWS."""
    rules = [{"cidr": rule.cidr, "ports": rule.port_text, "comment": rule_comment(gid, k)}
             for gid in guard.groups for k, rule in enumerate(groups[gid].ingress)]
    return templates.render(TEMPLATE, lab=lab, guard=guard, rules=rules,
                                                deny_comment=DENY_PREFIX + guard.eni_id)


def nft(ns_path: str | Path, args: list[str], stdin: str | None = None) -> str:
    """Run `nft` inside a namespace (the child joins it before exec) and return its output."""
    try:
        done = subprocess.run(["nft", *args], input=stdin, capture_output=True, text=True, timeout=NFT_TIMEOUT_S,
                              preexec_fn=lambda: netns.enter_for_exec(ns_path), check=False)
    except FileNotFoundError:
        raise FirewallError("`nft` is not installed (Debian package nftables); run setup.sh install") from None
    if done.returncode != 0:
        raise FirewallError(f"nft {' '.join(args)} in {ns_path} failed: {done.stderr.strip()}")
    return done.stdout


def live_tables(ns_path: str | Path) -> set[str]:
    """The lab's security group tables in one namespace (only ours: the prefix is the mark)."""
    data = json.loads(nft(ns_path, ["-j", "list", "tables", "inet"]) or '{"nftables": []}')
    return {item["table"]["name"] for item in data["nftables"]
            if "table" in item and item["table"]["name"].startswith(TABLE_PREFIX)}


def _applied_path(ctx: ApplyContext, node: str, table: str) -> Path:
    return ctx.state.dir / "firewall" / node / f"{table}.nft"


def sync(ctx: ApplyContext) -> None:
    """Make every NLB node's security group tables match ctx.plan: create, replace what changed, delete stale."""
    plan = ctx.plan
    groups = {g.id: g for g in plan.security_groups}
    wanted: dict[str, dict[str, str]] = {node.container: {} for node in plan.nodes}
    for guard in plan.eni_guards:
        wanted.setdefault(guard.node, {})[guard.table] = render(plan.lab, guard, groups)
    journaled = {(e["container"], e["name"]) for e in ctx.state.journal.entries() if e["kind"] == "nft-table"}
    for node, tables in wanted.items():
        ns_path = ctx.ns_path_of(node)
        live = live_tables(ns_path)
        changed = {table: text for table, text in tables.items()
                   if not (table in live and _applied_path(ctx, node, table).exists()
                           and _applied_path(ctx, node, table).read_text() == text)}  # unchanged: keep counters
        stale = sorted(live - tables.keys())
        if not changed and not stale:
            continue
        for table in changed:
            if (node, table) not in journaled:
                ctx.state.journal.record("nft-table", container=node, family="inet", name=table)
        # One `nft -f` per node, one transaction for all of its tables: a lab of 200 ENIs on one node
        # loads in one process instead of 200 (measured at N = 200: 10.3 s -> 0.14 s).
        batch = "".join(changed.values()) + "".join(f"delete table inet {table}\n" for table in stale)
        nft(ns_path, ["-f", "-"], stdin=batch)
        for table, text in changed.items():
            applied = _applied_path(ctx, node, table)
            applied.parent.mkdir(parents=True, exist_ok=True)
            applied.write_text(text)
        for table in stale:
            _applied_path(ctx, node, table).unlink(missing_ok=True)


# -- reading the counters (lab sg show, lab verify) ----------------------------------------------

def parse_counters(listing: dict) -> dict:
    """From `nft -j list table`: packets/bytes per rule comment (`sg-... ingress[k]`, `deny eni-...`)."""
    out: dict[str, dict[str, int]] = {}
    for item in listing.get("nftables", []):
        rule = item.get("rule")
        if not rule or "comment" not in rule:
            continue
        counter = next((e["counter"] for e in rule.get("expr", []) if isinstance(e, dict) and "counter" in e), None)
        if counter is not None:
            out[rule["comment"]] = {"packets": int(counter["packets"]), "bytes": int(counter["bytes"])}
    return out


def guard_counters(plan: dict, ns_path_of: Callable[[str], str | Path | None]) -> list[dict]:
    """Every ENI guard of a saved plan (plan.json) with its rules' hit counters and its drop counter.

    `ns_path_of(container)` gives a node's namespace path, or None when the node is not running.
    An ENI whose table is missing reports `enforced: False` (and no counters).
    """
    groups = {g["id"]: g for g in plan.get("security_groups", [])}
    out = []
    for guard in plan.get("eni_guards", []):
        ns_path = ns_path_of(guard["node"])
        counters: dict[str, dict[str, int]] | None = None
        if ns_path is not None:
            try:
                counters = parse_counters(json.loads(nft(ns_path, ["-j", "list", "table", "inet", guard["table"]])))
            except FirewallError:
                counters = None  # no such table
        rules = []
        for gid in guard["groups"]:
            group = groups[gid]
            for k, rule in enumerate(group["ingress"]):
                hits = (counters or {}).get(rule_comment(gid, k), {"packets": 0, "bytes": 0})
                rules.append({"GroupId": gid, "GroupName": group["name"], "Rule": k, "Protocol": rule["protocol"],
                              "Cidr": rule["cidr"], "FromPort": rule["from_port"], "ToPort": rule["to_port"], **hits})
        dropped = (counters or {}).get(DENY_PREFIX + guard["eni_id"], {"packets": 0, "bytes": 0})
        out.append({"Endpoint": guard["endpoint"], "VpcEndpointId": guard["vpce_id"], "NetworkInterfaceId": guard["eni_id"],
                    "AvailabilityZone": guard["az"], "PrivateIpAddress": guard["ip"], "Node": guard["node"],
                    "Leg": guard["ifname"], "Table": guard["table"], "Live": guard["live"],
                    "Enforced": counters is not None, "Rules": rules, "Dropped": dropped})
    return out


def read(lab: str) -> list[dict]:
    """guard_counters() for a lab that is up, by name: what `lab verify` calls to see drops."""
    from lab.apply.api import runtime
    from lab.state.store import LabState

    plan = LabState(lab).load_plan()
    engine = runtime() if plan.get("nodes") else None

    def ns_path_of(container: str) -> str | None:
        pid = engine.pid(container) if engine is not None else None
        return f"/proc/{pid}/ns/net" if pid else None

    return guard_counters(plan, ns_path_of)
