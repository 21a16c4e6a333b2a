"""`lab target register|deregister|health|set-delay` (issue 13 §4): targets that come and go on a
live lab, as ELBv2's RegisterTargets, DeregisterTargets, DescribeTargetHealth and the target group's
deregistration delay; lab.privatelink.targets does the work in the control transaction."""

from __future__ import annotations


def _quiet(_msg: str) -> None:
    pass


def register_targets(lab: str, target_group: str, targets: list[str], port: int | None = None,
                     account: str | None = None, progress=_quiet):
    """RegisterTargets, live (a seamless reload of the NLB's nodes). -> TargetChange"""
    from lab.privatelink import targets as control

    return control.register(lab, target_group, targets, port, account, progress)


def deregister_targets(lab: str, target_group: str, targets: list[str], port: int | None = None,
                       account: str | None = None, wait: bool = False, progress=_quiet):
    """DeregisterTargets: each target drains for the group's deregistration delay (open connections go
    on, no new one reaches it); with `wait`, return once the delay is over and the target is gone."""
    from lab.privatelink import targets as control

    change = control.deregister(lab, target_group, targets, port, account, progress)
    if wait:
        names = [d["Lab"]["Instance"] for d in change.descriptions]
        control.wait_drained(lab, target_group, names, progress)
        change.descriptions = control.describe_health(lab, target_group, names)
    return change


def target_health(lab: str, target_group: str | None = None, targets: list[str] | None = None) -> list[dict]:
    """DescribeTargetHealth: TargetHealthDescriptions (every group's when `target_group` is None)."""
    from lab.privatelink import targets as control

    return control.describe_health(lab, target_group, targets or None)


def set_deregistration_delay(lab: str, target_group: str, seconds: int, account: str | None = None,
                             progress=_quiet) -> dict:
    """ModifyTargetGroupAttributes deregistration_delay.timeout_seconds (0-3600), live."""
    from lab.privatelink import targets as control

    return control.set_deregistration_delay(lab, target_group, seconds, account, progress)
