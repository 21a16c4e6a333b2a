"""Link impairments on both ends of a veth: tbf for rate, netem for delay, jitter and loss.

tbf is in every kernel here; netem is not (CI's kernel has none), so it is probed once on a
throwaway veth and a lab that asks for delay or loss without it is refused before anything is
created or changed. With both, netem is the root qdisc and tbf its child, as tc-netem(8) shows:
packets are delayed first, then paced. qdiscs live and die with their veth: `lab down` needs
nothing extra, and the live settings are kept in the state folder's `links.json`.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from lab.apply import netns
from lab.plan.impair import End, LinkImpairment
from lab.plan.model import Place
from lab.topology.errors import LabInputError, LabSystemError

ROOT = 0x10000  # handle 1:
NETEM_CHILD = 0x10001  # class 1:1 of a netem root, where tbf hangs
TBF_HANDLE = 0x100000  # handle 10:
QUEUE_LATENCY = "50ms"  # how long tbf may queue before it drops: a shallow buffer, like a provisioned link
MIN_BURST = 16 * 1024
NETEM_MISSING_FIX = ("use a kernel with netem (CONFIG_NET_SCH_NETEM; on Debian/Ubuntu the stock kernel's sch_netem "
                     "module, `modprobe sch_netem`), or ask only for --rate (tbf)")

NsPath = Callable[[Place], Path]


class LinkError(LabSystemError):
    """A link end could not be shaped: it is gone, or the kernel refused the qdisc."""


def _burst(rate_bps: int) -> int:
    """tbf's bucket: 10 ms of traffic, at least 16 KiB (it must hold one whole packet; GSO ones are split)."""
    return max(MIN_BURST, rate_bps // 8 // 100)


def netem_missing() -> str | None:
    """Why netem cannot be used here (None: it can), tried on a veth in a namespace made for the test."""
    name = f"pl-netem-{secrets.token_hex(3)}"  # no "." in it: never a lab's namespace (as `lab doctor`'s)
    netns.create(name)
    try:
        with netns.netlink(netns.netns_path(name)) as ipr:
            ipr.link("add", ifname="probe0", kind="veth", peer="probe1")
            idx = ipr.link_lookup(ifname="probe0")[0]
            try:
                ipr.tc("add", "netem", idx, handle=ROOT, delay=1000)
            except NetlinkError as err:
                if err.code in (errno.ENOENT, errno.EOPNOTSUPP):
                    return "this kernel has no netem qdisc (sch_netem)"
                return f"the kernel refused a netem qdisc ({os.strerror(err.code)})"
            return None
    finally:
        netns.remove(name)


def require_netem(impairments: Iterable[LinkImpairment], path: str) -> None:
    """Refuse (exit 2, nothing changed) when an impairment needs netem and this kernel has none."""
    wanting = [imp.link for imp in impairments if imp.needs_netem]
    if not wanting:
        return
    why = netem_missing()
    if why is not None:
        raise LabInputError(path, f"delay, jitter and loss need netem, and {why} (asked for on {wanting[0]})",
                            NETEM_MISSING_FIX)


def clear_end(ipr: IPRoute, idx: int) -> None:
    try:
        ipr.tc("del", index=idx, root=True)
    except NetlinkError as err:
        if err.code not in (errno.ENOENT, errno.EINVAL):  # nothing was there: the kernel's default qdisc
            raise


def set_end(ipr: IPRoute, idx: int, imp: LinkImpairment) -> None:
    clear_end(ipr, idx)
    tbf = {"rate": f"{imp.rate_bps}bit", "burst": _burst(imp.rate_bps or 0), "latency": QUEUE_LATENCY}
    if imp.needs_netem:
        ipr.tc("add", "netem", idx, handle=ROOT, delay=imp.delay_us or 0, jitter=imp.jitter_us or 0,
               loss=imp.loss_pct or 0)
        if imp.rate_bps is not None:
            ipr.tc("add", "tbf", idx, parent=NETEM_CHILD, handle=TBF_HANDLE, **tbf)
    elif imp.rate_bps is not None:
        ipr.tc("add", "tbf", idx, handle=ROOT, **tbf)


def qdiscs_of_end(ipr: IPRoute, idx: int) -> list[str]:
    """The qdisc kinds on one end, root first, as the kernel reports them (read back, not remembered)."""
    found = [(q["parent"], q.get_attr("TCA_KIND")) for q in ipr.get_qdiscs(idx)]
    return [kind for parent, kind in sorted(found, key=lambda pk: pk[0] != 0xFFFFFFFF) if kind not in ("noqueue",)]


def _each_end(ends: Iterable[End], ns_path: NsPath, action: Callable[[IPRoute, int], object]) -> list:
    out = []
    for end in ends:
        with netns.netlink(ns_path(end.place)) as ipr:
            found = ipr.link_lookup(ifname=end.ifname)
            if not found:
                raise LinkError(f"{end.ifname} is not in {end.place.kind} {end.place.name}",
                                fix="the lab is not as its plan says: see `lab status`")
            try:
                out.append(action(ipr, found[0]))
            except NetlinkError as err:
                raise LinkError(f"the kernel refused a qdisc on {end.ifname} in {end.place.kind} {end.place.name}: "
                                f"{os.strerror(err.code)}", fix="check `lab doctor`") from err
    return out


def apply(imp: LinkImpairment, ns_path: NsPath) -> None:
    _each_end(imp.ends, ns_path, lambda ipr, idx: set_end(ipr, idx, imp))


def clear(imp: LinkImpairment, ns_path: NsPath) -> None:
    _each_end(imp.ends, ns_path, clear_end)


def read(ends: tuple[End, End], ns_path: NsPath) -> list[list[str]]:
    return _each_end(ends, ns_path, qdiscs_of_end)


class LiveImpairments:
    """`links.json` in the state folder: the link name -> its settings, as last applied."""

    def __init__(self, state_dir: Path):
        self.file = state_dir / "links.json"

    def load(self) -> dict[str, dict[str, str]]:
        return json.loads(self.file.read_text()) if self.file.exists() else {}

    def save(self, current: dict[str, dict[str, str]]) -> None:
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(current, indent=1, sort_keys=True))
        tmp.replace(self.file)
