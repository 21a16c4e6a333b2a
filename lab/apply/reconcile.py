"""Apply a new plan to a live lab: do exactly the difference between the plan it runs and the new one.

Only what the control plane changes can change live: endpoint ENI legs (a veth into the consumer's
subnet bridge, with its routing table and `ip rule` inside the NLB node) and the nodes' HAProxy
configs (frontends, backends). A change to anything else (a VPC, an instance, an NLB node) is
refused before anything is touched: that needs `lab down` and `lab up`.

Order, because on AWS the data plane follows an endpoint's state at once:
  1. cut   - the node's end of every removed ENI leg goes down: one netlink message per leg, so no
             packet crosses from the moment the plan is known, new connections and established ones
             alike (HAProxy's old worker would keep serving established connections after a reload);
  2. stop  - a node losing frontends reloads without them, and we wait until they no longer listen;
  3. clear - the removed legs (and their rules) are deleted;
  4. wire  - new legs are created (journaled before, as in bring-up, so `lab down` removes them),
             brought up and announced (gratuitous ARP);
  5. guard - security groups follow the plan (lab.apply.firewall) before any new listener exists,
             so an accepted ENI is guarded from its first packet;
  6. start - nodes reload with their final config and we wait until every frontend listens;
  7. dns   - names follow the plan (lab.apply.dns): they appear only once what they point to answers.
Cutting before reloading (rather than reloading, then deleting the legs) keeps the reload, which
needs the container engine and HAProxy's restart of a worker, off the path that stops the traffic.
HAProxy's reloads are seamless (master-worker passes the listening sockets to the new worker), so
connections through the other endpoints of a node never notice.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import struct
import time
from dataclasses import dataclass, field

from pyroute2.netlink.exceptions import NetlinkError

from lab.apply import dns, firewall, idle, links, netns, nodes, rstcount
from lab.apply.context import ApplyContext
from lab.plan.model import Iface, NlbNode, Place, Plan, Rule, VethPair
from lab.topology.errors import LabInputError, LabSystemError

ENI_ROLE = "endpoint-eni"
RELEASE_TIMEOUT_S = 10.0
LINK_UP_TIMEOUT_S = 5.0


class ReconcileError(LabSystemError, RuntimeError):
    """The data plane could not be made to match the new plan (the message says where)."""


@dataclass
class ReconcileReport:
    removed_legs: list[str] = field(default_factory=list)
    added_legs: list[str] = field(default_factory=list)
    reloaded: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def reconcile(ctx: ApplyContext, old: dict) -> ReconcileReport:
    """Make the live lab, which runs the plan `old` (plan.json), run `ctx.plan` instead."""
    new = ctx.plan
    old_d, new_d = _plain(old), _plain(new.to_dict())
    refuse_structural_changes(old_d, new_d)
    for node in new.nodes:
        ctx.ns_path_of(node.container)  # resolves (and caches) each node's PID: the node may have been restarted

    removed, added = leg_changes(old_d, new)
    report = ReconcileReport([p.key for p in removed], [p.key for p in added])

    t0 = time.perf_counter()
    for pair in removed:
        _cut(ctx, pair)
    report.seconds["cut"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    _stop_removed_frontends(ctx, old_d, {_node_end(p).ifname for p in added}, report)
    report.seconds["stop"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    old_rules = [_rule_from_dict(r) for r in old_d["rules"]]
    for pair in removed:
        _delete_leg(ctx, pair, old_rules)
    report.seconds["clear"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    for pair in added:
        _delete_leg(ctx, pair, new.rules)  # a leftover of an interrupted command would block the name
        _create_leg(ctx, pair)
    report.seconds["wire"] = time.perf_counter() - t0

    # Security groups before listeners: an accepted ENI is guarded from its first packet.
    t0 = time.perf_counter()
    firewall.sync(ctx)
    rstcount.sync(ctx)  # the ENI legs' reset counters (CloudWatch's Rst metrics) follow the same legs
    idle.sync(ctx)  # new targets' flows get their listener's idle timeout
    report.seconds["guard"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stale = [node for node in new.nodes if _config_differs(ctx, node)]
    if stale:
        nodes.configure(ctx, stale)
        report.reloaded += [n.container for n in stale if n.container not in report.reloaded]
    report.seconds["start"] = time.perf_counter() - t0

    # Names last: they appear only once the listeners they point to answer, and go with them.
    t0 = time.perf_counter()
    dns.sync(ctx)
    report.seconds["dns"] = time.perf_counter() - t0
    return report


# -- what may change live ------------------------------------------------------------------------

def leg_changes(old: dict, new: Plan) -> tuple[list[VethPair], list[VethPair]]:
    """ENI legs to remove (from the old plan, as saved) and to add (from the new one). A leg whose
    definition changed is both: removed, then made anew."""
    old_legs = {v["key"]: v for v in _plain(old)["veths"] if v["role"] == ENI_ROLE}
    new_legs = {v.key: v for v in new.veths if v.role == ENI_ROLE}
    changed = {k for k in old_legs.keys() & new_legs.keys() if _plain(dataclasses.asdict(new_legs[k])) != old_legs[k]}
    removed = [_veth_from_dict(old_legs[k]) for k in sorted(old_legs.keys() - new_legs.keys() | changed)]
    added = [new_legs[k] for k in sorted(new_legs.keys() - old_legs.keys() | changed)]
    return removed, added


def _plain(data) -> dict:
    """Tuples become lists and dataclasses dicts, so a plan and its saved JSON compare equal."""
    return json.loads(json.dumps(data, default=str))


def _structure(plan: dict) -> dict:
    """Everything reconcile does not change: it must be the same in the old and the new plan."""
    eni_ifnames = {(_node_end_dict(v)["place"]["name"], _node_end_dict(v)["ifname"])
                   for v in plan["veths"] if v["role"] == ENI_ROLE}
    eni_ips = {_node_end_dict(v)["addresses"][0].split("/")[0] for v in plan["veths"] if v["role"] == ENI_ROLE}
    return {
        "namespaces": plan["namespaces"],
        "bridges": plan["bridges"],
        "links": [v for v in plan["veths"] if v["role"] != ENI_ROLE],
        "routes": [r for r in plan["routes"] if (r["place"]["name"], r["dev"]) not in eni_ifnames],
        "rules": [r for r in plan["rules"] if r["src"] not in eni_ips],
        "apps": plan["apps"],
        "nodes": [{k: n[k] for k in ("container", "nlb", "az", "provider_ip", "sysctls")} for n in plan["nodes"]],
    }


def refuse_structural_changes(old: dict, new: dict) -> None:
    """Bad input (exit 2, nothing touched) if the plans differ in anything but endpoints and NLB settings."""
    before, after = _structure(old), _structure(new)
    for part in before:
        if before[part] != after[part]:
            raise LabInputError("topology", f"the change touches the lab's {part}, which cannot change while it runs "
                                "(only endpoints and NLB settings change live)",
                                "apply it with `lab down` and `lab up`")


# -- plan objects from plan.json -----------------------------------------------------------------

def _place(d: dict) -> Place:
    return Place(d["kind"], d["name"])


def _iface(d: dict) -> Iface:
    return Iface(_place(d["place"]), d["ifname"], tuple(d["addresses"]), d.get("master"), d.get("noprefixroute", False))


def _veth_from_dict(d: dict) -> VethPair:
    return VethPair(d["key"], d["role"], _iface(d["a"]), _iface(d["b"]), tuple(d["tmp"]), d["alias"], d.get("mtu"))


def _rule_from_dict(d: dict) -> Rule:
    return Rule(_place(d["place"]), d["src"], d["table"], d["priority"])


def _node_end_dict(v: dict) -> dict:
    return v["a"] if v["a"]["place"]["kind"] == "container" else v["b"]


def _node_end(pair: VethPair) -> Iface:
    return pair.a if pair.a.place.kind == "container" else pair.b


def _leg_ip(pair: VethPair) -> str:
    return _node_end(pair).addresses[0].split("/")[0]


# -- the four phases -----------------------------------------------------------------------------

def _stop_removed_frontends(ctx: ApplyContext, old: dict, new_ifnames: set[str], report: ReconcileReport) -> None:
    """Reload every node that loses a frontend, with the frontends it keeps (new legs do not exist yet)."""
    before = {n["container"]: {(f["ip"], f["port"], f["iface"]) for f in n["frontends"]} for n in old["nodes"]}
    reloaded: list[tuple[NlbNode, set[tuple[str, int]]]] = []
    for node in ctx.plan.nodes:
        keep = {(f.ip, f.port, f.iface) for f in node.frontends}
        gone = {(ip, port) for ip, port, iface in before.get(node.container, set()) - keep}
        if not gone:
            continue
        interim = dataclasses.replace(node, frontends=tuple(f for f in node.frontends if f.iface not in new_ifnames))
        nodes.write_config(ctx, interim)
        ctx.runtime.reload(node.container)
        reloaded.append((node, gone))
        report.reloaded.append(node.container)
    for node, gone in reloaded:
        nodes.wait_released(ctx, node, sorted(gone), RELEASE_TIMEOUT_S)


def _cut(ctx: ApplyContext, pair: VethPair) -> None:
    """Set the node's end of a leg down (if it is there and ours): its peer on the consumer's bridge
    loses carrier at once, and with it every frame to and from the ENI."""
    end = _node_end(pair)
    try:
        ipr = ctx.netlink(end.place)
    except (OSError, RuntimeError):
        return  # the node is gone, and the leg with it
    for idx in ipr.link_lookup(ifname=end.ifname):
        if ipr.get_links(idx)[0].get_attr("IFLA_IFALIAS") == pair.alias:
            ipr.link("set", index=idx, state="down")


def _delete_leg(ctx: ApplyContext, pair: VethPair, rules: list[Rule]) -> None:
    """Delete the pair (wherever an end carries our alias) and the node's rule for its address."""
    node_end = _node_end(pair)
    ip = _leg_ip(pair)
    for rule in rules:
        if rule.place == node_end.place and rule.src == ip:
            try:
                ctx.netlink(rule.place).rule("del", src=rule.src, src_len=32, table=rule.table, priority=rule.priority)
            except NetlinkError as err:
                if err.code != 2:  # ENOENT: already gone, which is what we want
                    raise
    for end, tmp in ((pair.a, pair.tmp[0]), (pair.b, pair.tmp[1])):
        try:
            ipr = ctx.netlink(end.place)
        except (OSError, RuntimeError):
            continue  # that namespace is gone, and the link with it
        # A temporary name is unique to this lab and leg (it has no alias yet); a final name is ours
        # only if it carries our alias.
        for name, must_match_alias in ((end.ifname, True), (tmp, False)):
            for idx in ipr.link_lookup(ifname=name):
                if must_match_alias and ipr.get_links(idx)[0].get_attr("IFLA_IFALIAS") != pair.alias:
                    continue  # same name, not ours: never touch it
                try:
                    ipr.link("del", index=idx)  # its peer goes with it
                except NetlinkError as err:
                    if err.code != 19:  # ENODEV: the peer's deletion took it already
                        raise
                return


