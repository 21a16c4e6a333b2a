"""The lab's front door: every use case (up, down, status, exec, verify, the control-plane
actions) as a Python call. The CLI, the EC2 API server and the live view call only this module
(plus pure libraries such as `lab.ppv2` and the topology's error types); it sits above
`lab.apply`, `lab.privatelink`, `lab.verify` and `lab.state`, and nothing below imports it.
"""

from __future__ import annotations

from lab.apply.api import UpResult, down, load_plan, runtime, up

__all__ = ["UpResult", "down", "load_plan", "runtime", "up"]


# -- Availability Zones (issue 13 §2): `lab az fail|recover`, lab.apply.azs -------------------------
def az_fail(lab: str, az: str, targets_only: bool = False, progress=None) -> dict:
    """Fail an AZ: stop its targets and (unless targets_only) its NLB nodes; DNS fails over."""
    from lab.apply import azs

    return azs.fail(lab, az, targets_only, _az_runtime(lab, az, "fail"), progress or (lambda _m: None))


def az_recover(lab: str, az: str, progress=None) -> dict:
    """Bring a failed AZ back: its targets and nodes restart, regional names answer its ENIs again."""
    from lab.apply import azs

    return azs.recover(lab, az, _az_runtime(lab, az, "recover"), progress or (lambda _m: None))


def _az_runtime(lab: str, az: str, action: str):
    """Input errors (no such lab or AZ, an AZ already failed or not failed) come before the engine is asked."""
    from lab.apply import azs

    azs.check_request(lab, az, action)
    return runtime()
