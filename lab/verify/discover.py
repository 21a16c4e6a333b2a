"""Which of a lab's places are missing, and which of their interfaces the plan never made (where
the places are is lab.apply.live's answer).

An interface nobody planned (a veth someone added by hand between two VPCs, say) is exactly
how a real leak would look, so every lab namespace and NLB node is listed, and anything that is
not loopback, not a planned veth end and not a planned bridge is captured too, as `unplanned`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lab.apply import netns
from lab.apply.live import LiveLab
from lab.plan.links import Link, planned_ends, unplanned_link


def link_path(live: LiveLab) -> Callable[[Link], Path]:
    """The namespace file to capture a link in (for lab.verify.capture)."""
    return lambda link: live.ns_path(link.place_kind, link.place)


def missing_places(plan: dict, live: LiveLab) -> list[str]:
    """Namespaces and NLB nodes of the plan that do not exist (a lab that is only half there)."""
    missing = [f"namespace {ns['name']}" for ns in plan["namespaces"] if not netns.exists(ns["name"])]
    missing += [f"NLB node {n['container']}" for n in plan["nodes"] if live.node_pid(n["container"]) is None]
    return missing


def unplanned_links(plan: dict, live: LiveLab) -> list[Link]:
    """Interfaces found in the lab's namespaces that the plan does not account for."""
    ends = planned_ends(plan)
    vpc_of = {ns["name"]: ns["vpc"] for ns in plan["namespaces"]}
    places = [("netns", ns["name"]) for ns in plan["namespaces"]]
    places += [("container", n["container"]) for n in plan["nodes"]]
    found = []
    for kind, name in places:
        try:
            ipr = netns.netlink(live.ns_path(kind, name))
        except (OSError, FileNotFoundError):
            continue  # reported by missing_places
        try:
            for msg in ipr.get_links():
                ifname = msg.get_attr("IFLA_IFNAME")
                info = msg.get_attr("IFLA_LINKINFO")
                link_kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
                if ifname == "lo" or (kind, name, ifname) in ends:
                    continue
                found.append(unplanned_link(kind, name, ifname, link_kind, vpc_of.get(name)))
        finally:
            ipr.close()
    return found


def far_macs(links: list[Link], live: LiveLab) -> dict[str, str]:
    """The MAC address of each link's far end (instance eth0, node leg, peer router).

    A bridge floods a frame whose destination it has not learned (its table ages out after 300 s
    of silence) to every port of the subnet; such a copy reaches the other ports' interfaces but
    is dropped there, as it is not addressed to them. Knowing each far end's MAC lets the ledger
    tell those copies from traffic that really went to the link's far end.
    """
    macs: dict[str, str] = {}
    sockets: dict[tuple[str, str], object] = {}
    try:
        for link in links:
            if not link.far_place:
                continue
            key = (link.far_place_kind, link.far_place)
            if key not in sockets:
                try:
                    sockets[key] = netns.netlink(live.ns_path(*key))
                except (OSError, FileNotFoundError):
                    sockets[key] = None
            ipr = sockets[key]
            if ipr is None:
                continue
            for msg in ipr.get_links(ifname=link.far_ifname):
                mac = msg.get_attr("IFLA_ADDRESS")
                if mac:
                    macs[link.name] = mac.lower()
    finally:
        for ipr in sockets.values():
            if ipr is not None:
                ipr.close()
    return macs

