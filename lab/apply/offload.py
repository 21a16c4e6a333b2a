"""Bigger GSO/GRO batches on lab links ("BIG TCP"; for IPv4 it needs Linux 6.3).

Why: a lab link is a veth, so no wire limits how much one packet may carry; what costs is the
per-packet work of the stack. The endpoint path pays that work twice over (two TCP connections,
two bridges, two routers, the NLB's splice), so it is the path that gains most from fewer,
bigger packets. Measured here (2 cores, iperf3, 1 stream through the endpoint): 64 KiB batches
11.6 Gbit/s, 128 KiB 14.5, 192 KiB 15.1, 512 KiB 15.9 (within the noise of 192 KiB).

192 KiB keeps every frame under Wireshark's 256 KiB frame limit and under our capture buffer.
The MTU is set by the plan (lab.plan.mtu: AWS's 9001 and 8500) and is not this module's business;
only the kernel's internal batching grows here. Captures show the batches as they always showed 64 KiB ones, with one
difference: an IPv4 batch over 64 KiB carries total length 0 (the BIG TCP convention, which our
parser and Wireshark's `ip.tso_support` read as "the rest of the frame").

pyroute2 0.9 has no names for IFLA_GSO_IPV4_MAX_SIZE / IFLA_GRO_IPV4_MAX_SIZE, so this module
declares them on a subclass of its ifinfmsg and sends that through the same IPRoute socket.
"""

from __future__ import annotations

import os
import re

from pyroute2 import IPRoute
from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTM_NEWLINK
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

BIG_TCP_BYTES = 196_608
LEGACY_BYTES = 65_536
IPV4_MIN_KERNEL = (6, 3)


class _LinkMsg(ifinfmsg):
    """ifinfmsg plus the three attributes that follow IFLA_ALLMULTI in <linux/if_link.h>."""

    # pyroute2 compiles the attribute table once per class and flags it on the class; a subclass
    # would inherit its parent's flag and table, so it must clear the flag to compile its own.
    _nlmsg_base__compiled_nla = False
    nla_map = ifinfmsg.nla_map + (
        ("IFLA_DEVLINK_PORT", "hex"),
        ("IFLA_GSO_IPV4_MAX_SIZE", "uint32"),
        ("IFLA_GRO_IPV4_MAX_SIZE", "uint32"),
    )


def kernel_version(release: str | None = None) -> tuple[int, int]:
    """(major, minor) of a release string such as 6.1.0-28-amd64 or 6.12rc1; (0, 0) if unreadable."""
    found = re.match(r"(\d+)\.(\d+)", release or os.uname().release)
    return (int(found[1]), int(found[2])) if found else (0, 0)


def kernel_refusal(release: str | None = None) -> str | None:
    """Why this kernel cannot batch IPv4 beyond 64 KiB, or None when it can (going by version)."""
    version = kernel_version(release)
    if version < IPV4_MIN_KERNEL:
        return f"Linux {version[0]}.{version[1]} has no gso_ipv4_max_size (added in 6.3)"
    return None


def ipv4_gso_size(ipr: IPRoute, idx: int) -> int | None:
    """The link's gso_ipv4_max_size as the kernel reports it (None when it reports none: before 6.3)."""
    raw = ipr.get_links(idx)[0]
    link = _LinkMsg(raw.data, offset=raw.offset)  # re-read the same bytes with the longer table
    link.decode()
    return link.get_attr("IFLA_GSO_IPV4_MAX_SIZE")


def enlarge(ipr: IPRoute, idx: int, size: int = BIG_TCP_BYTES, confirm: bool = False) -> str | None:
    """Raise one link's GSO/GRO limits (IPv4 and the rest) to `size`; None when done, else why not."""
    refusal = kernel_refusal()
    if refusal is not None:
        return refusal
    msg = _LinkMsg()
    msg["index"] = idx
    msg["header"]["type"] = RTM_NEWLINK
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK
    msg["attrs"] = [(name, size) for name in ("IFLA_GSO_MAX_SIZE", "IFLA_GRO_MAX_SIZE",
                                              "IFLA_GSO_IPV4_MAX_SIZE", "IFLA_GRO_IPV4_MAX_SIZE")]
    try:
        ipr.nlm_request_batch([msg])
    except NetlinkError as err:
        return f"the kernel refused {size}-byte GSO ({os.strerror(err.code)})"
    if confirm:
        got = ipv4_gso_size(ipr, idx)
        if got != size:  # a kernel that ignores unknown attributes answers OK and does nothing
            return f"the kernel accepted but did not apply gso_ipv4_max_size (reads {got})"
    return None


class GsoTuner:
    """Enlarges every veth end of one apply run; checks the first link, stops at the first refusal."""

    def __init__(self) -> None:
        self.unavailable: str | None = None
        self.links = 0
        self._confirmed = False

    def apply(self, ipr: IPRoute, idx: int) -> None:
        if self.unavailable is not None:
            return
        why = enlarge(ipr, idx, confirm=not self._confirmed)
        if why is not None:
            self.unavailable = why  # an optimisation, never a reason to fail bring-up
            return
        self._confirmed = True
        self.links += 1

    def summary(self) -> str:
        if self.unavailable is not None:
            return (f"BIG TCP unavailable: {self.unavailable}; links keep 64 KiB GSO batches "
                    "(endpoint throughput is lower, everything else is the same)")
        return f"BIG TCP: {self.links} link end(s) batch up to {BIG_TCP_BYTES // 1024} KiB"
