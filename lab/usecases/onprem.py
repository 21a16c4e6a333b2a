"""What lies outside the VPCs: Direct Connect's private VIFs (issue 12 §2) and the internet's
hosts and public addresses (issue 12 §1), read from a live lab."""

from __future__ import annotations


def virtual_interfaces(lab: str) -> list[dict]:
    """The lab's DX private VIFs as DescribeVirtualInterfaces has them, BGP state and learned routes read live."""
    from lab.apply.bgp import virtual_interfaces as read
    from lab.state.store import LabState

    state = LabState(lab)
    return read(state.dir, state.load_plan())


def vlan_missing() -> str | None:
    """None when the kernel has 802.1Q VLANs (a private VIF's tag), else why not."""
    from lab.apply.vlan import missing

    return missing()


def internet_scan(lab: str, host: str, addresses: list[str] | None, ports: list[int]) -> list:
    """A bounded TCP connect() scan from an internet host of the lab (lab.verify.internet.scan);
    `addresses` None: every public address of the lab but the host's own network's."""
    from lab.plan.internet import public_addresses as of_plan
    from lab.state.store import LabState
    from lab.verify.engine import require_root
    from lab.verify.internet import scan

    plan = LabState(lab).load_plan()
    require_root("lab scan")
    return scan(plan, host, list(addresses) if addresses else sorted(of_plan(plan)), ports)


def public_addresses(lab: str) -> dict[str, str]:
    """Every public address of a lab -> what holds it (instance or NLB node, via which IGW)."""
    from lab.plan.internet import public_addresses as of_plan
    from lab.state.store import LabState

    return of_plan(LabState(lab).load_plan())
