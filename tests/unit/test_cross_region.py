"""Cross-region topologies, planned without root: the single-region form is untouched, a cross-region
endpoint's ENI leg is a backbone link of the service region's NLB node, names are the service region's,
and residency is judged from the regions of the links a flow was seen on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lab.plan.build import build_plan
from lab.plan.links import links_from_plan
from lab.topology.errors import TopologyError
from lab.topology.load import load_topology, parse_topology, resolve_topology_path
from lab.verify.residency import link_regions, residency_checks


@pytest.fixture(scope="module")
def plan():
    return build_plan(load_topology("cross-region"), "xr").to_dict()


def test_the_cross_region_eni_leg_is_a_backbone_link_to_the_us_node(plan) -> None:
    kinds = {ln.name: ln for ln in links_from_plan(plan)}
    assert kinds["backbone/web-xr@eu-west-1a"].kind == "backbone"
    assert kinds["backbone/web-xr@eu-west-1a"].side == "consumer"
    assert kinds["endpoint-eni/eu-endpoint@eu-west-1a"].kind == "endpoint-eni"
    xr = next(e for e in plan["endpoints"] if e["name"] == "web-xr")
    assert xr["enis"][0]["node"] == "pl-xr.web-nlb.us-east-1a" and xr["enis"][0]["az"] == "eu-west-1a"
    assert all(".us-east-1.vpce.amazonaws.com" in d["DnsName"] for d in xr["dns_entries"])
    assert xr["dns_entries"][1]["DnsName"].split(".")[0].endswith("-eu-west-1a")  # zonal: the consumer's AZ


def test_links_know_their_regions(plan) -> None:
    links = {ln.name: ln for ln in links_from_plan(plan)}
    assert link_regions(links["backbone/web-xr@eu-west-1a"], plan) == {"eu-west-1", "us-east-1"}
    assert link_regions(links["endpoint-eni/eu-endpoint@eu-west-1a"], plan) == {"eu-west-1"}
    assert link_regions(links["nlb-target/web-nlb@us-east-1a"], plan) == {"us-east-1"}


def _run(endpoint: str, seen: set[str]):
    trace = SimpleNamespace(link_names=seen, text=lambda ledger: "")
    return SimpleNamespace(spec=SimpleNamespace(endpoint=endpoint, name=f"c -> {endpoint}", eni_link="x"), trace=trace)


def test_residency_fails_naming_the_backbone_first(plan) -> None:
    links = {ln.name: ln for ln in links_from_plan(plan)}
    order = list(links)
    ledger = SimpleNamespace(links=links, order=order.index)
    declared = SimpleNamespace(residency=[SimpleNamespace(endpoints=["web-xr"], regions=["eu-west-1"])])
    seen = {"consumer-subnet/eu-client", "backbone/web-xr@eu-west-1a", "nlb-target/web-nlb@us-east-1a"}
    [check] = residency_checks(plan, declared, [_run("web-xr", seen), _run("eu-endpoint", seen)], ledger)
    assert check.status == "fail" and check.links[0] == "backbone/web-xr@eu-west-1a" and check.leak
    ok = SimpleNamespace(residency=[SimpleNamespace(endpoints=[], regions=["eu-west-1", "us-east-1"])])
    assert [c.status for c in residency_checks(plan, ok, [_run("web-xr", seen)], ledger)] == ["pass"]


def test_the_single_region_form_plans_no_regions() -> None:
    plan = build_plan(load_topology("basic"), "xr").to_dict()
    assert "regions" not in plan["inventory"] and "backbone" not in plan["inventory"]
    assert {ln.kind for ln in links_from_plan(plan)} & {"backbone"} == set()


def test_an_endpoint_without_service_region_cannot_find_a_remote_service() -> None:
    text = resolve_topology_path("cross-region").read_text().replace(" service_region: us-east-1,", "")
    with pytest.raises(TopologyError, match="The Vpc Endpoint Service 'web-service' does not exist"):
        parse_topology(text)
