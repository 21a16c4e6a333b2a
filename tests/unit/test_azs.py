"""`lab az` without root: which nodes can serve and what the regional names hold (lab.apply.azs),
and the one-line refusals for an AZ the lab lacks or one without an NLB node, against a planned lab."""

from __future__ import annotations

import copy

import pytest

from lab.apply.azs import STATE_FILE, dns_failover, serving_nodes
from lab.plan.build import build_plan
from lab.topology.load import load_topology, parse_topology
from lab.topology.model import Topology


def _plan(cross_zone: bool = False, lab: str = "t-az"):
    topo = load_topology("basic")
    data = topo.model_dump(by_alias=True, exclude_none=True)
    data["nlbs"][0]["cross_zone"] = cross_zone
    return build_plan(Topology.model_validate(data), lab)


def _regional(plan, failed):
    _, names = dns_failover(plan, failed)
    (ips,) = names.values()
    return sorted(ips)


ENI = {"us-east-1a": "10.0.1.253", "us-east-1b": "10.0.2.253"}


def test_a_failed_az_leaves_the_regional_name():
    plan = _plan()
    assert _regional(plan, {}) == sorted(ENI.values())
    assert _regional(plan, {"us-east-1b": {"targets_only": False}}) == [ENI["us-east-1a"]]


def test_targets_only_fails_over_dns_only_without_cross_zone():
    failed = {"us-east-1b": {"targets_only": True}}
    assert _regional(_plan(cross_zone=False), failed) == [ENI["us-east-1a"]]
    # Cross-zone on: node b still has target-a, a healthy target in every target group.
    assert _regional(_plan(cross_zone=True), failed) == sorted(ENI.values())
    assert serving_nodes(_plan(cross_zone=True), failed) == {n.container for n in _plan(cross_zone=True).nodes}


def test_no_serving_node_fails_open():
    failed = {"us-east-1a": {"targets_only": False}, "us-east-1b": {"targets_only": True}}
    assert serving_nodes(_plan(), failed) == set()
    assert _regional(_plan(), failed) == sorted(ENI.values())  # AWS: all targets unhealthy -> fail open


def test_zonal_names_never_change():
    plan = _plan()
    new, _ = dns_failover(plan, {"us-east-1b": {"targets_only": False}})
    zonal = lambda p: sorted((r.name, r.values) for res in p.resolvers for r in res.records if r.origin == "zonal")  # noqa: E731
    assert zonal(new) == zonal(plan) and zonal(plan)


@pytest.fixture
def planned_lab(tmp_path, monkeypatch):
    """A lab whose state holds a plan, as `lab up` writes it, but nothing runs: input checks only."""
    from lab.state.store import LabState

    monkeypatch.setenv("PRIVATELINK_LAB_STATE", str(tmp_path / "state"))
    text = open("topologies/basic.yaml").read().replace(
        "  - {name: us-east-1b, id: use1-az2}\n", "  - {name: us-east-1b, id: use1-az2}\n  - {name: us-east-1c, id: use1-az3}\n")
    text = text.replace("      - {name: consumer-b, az: us-east-1b, cidr: 10.0.2.0/24}\n",
                        "      - {name: consumer-b, az: us-east-1b, cidr: 10.0.2.0/24}\n"
                        "      - {name: consumer-c, az: us-east-1c, cidr: 10.0.3.0/24}\n")
    plan = build_plan(parse_topology(text), "t-azp")
    state = LabState("t-azp")
    state.create()
    state.topology_file.write_text(text)
    state.save_plan(copy.deepcopy(plan.to_dict()))
    return state


@pytest.mark.parametrize(("argv", "line"), [
    (["az", "fail", "us-east-1z"], "error: AZ: lab 't-azp' has no AZ 'us-east-1z'; fix: use one of: us-east-1a, us-east-1b, us-east-1c"),
    (["az", "fail", "us-east-1c"], "error: AZ: no NLB node runs in us-east-1c in lab 't-azp'; fix: fail an AZ that holds one: us-east-1a, us-east-1b"),
    (["az", "fail", "--targets-only", "us-east-1c"], "error: AZ: no NLB node runs in us-east-1c in lab 't-azp'; fix: fail an AZ that holds one: us-east-1a, us-east-1b"),
    (["az", "recover", "us-east-1b"], "error: AZ: us-east-1b is not failed in lab 't-azp'; fix: fail it first with `lab az fail --name t-azp us-east-1b`; failed now: none"),
])
def test_bad_az_is_one_line_exit_2_and_changes_nothing(planned_lab, argv, line, capsys):
    from lab.cli.main import main

    before = sorted(p.name for p in planned_lab.dir.iterdir())
    assert main([*argv[:2], "--name", "t-azp", *argv[2:]]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [line]
    assert sorted(p.name for p in planned_lab.dir.iterdir()) == before and not (planned_lab.dir / STATE_FILE).exists()