def _create_leg(ctx: ApplyContext, pair: VethPair) -> None:
    node_end = _node_end(pair)
    ip = _leg_ip(pair)
    try:
        links.create_veth(ctx, pair)  # journals the pair first; deletes it again if any step fails
        for route in ctx.plan.routes:
            if route.place == node_end.place and route.dev == node_end.ifname:
                links.add_route(ctx, route)
        for rule in ctx.plan.rules:
            if rule.place == node_end.place and rule.src == ip:
                links.add_rule(ctx, rule)
        _wait_up(ctx, pair)
        announce(ctx, node_end, ip)
    except (OSError, NetlinkError, RuntimeError) as err:
        _delete_leg(ctx, pair, ctx.plan.rules)
        raise ReconcileError(f"could not make ENI leg {node_end.ifname} ({pair.key}) in {node_end.place}: {err}") from err


def _wait_up(ctx: ApplyContext, pair: VethPair, timeout: float = LINK_UP_TIMEOUT_S) -> None:
    """Wait until both ends are operationally up. The kernel applies a veth's carrier, and the bridge
    lets its port forward, from its link-watch work, up to a second after the link was set up; a
    frame sent before that (the first SYN, our announcement) is dropped at the bridge."""
    deadline = time.monotonic() + timeout
    for end in (pair.a, pair.b):
        ipr = ctx.netlink(end.place)
        idx = links.index(ipr, end.ifname)
        while ipr.get_links(idx)[0].get_attr("IFLA_OPERSTATE") != "UP":
            if time.monotonic() > deadline:
                raise ReconcileError(f"ENI leg {end.ifname} in {end.place} is not up {timeout:.0f} s after creation")
            time.sleep(0.005)


