"""The NLB's TCP idle timeout, as AWS has it: a listener's `tcp.idle_timeout.seconds` (60-6000 s, 350 s
by default). AWS tracks every flow; one that carries no data either way for that long is forgotten
without a word, and the next packet either side sends meets a TCP reset.

HAProxy alone cannot do this: on its timeout it closes both sockets with a FIN, a clean close the client
would never see on AWS. So the node's kernel keeps the flow table, as Hyperplane does. One nftables table
per node (`plidle`, from templates/idle-timeout.nft.j2) gives each flow a conntrack timeout object by its
first packet (a client's SYN to a listener's port; HAProxy's SYN to a target), resets a late packet of a
forgotten flow, and drops HAProxy's own late FIN or data. HAProxy's `timeout client`/`timeout server` run
HAPROXY_GRACE_S longer, so HAProxy lets its sockets go only after the kernel has forgotten the flow.

What differs from AWS: HAProxy does not forward TCP keepalives, so a keepalive refreshes only its own
side's flow (docs/idle-timeout.md).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from lab.apply import templates
from lab.apply.context import ApplyContext
from lab.apply.firewall import FirewallError, nft
from lab.plan.model import NlbNode

TABLE = "plidle"
TEMPLATE = "idle-timeout.nft.j2"
HAPROXY_GRACE_S = 10


def rules_of(node: NlbNode) -> tuple[list[int], list[tuple[int, list[int]]], list[tuple[int, list[str]]]]:
    """(timeout objects, [(seconds, listener ports)], [(seconds, ["ip . port" of targets])]) of one node."""
    ports: dict[int, set[int]] = defaultdict(set)
    for fe in node.frontends:
        ports[fe.idle_timeout_s].add(fe.port)
    dests: dict[int, set[tuple[str, int]]] = defaultdict(set)
    for be in node.backends:
        for server in be.servers:
            dests[be.idle_timeout_s].add((server.ip, server.port))
    timeouts = sorted(set(ports) | set(dests))
    return (timeouts, [(t, sorted(ports[t])) for t in sorted(ports)],
            [(t, [f"{ip} . {port}" for ip, port in sorted(dests[t])]) for t in sorted(dests)])


def _exists(ns_path: str | Path) -> bool:
    try:
        nft(ns_path, ["list", "table", "inet", TABLE])
        return True
    except FirewallError:
        return False


def sync(ctx: ApplyContext) -> None:
    """Every running NLB node forgets idle flows after its listeners' idle timeouts (ctx.plan)."""
    plan = ctx.plan
    journaled = {(e["container"], e["name"]) for e in ctx.state.journal.entries() if e["kind"] == "nft-table"}
    for node in plan.nodes:
        if not node.frontends and not node.backends:
            continue
        ns_path = ctx.ns_path_of(node.container)
        timeouts, listeners, targets = rules_of(node)
        if (node.container, TABLE) not in journaled:
            ctx.state.journal.record("nft-table", container=node.container, family="inet", name=TABLE)
        nft(ns_path, ["-f", "-"], stdin=templates.render(
            TEMPLATE, lab=plan.lab, node=node.container, table=TABLE, fresh=not _exists(ns_path),
            timeouts=timeouts, listeners=listeners, targets=targets))

