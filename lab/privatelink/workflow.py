"""The endpoint connection workflow as a state machine (AWS's API state strings).

    create ──► pendingAcceptance ──accept──► (pending) ──► available
       │               │                                      │
       │               └──reject──► rejected ◄──reject────────┘
       └─ acceptance not required ─► available
    accept whose data plane cannot be made ──► failed (legs rolled back)
    delete (consumer only), from any state but deleting/deleted ──► deleting ──► deleted

Who may act is `lab.privatelink.principals`; this module only knows which moves exist.
"""

from __future__ import annotations

from lab.topology.errors import LabInputError

ACTIONS = ("create", "accept", "reject", "delete")
EVENT_OF = {"create": "Connect", "accept": "Accept", "reject": "Reject", "delete": "Delete"}
# States an endpoint must be in for each action (AWS: only pending connections can be accepted; the
# provider may reject one it already accepted; the consumer may delete in any settled state).
ALLOWED_FROM = {
    "accept": ("pendingAcceptance",),
    "reject": ("pendingAcceptance", "available"),
    "delete": ("pendingAcceptance", "available", "rejected", "failed"),
}
RESULT_OF = {"accept": "available", "reject": "rejected", "delete": "deleted"}
# The data plane exists only in this state: no ENI leg, no listener before it, none after it.
LIVE_STATE = "available"


class WorkflowError(LabInputError):
    """An action the endpoint's current state does not allow (exit 2, nothing changed)."""


def initial_state(acceptance_required: bool) -> str:
    return "pendingAcceptance" if acceptance_required else "available"


def check(action: str, state: str, vpce_id: str) -> str:
    """The state `action` leads to from `state`; raises WorkflowError if the move does not exist."""
    if action not in ALLOWED_FROM:
        raise ValueError(f"unknown action {action!r}")
    if state not in ALLOWED_FROM[action]:
        allowed = " or ".join(ALLOWED_FROM[action])
        hint = {
            "accept": "only a pendingAcceptance connection can be accepted",
            "reject": "only a pendingAcceptance or available connection can be rejected",
            "delete": "it is being deleted already",
        }[action]
        raise WorkflowError(vpce_id, f"cannot {action} an endpoint in state {state} (needs {allowed})", hint)
    return RESULT_OF[action]


def is_live(state: str) -> bool:
    return state == LIVE_STATE
