"""`lab az fail|recover`: an Availability Zone goes down and comes back (lab.apply.azs does it;
docs/availability-zones.md says what AWS documents and where)."""

from __future__ import annotations


def az_fail(lab: str, az: str, targets_only: bool = False, progress=None) -> dict:
    """Fail an AZ: stop its targets and (unless targets_only) its NLB nodes; DNS fails over."""
    from lab.apply import azs

    return azs.fail(lab, az, targets_only, _runtime(lab, az, "fail"), progress or (lambda _m: None))


def az_recover(lab: str, az: str, progress=None) -> dict:
    """Bring a failed AZ back: its targets and nodes restart, regional names answer its ENIs again."""
    from lab.apply import azs

    return azs.recover(lab, az, _runtime(lab, az, "recover"), progress or (lambda _m: None))


def _runtime(lab: str, az: str, action: str):
    """Input errors (no such lab or AZ, an AZ already failed or not failed) come before the engine is asked."""
    from lab.apply import azs
    from lab.apply.runtime import get_runtime

    azs.check_request(lab, az, action)
    return get_runtime()


def failed_azs(lab: str) -> dict[str, dict]:
    """The lab's failed AZs now: {az: {"targets_only": bool}} (empty when every AZ is up)."""
    from lab.apply import azs
    from lab.state.store import LabState

    state = LabState(lab)
    state.load_plan()  # a lab that is not up is an input error, as for every other question
    return azs.failed_azs(state)
