"""DescribeVpcEndpoints' Groups lists the security groups on the endpoint's ENIs."""

from __future__ import annotations

from lab.plan.build import build_plan
from lab.privatelink import shapes
from lab.privatelink.records import Record
from lab.state.store import LabState
from lab.topology.load import load_topology


def test_endpoint_groups_name_the_groups_enforced_on_its_enis(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVATELINK_LAB_STATE", str(tmp_path))
    topo = load_topology("basic")
    plan = build_plan(topo, "shapes").to_dict()
    view = shapes.LabView("shapes", topo, plan, Record(LabState("shapes")))
    (endpoint,) = topo.endpoints
    groups = shapes.endpoint(view, endpoint)["Groups"]
    guard = next(g for g in plan["eni_guards"] if g["endpoint"] == endpoint.name)
    assert [g["GroupId"] for g in groups] == list(guard["groups"])
    assert groups and all(g["GroupId"].startswith("sg-0") and g["GroupName"] for g in groups)
