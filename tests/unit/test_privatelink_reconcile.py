"""What reconcile would do, decided from two plans alone (no root): which ENI legs go and come, and
which changes it refuses to make live."""

from __future__ import annotations

import json

import pytest

from lab.apply.reconcile import leg_changes, refuse_structural_changes
from lab.plan.build import build_plan
from lab.privatelink import edit
from lab.resources import data_dir
from lab.topology.errors import LabInputError
from lab.topology.load import parse_topology

LAB = "t-rec"


@pytest.fixture
def raw():
    return edit.load((data_dir("topologies") / "multi-tenant.yaml").read_text())


def saved(plan) -> dict:
    """As plan.json holds it (tuples become lists)."""
    return json.loads(json.dumps(plan.to_dict()))


def plan_of(raw_topology, previous=None):
    return build_plan(parse_topology(edit.dump(raw_topology)), LAB, previous=previous)


def test_accept_adds_exactly_the_endpoints_legs(raw):
    before = plan_of(raw)
    after = plan_of(edit.set_states(raw, {"tenant-b-saas": "available"}), saved(before))
    removed, added = leg_changes(saved(before), after)
    assert removed == [] and [p.key for p in added] == ["eni:tenant-b-saas:us-east-1a", "eni:tenant-b-saas:us-east-1b"]
    refuse_structural_changes(saved(before), saved(after))


def test_reject_and_delete_remove_exactly_the_endpoints_legs(raw):
    live = plan_of(edit.set_states(raw, dict.fromkeys(["tenant-a-saas", "tenant-b-saas"], "available")))
    rejected = plan_of(edit.set_states(raw, {"tenant-a-saas": "rejected", "tenant-b-saas": "available"}), saved(live))
    removed, added = leg_changes(saved(live), rejected)
    assert [p.key for p in removed] == ["eni:tenant-a-saas:us-east-1a", "eni:tenant-a-saas:us-east-1b"] and added == []
    deleted = plan_of(edit.remove_endpoints(edit.set_states(raw, {"tenant-a-saas": "available"}), {"tenant-b-saas"}),
                      saved(live))
    removed, added = leg_changes(saved(live), deleted)
    assert [p.key for p in removed] == ["eni:tenant-b-saas:us-east-1a", "eni:tenant-b-saas:us-east-1b"] and added == []
    # the removed legs come back from plan.json whole: ends, temporary names and ownership alias
    assert removed[0].alias == f"privatelink-lab:{LAB}:eni:tenant-b-saas:us-east-1a"
    assert removed[0].a.place.kind == "container" and removed[0].a.addresses[0].endswith("/24")


def test_no_change_means_nothing_to_do(raw):
    plan = plan_of(raw)
    assert leg_changes(saved(plan), plan_of(raw, saved(plan))) == ([], [])


def test_changes_outside_endpoints_and_nlb_settings_are_refused(raw):
    before = plan_of(raw)
    grown = json.loads(json.dumps(raw))
    grown["vpcs"][1]["instances"].append({"name": "a-client-2", "subnet": "tenant-a-a", "ip": "10.0.1.11"})
    with pytest.raises(LabInputError) as err:
        refuse_structural_changes(saved(before), saved(plan_of(grown, saved(before))))
    assert "cannot change while it runs" in err.value.problem and "lab down" in err.value.fix


def test_cross_zone_is_a_live_change(raw):
    before = plan_of(raw)
    after = plan_of(edit.set_cross_zone(raw, "saas-nlb", True), saved(before))
    refuse_structural_changes(saved(before), saved(after))
    assert [len(n.backends[0].servers) for n in before.nodes] == [1, 1]
    assert [len(n.backends[0].servers) for n in after.nodes] == [2, 2]
