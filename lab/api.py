"""The lab's front door: every use case (up, down, status, exec, verify, the control-plane
actions) as a Python call. The CLI, the EC2 API server and the live view call only this module
(plus pure libraries such as `lab.ppv2` and the topology's error types); it sits above
`lab.apply`, `lab.privatelink`, `lab.verify` and `lab.state`, and nothing below imports it.
"""

from __future__ import annotations

from lab.apply.api import UpResult, down, load_plan, runtime, up

__all__ = ["UpResult", "down", "load_plan", "runtime", "up"]


# -- labs that are up (issue 10: `lab down --name typo` names them, as `lab verify` does) ----------
from lab.state.store import labs_up_text  # noqa: E402

__all__ += ["labs_up_text"]
