"""Links, addresses, routes and rules, through pyroute2.

A veth follows containerlab's lifecycle: it is created in the root namespace under temporary
names (`plt<hash>`), marked as ours (IFLA_IFALIAS), moved into each side's namespace by file
descriptor, then renamed, addressed and brought up there. If any step fails the pair is deleted
wherever its ends are, so a failed bring-up leaves no half-link behind.
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
    ipr.link("add", ifname=bridge.ifname, kind="bridge")
    idx = index(ipr, bridge.ifname)
    add_addresses(ipr, idx, bridge.addresses)
    ipr.link("set", index=idx, state="up")


def create_veth(ctx: ApplyContext, pair: VethPair) -> None:
    ctx.state.journal.record("veth", key=pair.key, tmp=list(pair.tmp), alias=pair.alias,
                             ends=[[str(pair.a.place), pair.a.ifname], [str(pair.b.place), pair.b.ifname]])
    root = ctx.root
    root.link("add", ifname=pair.tmp[0], kind="veth", peer=pair.tmp[1])
    try:
        for tmp, end in zip(pair.tmp, (pair.a, pair.b)):
            idx = index(root, tmp)
            root.link("set", index=idx, ifalias=pair.alias)
            fd = ctx.open_fd(end.place)
            try:
                root.link("set", index=idx, net_ns_fd=fd)
            finally:
                os.close(fd)
        for tmp, end in zip(pair.tmp, (pair.a, pair.b)):
            _configure_end(ctx, tmp, end)
    except BaseException:
        _delete_pair(ctx, pair)
        raise


def _configure_end(ctx: ApplyContext, tmp: str, end: Iface) -> None:
    ipr = ctx.netlink(end.place)
    idx = index(ipr, tmp)
    settings: dict = {"ifname": end.ifname}
    if end.master:
        settings["master"] = index(ipr, end.master)
    ipr.link("set", index=idx, **settings)
    add_addresses(ipr, idx, end.addresses, end.noprefixroute)
    ipr.link("set", index=idx, state="up")


def _delete_pair(ctx: ApplyContext, pair: VethPair) -> None:
    """Delete the pair wherever an end is now (root under its temporary name, or a namespace)."""
    candidates = [(ctx.root, name) for name in pair.tmp]
    for end, tmp in zip((pair.a, pair.b), pair.tmp):
        try:
            ipr = ctx.netlink(end.place)
        except (OSError, RuntimeError):
            continue
        candidates += [(ipr, tmp), (ipr, end.ifname)]
    for ipr, name in candidates:
        for idx in ipr.link_lookup(ifname=name):
            link = ipr.get_links(idx)[0]
            if link.get_attr("IFLA_IFALIAS") == pair.alias:  # only ever delete what we marked
                try:
                    ipr.link("del", index=idx)
                except NetlinkError:
                    pass  # its peer's deletion took it already
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
