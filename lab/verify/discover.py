"""Where a lab's namespaces are right now, and which of their interfaces the plan never made.

An interface nobody planned (a veth someone added by hand between two VPCs, say) is exactly
how a real leak would look, so every lab namespace and NLB node is listed, and anything that is
not loopback, not a planned veth end and not a planned bridge is captured too, as `unplanned`.
"""

from __future__ import annotations

from pathlib import Path

from lab.apply import netns
from lab.plan.links import Link, planned_ends, unplanned_link


class NamespacePaths:
    """Namespace files of a lab: /run/netns/<name>, or /proc/<pid>/ns/net for an NLB node."""

    def __init__(self, plan: dict):
        self.plan = plan
        self._pids: dict[str, int] = {}
        self._runtime = None
        self._asked = False

    def container_pid(self, name: str) -> int | None:
        if name in self._pids:
            return self._pids[name]
        pid = None
        runtime = self._engine()
        if runtime is not None:
            pid = runtime.pid(name)
        if pid is None:  # no engine to ask: the PID bring-up recorded, if that process still runs
            pid = self.plan.get("container_pids", {}).get(name)
        if pid is not None and not Path(f"/proc/{pid}/ns/net").exists():
            pid = None
        if pid is not None:
            self._pids[name] = pid
        return pid

    def _engine(self):
        if not self._asked:
            self._asked = True
            try:
                from lab.apply.runtime.base import RuntimeUnavailable
                from lab.apply.runtime.docker import DockerRuntime

                runtime = DockerRuntime()
                runtime.check()
                self._runtime = runtime
            except (ImportError, RuntimeUnavailable):
                self._runtime = None
        return self._runtime

    def path(self, place_kind: str, place: str) -> Path:
        if place_kind == "netns":
            return netns.netns_path(place)
        pid = self.container_pid(place)
        if pid is None:
            raise FileNotFoundError(f"NLB node container {place} is not running")
        return Path(f"/proc/{pid}/ns/net")

    def of_link(self, link: Link) -> Path:
        return self.path(link.place_kind, link.place)


def missing_places(plan: dict, paths: NamespacePaths) -> list[str]:
    """Namespaces and NLB nodes of the plan that do not exist (a lab that is only half there)."""
    missing = [f"namespace {ns['name']}" for ns in plan["namespaces"] if not netns.exists(ns["name"])]
    missing += [f"NLB node {n['container']}" for n in plan["nodes"] if paths.container_pid(n["container"]) is None]
    return missing


def unplanned_links(plan: dict, paths: NamespacePaths) -> list[Link]:
    """Interfaces found in the lab's namespaces that the plan does not account for."""
    ends = planned_ends(plan)
    vpc_of = {ns["name"]: ns["vpc"] for ns in plan["namespaces"]}
    places = [("netns", ns["name"]) for ns in plan["namespaces"]]
    places += [("container", n["container"]) for n in plan["nodes"]]
    found = []
    for kind, name in places:
        try:
            ipr = netns.netlink(paths.path(kind, name))
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


def far_macs(links: list[Link], paths: NamespacePaths) -> dict[str, str]:
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
                    sockets[key] = netns.netlink(paths.path(*key))
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

