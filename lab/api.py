"""The lab's front door: every use case (up, down, status, exec, verify, the control-plane
actions) as a Python call. The CLI, the EC2 API server and the live view call only this module
(plus pure libraries such as `lab.ppv2` and the topology's error types); it sits above
`lab.apply`, `lab.privatelink`, `lab.verify` and `lab.state`, and nothing below imports it.
"""

from __future__ import annotations

from lab.apply.api import UpResult, down, load_plan, runtime, up

__all__ = ["UpResult", "down", "load_plan", "runtime", "up"]


# -- link impairments (`lab link`) -------------------------------------------------------------------------------

def link_set(lab: str, link: str, *, rate: str | None = None, delay: str | None = None, jitter: str | None = None,
             loss: str | None = None) -> dict:
    from lab.apply.linkctl import set_link

    return set_link(lab, link, rate=rate, delay=delay, jitter=jitter, loss=loss)


def link_clear(lab: str, link: str | None = None) -> list[str]:
    from lab.apply.linkctl import clear_links

    return clear_links(lab, link)


def link_show(lab: str, link: str | None = None) -> list[dict]:
    from lab.apply.linkctl import show_links

    return show_links(lab, link)


# -- the internet around the VPCs (issue 12, section 1) --------------------------------------------------------

def internet_scan(lab: str, host: str, addresses: list[str] | None, ports: list[int]) -> list:
    """A bounded TCP connect() scan from an internet host of the lab (lab.verify.internet.scan);
    `addresses` None: every public address of the lab but the host's own network's."""
    from lab.plan.internet import public_addresses
    from lab.verify.engine import require_root
    from lab.verify.internet import scan

    plan = load_plan(lab)
    require_root("lab scan")
    return scan(plan, host, list(addresses) if addresses else sorted(public_addresses(plan)), ports)


def public_addresses(lab: str) -> dict[str, str]:
    """Every public address of a lab -> what holds it (instance or NLB node, via which IGW)."""
    from lab.plan.internet import public_addresses as of_plan

    return of_plan(load_plan(lab))
