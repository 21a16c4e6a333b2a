"""Counters of the TCP resets that leave an NLB node by an endpoint ENI's leg: what CloudWatch
publishes as RstPacketsReceived (per endpoint: the resets its ENIs received from the service) and
RstPacketsSent (per service: the resets it sent to endpoints).

One nftables table per node (`plrst`; not `plsg_`, whose stale tables lab.apply.firewall removes),
rendered from templates/rst-counters.nft.j2: an output-hook chain that sends a packet with RST set,
by one map lookup on its leg, to that leg's chain, whose one rule counts it. Resets HAProxy sends
(a target that resets, a client aborted) and those the node's kernel sends (a port nobody listens
on) both leave through the output hook. A sync adds and removes legs' chains one by one, so every
other leg keeps its count; the table goes with the node's namespace at `lab down`, and is journaled
as the security groups' tables are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from lab.apply import templates
from lab.apply.context import ApplyContext
from lab.apply.firewall import FirewallError, nft, parse_counters

TABLE = "plrst"
TEMPLATE = "rst-counters.nft.j2"
COMMENT_PREFIX = "rst "


def _listing(ns_path: str | Path) -> dict | None:
    try:
        return json.loads(nft(ns_path, ["-j", "list", "table", "inet", TABLE]))
    except FirewallError:
        return None  # no such table (yet)


def _live_legs(listing: dict | None) -> set[str]:
    if listing is None:
        return set()
    return {item["chain"]["name"] for item in listing.get("nftables", [])
            if "chain" in item and item["chain"]["name"] != "out"}


def sync(ctx: ApplyContext) -> None:
    """Every NLB node counts the resets of exactly its live ENI legs (ctx.plan's eni_guards)."""
    plan = ctx.plan
    wanted: dict[str, dict[str, str]] = {node.container: {} for node in plan.nodes}
    for guard in plan.eni_guards:
        if guard.live:
            wanted.setdefault(guard.node, {})[guard.ifname] = guard.eni_id
    journaled = {(e["container"], e["name"]) for e in ctx.state.journal.entries() if e["kind"] == "nft-table"}
    for node, legs in wanted.items():
        ns_path = ctx.ns_path_of(node)
        listing = _listing(ns_path)
        if listing is None and not legs:
            continue
        if not legs:
            nft(ns_path, ["-f", "-"], stdin=f"delete table inet {TABLE}\n")
            continue
        live = _live_legs(listing)
        added = sorted((leg, eni) for leg, eni in legs.items() if leg not in live)
        removed = sorted(leg for leg in live if leg not in legs)
        if listing is not None and not added and not removed:
            continue  # unchanged: every count goes on
        if (node, TABLE) not in journaled:
            ctx.state.journal.record("nft-table", container=node, family="inet", name=TABLE)
        nft(ns_path, ["-f", "-"], stdin=templates.render(TEMPLATE, lab=plan.lab, node=node, table=TABLE,
                                                           fresh=listing is None, removed=removed, added=added))


def read(plan: dict, ns_path_of: Callable[[str], str | Path | None]) -> dict[str, int]:
    """{ENI ID: resets sent through its leg} for every live ENI whose node runs (a saved plan)."""
    out: dict[str, int] = {}
    nodes = sorted({g["node"] for g in plan.get("eni_guards", []) if g.get("live", True)})
    for node in nodes:
        ns_path = ns_path_of(node)
        listing = _listing(ns_path) if ns_path is not None else None
        for comment, counter in (parse_counters(listing) if listing else {}).items():
            if comment.startswith(COMMENT_PREFIX):
                out[comment[len(COMMENT_PREFIX):]] = counter["packets"]
    return out


def read_lab(lab: str) -> dict[str, int]:
    """read() for a lab that is up, by name (the metrics sampler's source)."""
    from lab.apply.live import LiveLab
    from lab.state.store import LabState

    live = LiveLab(LabState(lab))
    return read(live.plan, live.node_ns_path)
