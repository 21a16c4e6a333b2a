"""Links, addresses, routes and rules, through pyroute2.

Veths follow containerlab's lifecycle (temporary names, placed by namespace fd, renamed and
configured inside, deleted on any failure) with one change: containerlab creates the pair in
the root namespace and then moves each end, but every move waits for an RCU grace period
(measured here: ~16 ms per move vs ~0.9 ms per create). So the create request itself carries
both namespace fds and the kernel places each end directly. A side effect we want anyway:
nothing of a lab ever appears in the root namespace, not even for a moment.
"""

from __future__ import annotations

import ipaddress
import os

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from lab.apply.context import ApplyContext
from lab.plan.model import Bridge, Iface, Route, Rule, VethPair

IFA_F_NOPREFIXROUTE = 0x200
RT_SCOPE_LINK = 253


def index(ipr: IPRoute, ifname: str) -> int:
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        raise RuntimeError(f"interface {ifname} not found")
    return found[0]


def add_addresses(ipr: IPRoute, idx: int, addresses: tuple[str, ...], noprefixroute: bool = False) -> None:
    for cidr in addresses:
        iface = ipaddress.IPv4Interface(cidr)
        ipr.addr("add", index=idx, address=str(iface.ip), prefixlen=iface.network.prefixlen,
                 flags=IFA_F_NOPREFIXROUTE if noprefixroute else 0)


def loopback_up(ipr: IPRoute) -> None:
    ipr.link("set", index=index(ipr, "lo"), state="up")


def create_bridge(ctx: ApplyContext, bridge: Bridge) -> None:
    ipr = ctx.netlink(bridge.place)
    ipr.link("add", ifname=bridge.ifname, kind="bridge", address=bridge.mac)
    idx = index(ipr, bridge.ifname)
    add_addresses(ipr, idx, bridge.addresses)
    # Set after creation, not in the create request: only a change through ndo_change_mtu marks the
    # MTU as the user's, which keeps a bridge from lowering itself to its smallest port (an 8500 ENI leg).
    ipr.link("set", index=idx, state="up", **({"mtu": bridge.mtu} if bridge.mtu else {}))


def create_veth(ctx: ApplyContext, pair: VethPair) -> None:
    ctx.state.journal.record("veth", key=pair.key, tmp=list(pair.tmp), alias=pair.alias,
                             ends=[[str(pair.a.place), pair.a.ifname], [str(pair.b.place), pair.b.ifname]])
    fd_a, fd_b = ctx.open_fd(pair.a.place), ctx.open_fd(pair.b.place)
    try:
        ctx.root.link("add", ifname=pair.tmp[0], kind="veth", net_ns_fd=fd_a,
                      peer={"ifname": pair.tmp[1], "net_ns_fd": fd_b})
    finally:
        os.close(fd_a)
        os.close(fd_b)
    try:
        for tmp, end in zip(pair.tmp, (pair.a, pair.b)):
            _configure_end(ctx, tmp, end, pair.alias, pair.mtu)
    except BaseException:
        _delete_pair(ctx, pair)
        raise


def _configure_end(ctx: ApplyContext, tmp: str, end: Iface, alias: str, mtu: int | None) -> None:
    ipr = ctx.netlink(end.place)
    idx = index(ipr, tmp)
    # The alias marks the link as ours (containerlab's ownership marker) for anyone inspecting it.
    settings: dict = {"ifname": end.ifname, "ifalias": alias, **({"mtu": mtu} if mtu else {})}
    if end.master:
        settings["master"] = index(ipr, end.master)
    ipr.link("set", index=idx, **settings)
    ctx.gso.apply(ipr, idx)
    add_addresses(ipr, idx, end.addresses, end.noprefixroute)
    ipr.link("set", index=idx, state="up")


def _delete_pair(ctx: ApplyContext, pair: VethPair) -> None:
    """Delete the pair wherever an end is now: under its temporary or final name, in its namespace.

    Both namespaces belong to this lab, and temporary names are unique to this lab and link, so
    a temporary name found there is ours; a final name is deleted only if it carries our alias.
    """
    for end, tmp in zip((pair.a, pair.b), pair.tmp):
        try:
            ipr = ctx.netlink(end.place)
        except (OSError, RuntimeError):
            continue  # its namespace is gone, and the pair with it
        for name, must_match_alias in ((tmp, False), (end.ifname, True)):
            for idx in ipr.link_lookup(ifname=name):
                if must_match_alias and ipr.get_links(idx)[0].get_attr("IFLA_IFALIAS") != pair.alias:
                    continue
                try:
                    ipr.link("del", index=idx)  # deleting one end deletes its peer
                except NetlinkError:
                    pass
                return


def add_route(ctx: ApplyContext, route: Route) -> None:
    ipr = ctx.netlink(route.place)
    spec: dict = {"dst": route.dst, "oif": index(ipr, route.dev), "table": route.table}
    if route.gateway:
        spec["gateway"] = route.gateway
    else:
        spec["scope"] = RT_SCOPE_LINK
    ipr.route("add", **spec)


def add_rule(ctx: ApplyContext, rule: Rule) -> None:
    ctx.netlink(rule.place).rule("add", src=rule.src, src_len=32, table=rule.table, priority=rule.priority)
