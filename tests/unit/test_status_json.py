"""`lab status --format json` names every AWS object as AWS does: no snake_case key in an AWS-shaped
object (lab-only facts live under its `Lab` key), endpoints as DescribeVpcEndpoints shows them and
their ENIs as DescribeNetworkInterfaces does. Built from a plan, without root."""

from __future__ import annotations

import re

import pytest

from lab.privatelink.status import document
from lab.plan.build import build_plan
from lab.privatelink import shapes
from lab.privatelink.records import Record
from lab.state.store import LabState
from lab.topology.load import builtin_topologies, load_topology

PASCAL = re.compile(r"^[A-Z][A-Za-z0-9]*$")
LAB_OBJECTS = ("nlb_nodes", "target_health")  # no AWS counterpart: lab objects, still PascalCase


def status_of(topology: str, tmp_path, monkeypatch) -> dict:
    monkeypatch.setenv("PRIVATELINK_LAB_STATE", str(tmp_path))
    topo = load_topology(topology)
    view = shapes.LabView("st", topo, build_plan(topo, "st").to_dict(), Record(LabState("st")))
    nodes = view.plan["inventory"]["nlb_nodes"]
    health = [{"Node": n["Container"], "TargetGroup": "web", "Target": "target-a", "Health": "UP", "Connections": 0}
              for n in nodes]
    return document(view, lambda ns: True, {n["Container"]: 4242 for n in nodes}, health)


def non_aws_keys(value, where: str) -> list[str]:
    """Every key below `value` that is not PascalCase, skipping the lab-only `Lab` parts."""
    bad = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Lab":
                continue
            if not PASCAL.match(key):
                bad.append(f"{where}.{key}")
            bad += non_aws_keys(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            bad += non_aws_keys(inner, f"{where}[{i}]")
    return bad


def offenders(doc: dict) -> list[str]:
    bad = []
    for key, items in doc.items():
        if isinstance(items, list):
            bad += non_aws_keys(items, key)
    return bad


@pytest.mark.parametrize("topology", sorted(builtin_topologies()))
def test_no_snake_case_key_in_an_aws_object(topology, tmp_path, monkeypatch):
    doc = status_of(topology, tmp_path, monkeypatch)
    assert doc["endpoints"] and doc["vpcs"] and doc["instances"]
    assert offenders(doc) == []


def test_the_walk_finds_the_old_snake_case_endpoint():
    old = {"lab": "x", "endpoints": [{"id": "vpce-1", "enis": [{"ip": "10.0.1.253", "SubnetId": "subnet-1"}],
                                      "dns_entries": [{"DnsName": "a"}], "Lab": {"whatever_lab": 1}}]}
    assert offenders(old) == ["endpoints[0].id", "endpoints[0].enis", "endpoints[0].enis[0].ip",
                              "endpoints[0].dns_entries"]


def test_lab_only_facts_are_under_lab(tmp_path, monkeypatch):
    doc = status_of("basic", tmp_path, monkeypatch)
    vpc, inst, subnet = doc["vpcs"][0], doc["instances"][0], doc["subnets"][0]
    assert set(vpc) == {"VpcId", "CidrBlock", "OwnerId", "Tags", "Lab"}
    assert {"Name", "Netns", "Live"} <= set(vpc["Lab"]) and vpc["Lab"]["Live"] is True
    assert "Netns" not in inst and "AvailabilityZone" not in inst and inst["Placement"]["AvailabilityZone"]
    assert inst["SubnetId"] == next(s["SubnetId"] for s in doc["subnets"] if s["Lab"]["Name"] == inst["Lab"]["Subnet"])
    assert "Bridge" in subnet["Lab"] and "Bridge" not in subnet


def test_endpoints_and_their_enis_in_aws_shapes(tmp_path, monkeypatch):
    doc = status_of("basic", tmp_path, monkeypatch)
    (ep,) = doc["endpoints"]
    assert {"VpcEndpointId", "VpcEndpointType", "VpcId", "ServiceName", "State", "SubnetIds", "NetworkInterfaceIds",
            "DnsEntries", "Groups", "PrivateDnsEnabled"} <= set(ep)
    assert ep["DnsEntries"] and all(set(d) == {"DnsName", "HostedZoneId"} for d in ep["DnsEntries"])
    enis = doc["network_interfaces"]
    assert [e["NetworkInterfaceId"] for e in enis] == ep["NetworkInterfaceIds"] and len(enis) == 2
    for eni in enis:
        assert eni["InterfaceType"] == "vpc_endpoint" and eni["Status"] == "in-use" and eni["RequesterManaged"]
        assert eni["VpcId"] == ep["VpcId"] and eni["SubnetId"] in ep["SubnetIds"]
        assert eni["Description"] == f"VPC Endpoint Interface {ep['VpcEndpointId']}"
        assert eni["PrivateIpAddresses"] == [{"Primary": True, "PrivateIpAddress": eni["PrivateIpAddress"]}]
        assert eni["Lab"]["VpcEndpointId"] == ep["VpcEndpointId"]
    assert {e["AvailabilityZone"] for e in enis} == {"us-east-1a", "us-east-1b"}


def test_an_endpoint_waiting_for_acceptance_has_no_interfaces(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVATELINK_LAB_STATE", str(tmp_path))
    topo = load_topology("basic")
    plan = build_plan(topo, "st").to_dict()
    plan["endpoints"][0]["state"] = "pendingAcceptance"
    view = shapes.LabView("st", topo, plan, Record(LabState("st")))
    doc = document(view, lambda ns: False, {}, [])
    assert doc["endpoints"][0]["NetworkInterfaceIds"] == [] and doc["network_interfaces"] == []
    assert doc["endpoints"][0]["Lab"]["Enis"]  # the planned ENIs stay visible as lab facts
    assert doc["vpcs"][0]["Lab"]["Live"] is False and doc["nlb_nodes"][0]["Running"] is False
