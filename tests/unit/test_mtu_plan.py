"""The plan gives every link AWS's MTU for its role (lab.plan.mtu); an instance may lower its own."""

from __future__ import annotations

from pathlib import Path

import yaml

from lab.plan.build import build_plan
from lab.plan.mtu import ENDPOINT_MTU, ETHERNET_MTU, VPC_MTU, clamped_mss, mtu_of_role
from lab.topology.load import load_topology, parse_topology

REPO = Path(__file__).resolve().parents[2]


def _by_role(plan) -> dict[str, set[int]]:
    roles: dict[str, set[int]] = {}
    for pair in plan.veths:
        roles.setdefault(pair.role, set()).add(pair.mtu)
    return roles


def test_vpc_links_are_jumbo_and_the_endpoint_path_is_8500():
    plan = build_plan(load_topology("basic"), "t")
    assert _by_role(plan) == {"instance": {VPC_MTU}, "nlb-provider": {ENDPOINT_MTU}, "endpoint-eni": {ENDPOINT_MTU}}
    assert {b.mtu for b in plan.bridges} == {VPC_MTU}
    assert clamped_mss() == 8460


def test_the_internet_path_stays_at_1500():
    roles = _by_role(build_plan(load_topology("internet-vs-private"), "t"))
    assert roles["igw"] == roles["internet"] == {ETHERNET_MTU}
    assert roles["instance"] == {VPC_MTU}


def test_an_instance_may_lower_its_own_mtu():
    topo = yaml.safe_load((REPO / "topologies" / "basic.yaml").read_text())
    topo["vpcs"][1]["instances"][0]["mtu"] = 1500
    plan = build_plan(parse_topology(yaml.safe_dump(topo), source="t.yaml"), "t")
    mtus = {p.key: p.mtu for p in plan.veths if p.role == "instance"}
    assert mtus["instance:consumer-client"] == 1500
    assert mtus["instance:consumer-client-b"] == VPC_MTU


def test_unknown_roles_keep_the_ethernet_default():
    assert mtu_of_role("dx") == mtu_of_role("onprem-instance") == ETHERNET_MTU
