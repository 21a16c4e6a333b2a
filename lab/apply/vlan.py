"""802.1Q for Direct Connect: a private virtual interface is a VLAN on the DX port, where the kernel has it.

Probed once per process by making a VLAN on a throwaway veth in a throwaway namespace (named
without a '.', so it can never be mistaken for a lab's namespace, like `lab doctor`'s probes).
Where the kernel lacks 802.1Q (this project's CI kernel: `type vlan` is "Unknown device type"),
the DX link is the plain veth itself: BGP and the data path are the same, only the tag is missing.
"""

from __future__ import annotations

import functools
import os
import secrets

from pyroute2 import IPRoute

from lab.apply import netns

MISSING_NOTE = ("802.1Q VLANs are not available in this kernel ({error}): Direct Connect private VIFs are plain "
                "veth links here, without their VLAN tag (BGP and routing are unchanged)")


def _reason(err: Exception) -> str:
    code = getattr(err, "code", None)
    return os.strerror(code) if isinstance(code, int) else (str(err) or type(err).__name__)


def probe() -> str | None:
    """None when a VLAN can be made on a veth here, else why not (the kernel's words)."""
    name = f"pl-vlanprobe-{secrets.token_hex(3)}"
    netns.create(name)
    try:
        with netns.entered(netns.netns_path(name)):
            ipr = IPRoute()
        with ipr:
            ipr.link("add", ifname="vp0", kind="veth", peer="vp1")
            base = ipr.link_lookup(ifname="vp0")[0]
            try:
                ipr.link("add", ifname="vp0.101", kind="vlan", link=base, vlan_id=101)
            except Exception as err:  # noqa: BLE001 - any refusal means "no 802.1Q here"
                return _reason(err)
    finally:
        netns.remove(name)
    return None


@functools.lru_cache(maxsize=1)
def missing() -> str | None:
    """The probe's answer, asked once per process (lab up and lab doctor say it once)."""
    return probe()


def add_vlan(ipr: IPRoute, base_ifname: str, vlan_id: int, addresses: tuple[str, ...]) -> str:
    """Move a veth end's addresses onto an 802.1Q sub-interface of it (only where `missing()` is None)."""
    from lab.apply.links import add_addresses, index

    base = index(ipr, base_ifname)
    sub = f"{base_ifname[:10]}.{vlan_id}"[:15]
    for cidr in addresses:
        ip, plen = cidr.split("/")
        ipr.addr("del", index=base, address=ip, prefixlen=int(plen))
    ipr.link("add", ifname=sub, kind="vlan", link=base, vlan_id=vlan_id)
    idx = index(ipr, sub)
    add_addresses(ipr, idx, addresses)
    ipr.link("set", index=idx, state="up")
    return sub