def announce(ctx: ApplyContext, end: Iface, ip: str) -> None:
    """Send one gratuitous ARP for `ip` from a new leg, now that both of its ends are up.

    A client that tried the address before it existed holds a FAILED neighbour entry and gets "No
    route to host" for seconds; the announcement updates that entry at once (as a cloud ENI's
    attachment does). The kernel's own arp_notify would fire when the node's end comes up, which is
    before its peer on the bridge is, so it would go nowhere. No netlink message sends an ARP frame:
    a raw packet socket opened inside the node's namespace does.
    """
    ipr = ctx.netlink(end.place)
    mac = bytes.fromhex(ipr.get_links(links.index(ipr, end.ifname))[0].get_attr("IFLA_ADDRESS").replace(":", ""))
    addr = socket.inet_aton(ip)
    # Ethernet broadcast, ARP request (op 1) whose sender and target are both the announced address.
    frame = b"\xff" * 6 + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + addr + b"\x00" * 6 + addr
    with netns.entered(ctx.ns_path(end.place)):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    with sock:
        sock.bind((end.ifname, 0))
        sock.send(frame)


def _config_differs(ctx: ApplyContext, node: NlbNode) -> bool:
    from lab.apply.haproxy import CONFIG_NAME, render

    path = ctx.state.node_dir(node.container) / "etc" / CONFIG_NAME
    return not path.exists() or path.read_text() != render(node)

