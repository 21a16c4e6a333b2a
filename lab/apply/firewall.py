"""Security groups on endpoint ENIs: stateful nftables rules with counters, in each NLB node's namespace.

Where they are enforced: at the ENI itself, i.e. in the NLB node's namespace on the `eni-...` leg
(family `inet`, hook `input`). Not on the consumer router's bridge port, because
- a security group is stateful, and conntrack in the `bridge` family needs the nf_conntrack_bridge
  module, which kernels such as this project's CI machine do not have (no modules there); the
  `inet` family uses the namespace's ordinary conntrack, present wherever Docker runs;
- the ENI's address lives in this namespace, so a rule reads as on AWS: source CIDR -> ENI port;
- the namespace belongs to the lab's own NLB node container, so the table vanishes with it.

How: one table per node (`plsg_enis`) whose only base chain looks the packet's input leg up in a
map and jumps to that ENI's own chain (named after the leg), rendered from
templates/security-group-chain.nft.j2. One lookup per packet, however many ENIs the node holds:
a base chain per ENI, as this module first made, had every packet walk all of them (measured with
200: +15 us per round trip). Every change of a node - chains added, replaced (flush + rules) or
removed, map entries, older per-ENI tables - goes into one file (templates/security-groups.nft.j2)
loaded by one `nft -f`, which nft applies as ONE transaction. pyroute2's nftables module cannot do
this (no conntrack-state, port or counter expressions, no batched transaction), hence `nft`. A map
entry names the interface, so it can be (and is) loaded before its leg exists: when an endpoint is
accepted, its ENI is guarded from the first packet. Only a chain whose text changed is replaced,
so a sync keeps every other ENI's counters.

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
from lab.apply.live import LiveLab
from lab.plan.security import NODE_TABLE, TABLE_PREFIX, EniGuard, SecurityGroupPlan
from lab.state.store import LabState
from lab.topology.errors import LabInputError, LabSystemError

TEMPLATE = "security-groups.nft.j2"
CHAIN_TEMPLATE = "security-group-chain.nft.j2"
NFT_TIMEOUT_S = 10
DENY_PREFIX = "deny "


class FirewallError(LabSystemError, RuntimeError):
    """nft refused a ruleset or could not run (the message carries nft's own words)."""


def rule_comment(group_id: str, index: int) -> str:
    return f"{group_id} ingress[{index}]"


def render(lab: str, guard: EniGuard, groups: dict[str, SecurityGroupPlan]) -> str:
    """The ENI's chain. Rules of all its groups are OR-ed (any group allowing a packet lets it in), as on AWS."""
    rules = [{"cidr": rule.cidr, "ports": rule.port_text, "comment": rule_comment(gid, k)}
             for gid in guard.groups for k, rule in enumerate(groups[gid].ingress)]
    return templates.render(CHAIN_TEMPLATE, lab=lab, guard=guard, rules=rules, deny_comment=DENY_PREFIX + guard.eni_id)


def node_transaction(lab: str, node: str, *, fresh: bool, stale_tables: list[str], removed: list[str],
                     changed: list[dict]) -> str:
    """One node's change as one nft file: `changed` items are {guard, text (its chain), new (no chain yet)}."""
    return templates.render(TEMPLATE, lab=lab, node=node, table=NODE_TABLE, fresh=fresh, stale_tables=stale_tables,
                            removed=removed, changed=changed)


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


def _applied_dir(ctx: ApplyContext, node: str) -> Path:
    return ctx.state.dir / "firewall" / node  # <leg>.nft: the chain text each ENI has now


def sync(ctx: ApplyContext) -> None:
    """Make every NLB node's security group chains match ctx.plan: add, replace what changed, remove stale."""
    plan = ctx.plan
    groups = {g.id: g for g in plan.security_groups}
    wanted: dict[str, dict[str, tuple[EniGuard, str]]] = {node.container: {} for node in plan.nodes}
    for guard in plan.eni_guards:
        wanted.setdefault(guard.node, {})[guard.ifname] = (guard, render(plan.lab, guard, groups))
    journaled = {(e["container"], e["name"]) for e in ctx.state.journal.entries() if e["kind"] == "nft-table"}
    for node, chains in wanted.items():
        ns_path = ctx.ns_path_of(node)
        live = live_tables(ns_path)
        # Tables of ours the plan no longer has: an older layout's, or the node table when no ENI is left.
        stale_tables = sorted(t for t in live if t != NODE_TABLE or not chains)
        folder = _applied_dir(ctx, node)
        fresh = NODE_TABLE not in live
        if (fresh or not chains) and folder.exists():
            for path in folder.glob("*.nft"):
                path.unlink()  # texts of a table that is gone, or is going
        if not chains:
            if stale_tables:
                nft(ns_path, ["-f", "-"], stdin="".join(f"delete table inet {t}\n" for t in stale_tables))
            continue
        before = {p.stem: p.read_text() for p in folder.glob("*.nft")} if folder.exists() else {}
        changed = [{"guard": guard, "text": text, "new": leg not in before}
                   for leg, (guard, text) in chains.items() if before.get(leg) != text]
        removed = sorted(leg for leg in before if leg not in chains)
        if not (fresh or stale_tables or changed or removed):
            continue  # unchanged: keep every counter
        if (node, NODE_TABLE) not in journaled:
            ctx.state.journal.record("nft-table", container=node, family="inet", name=NODE_TABLE)
        nft(ns_path, ["-f", "-"], stdin=node_transaction(plan.lab, node, fresh=fresh, stale_tables=stale_tables,
                                                          removed=removed, changed=changed))
        folder.mkdir(parents=True, exist_ok=True)
        for item in changed:
            (folder / f"{item['guard'].ifname}.nft").write_text(item["text"])
        for leg in removed:
            (folder / f"{leg}.nft").unlink()


# -- reading the counters (lab sg show, lab verify) ----------------------------------------------

def parse_counters(listing: dict, chain: str | None = None) -> dict:
    """From `nft -j list table`: packets/bytes per rule comment (`sg-... ingress[k]`, `deny eni-...`),
    of one chain's rules (one ENI's: two ENIs with the same group have the same comments) or all."""
    out: dict[str, dict[str, int]] = {}
    for item in listing.get("nftables", []):
        rule = item.get("rule")
        if not rule or "comment" not in rule or (chain is not None and rule.get("chain") != chain):
            continue
        counter = next((e["counter"] for e in rule.get("expr", []) if isinstance(e, dict) and "counter" in e), None)
        if counter is not None:
            out[rule["comment"]] = {"packets": int(counter["packets"]), "bytes": int(counter["bytes"])}
    return out


def guard_counters(plan: dict, ns_path_of: Callable[[str], str | Path | None]) -> list[dict]:
    """Every ENI guard of a saved plan (plan.json) with its rules' hit counters and its drop counter.

    `ns_path_of(container)` gives a node's namespace path, or None when the node is not running.
    An ENI whose chain is missing reports `enforced: False` (and no counters).
    """
    groups = {g["id"]: g for g in plan.get("security_groups", [])}
    listings: dict[tuple[str, str], dict | None] = {}  # one `nft -j list table` per node
    out = []
    for guard in plan.get("eni_guards", []):
        key = (guard["node"], guard["table"])
        if key not in listings:
            ns_path = ns_path_of(guard["node"])
            try:
                listings[key] = json.loads(nft(ns_path, ["-j", "list", "table", "inet", guard["table"]])) \
                    if ns_path is not None else None
            except FirewallError:
                listings[key] = None  # no such table
        counters = parse_counters(listings[key], guard["ifname"]) if listings[key] is not None else None
        counters = counters or None  # the ENI's chain has at least its counted drop, when it exists
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


def read(lab: str, endpoint: str | None = None) -> list[dict]:
    """guard_counters() for a lab that is up, by name (of one endpoint's ENIs, by its name or ID):
    what `lab sg show` and `lab verify` read."""
    live = LiveLab(LabState(lab))
    guards = guard_counters(live.plan, live.node_ns_path)
    if endpoint is None:
        return guards
    chosen = [g for g in guards if endpoint in (g["Endpoint"], g["VpcEndpointId"])]
    if not chosen:
        raise LabInputError("--endpoint", f"no endpoint {endpoint!r} in lab {lab!r}",
                            f"use one of: {', '.join(sorted({g['Endpoint'] for g in guards})) or '(none)'}")
    return chosen
