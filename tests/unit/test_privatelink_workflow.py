"""The endpoint state machine: every move AWS allows, and a clear refusal for every other one."""

from __future__ import annotations

import pytest

from lab.privatelink import workflow
from lab.topology.errors import LabInputError

STATES = ("pendingAcceptance", "available", "rejected", "failed", "deleting", "deleted")
ALLOWED = {
    ("accept", "pendingAcceptance"): "available",
    ("reject", "pendingAcceptance"): "rejected",
    ("reject", "available"): "rejected",
    ("delete", "pendingAcceptance"): "deleted",
    ("delete", "available"): "deleted",
    ("delete", "rejected"): "deleted",
    ("delete", "failed"): "deleted",
}


@pytest.mark.parametrize("action", ["accept", "reject", "delete"])
@pytest.mark.parametrize("state", STATES)
def test_each_move_is_allowed_exactly_when_aws_allows_it(action, state):
    if (action, state) in ALLOWED:
        assert workflow.check(action, state, "vpce-0123") == ALLOWED[(action, state)]
    else:
        with pytest.raises(workflow.WorkflowError) as err:
            workflow.check(action, state, "vpce-0123")
        assert isinstance(err.value, LabInputError)  # exit 2, nothing changed
        assert err.value.path == "vpce-0123" and state in err.value.problem and err.value.fix


def test_initial_state_follows_acceptance_required():
    assert workflow.initial_state(True) == "pendingAcceptance"
    assert workflow.initial_state(False) == "available"


def test_only_available_has_a_data_plane():
    assert [s for s in STATES if workflow.is_live(s)] == ["available"]


def test_every_action_has_its_notification_event():
    assert workflow.EVENT_OF == {"create": "Connect", "accept": "Accept", "reject": "Reject", "delete": "Delete"}


def test_unknown_action_is_a_bug_not_input():
    with pytest.raises(ValueError):
        workflow.check("approve", "pendingAcceptance", "vpce-1")
