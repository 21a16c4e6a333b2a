"""Flows by DNS name (lab.verify.names): which names each client asks for, what each may resolve to,
the `name:` of a declared flow, and how a run is judged. Pure code: no root, no lab."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from lab.plan.build import build_plan
from lab.topology.errors import LabInputError
from lab.topology.load import parse_topology
from lab.verify.invariants import FAIL, PASS, SKIP
from lab.verify.ledger import Ledger
from lab.plan.links import links_from_plan
from lab.verify.names import NameFlowRun, name_checks
from lab.verify.report import Report
from lab.verify.spec import build
from lab.verify.traffic import DnsRun

BASIC = yaml.safe_load((Path(__file__).resolve().parents[2] / "topologies" / "basic.yaml").read_text())


def topo(edit=None, verify: dict | None = None):
    data = copy.deepcopy(BASIC)
    if edit:
        edit(data)
    if verify is not None:
        data["verify"] = verify
    return parse_topology(yaml.safe_dump(data))


def with_names(data) -> None:
    """Private DNS (verified, so it answers) and two aliases: one to the regional, one to a zonal name."""
    data["endpoint_services"][0].update(private_dns_name="api.example.com", private_dns_state="verified")
    data["endpoints"][0].update(private_dns_enabled=True,
                                aliases=["web.internal", {"name": "web-b.internal", "az": "us-east-1b"}])


def plan_and_build(topology):
    plan = build_plan(topology, "u9").to_dict()
    links = links_from_plan(plan)
    return plan, links, build(plan, links, topology.verify)


def test_each_client_asks_for_the_regional_and_each_zonal_name() -> None:
    plan, _, vp = plan_and_build(topo())
    ep = plan["endpoints"][0]
    regional = next(e["DnsName"] for e in ep["dns_entries"] if e["Scope"] == "regional")
    assert sorted((n.client, n.origin, n.expected) for n in vp.names) == [
        ("consumer-client", "regional", ("10.0.1.253", "10.0.2.253")),
        ("consumer-client", "zonal", ("10.0.1.253",)), ("consumer-client", "zonal", ("10.0.2.253",)),
        ("consumer-client-b", "regional", ("10.0.1.253", "10.0.2.253")),
        ("consumer-client-b", "zonal", ("10.0.1.253",)), ("consumer-client-b", "zonal", ("10.0.2.253",))]
    first = next(n for n in vp.names if n.origin == "regional" and n.client == "consumer-client")
    assert first.qname == regional and first.resolver == "10.0.0.2" and first.port == 80 and not first.skip
    # The regional name may land on either ENI; each candidate is the ordinary flow to that ENI.
    assert sorted(c.eni_ip for c in first.candidates) == ["10.0.1.253", "10.0.2.253"]
    assert {c.node_link for c in first.candidates} == {"nlb-target/web-nlb@us-east-1a", "nlb-target/web-nlb@us-east-1b"}
    zonal_b = next(n for n in vp.names if n.qname.count("-us-east-1b.") and n.client == "consumer-client")
    assert [c.eni_ip for c in zonal_b.candidates] == ["10.0.2.253"]
    assert first.name == f"consumer-client -> regional {regional}:80"


def test_private_dns_and_aliases_follow_their_cname_to_the_enis() -> None:
    _, _, vp = plan_and_build(topo(with_names))
    mine = {n.qname: n for n in vp.names if n.client == "consumer-client"}
    assert mine["api.example.com"].origin == "private-dns"
    assert mine["api.example.com"].expected == ("10.0.1.253", "10.0.2.253")
    assert mine["web.internal"].origin == "alias" and mine["web.internal"].expected == ("10.0.1.253", "10.0.2.253")
    assert mine["web-b.internal"].expected == ("10.0.2.253",)
    assert [c.eni_ip for c in mine["web-b.internal"].candidates] == ["10.0.2.253"]


def test_private_dns_that_is_not_verified_is_not_asked_for() -> None:
    def pending(data):
        with_names(data)
        data["endpoint_services"][0]["private_dns_state"] = None

    _, _, vp = plan_and_build(topo(pending))
    assert "api.example.com" not in {n.qname for n in vp.names}
    assert "web.internal" in {n.qname for n in vp.names}


def test_without_a_resolver_the_name_flows_are_skipped_with_the_reason() -> None:
    def no_dns(data):
        next(v for v in data["vpcs"] if v["name"] == "consumer")["enable_dns_support"] = False

    _, _, vp = plan_and_build(topo(no_dns))
    assert len(vp.names) == 6 and vp.dns == []
    assert all(n.resolver is None and "DNS support off" in n.skip for n in vp.names)
    checks = name_checks(NameFlowRun(vp.names[0]), ledger=None)
    assert [(c.category, c.status) for c in checks] == [("name", SKIP)] and "DNS support off" in checks[0].message


def test_declared_flow_by_name_keyword_and_literal() -> None:
    _, _, vp = plan_and_build(topo(with_names, {"builtin": False, "flows": [
        {"client": "consumer-client-b", "endpoint": "web-endpoint", "name": "zonal"},
        {"client": "consumer-client", "endpoint": "web-endpoint", "name": "WEB-B.internal.", "port": 80}]}))
    assert vp.flows == [] and vp.dns == []
    assert sorted((n.client, n.origin, n.expected, n.declared) for n in vp.names) == [
        ("consumer-client", "alias", ("10.0.2.253",), True),
        ("consumer-client-b", "zonal", ("10.0.1.253",), True),
        ("consumer-client-b", "zonal", ("10.0.2.253",), True)]


@pytest.mark.parametrize("flow, path, words", [
    ({"name": "www.example.org"}, "verify.flows[0].name", "serves no name 'www.example.org'"),
    ({"name": "regional", "az": "us-east-1a"}, "verify.flows[0].az", "cannot also pick an AZ"),
])
def test_a_name_the_lab_does_not_serve_is_bad_input(flow: dict, path: str, words: str) -> None:
    topology = topo(with_names, {"flows": [{"client": "consumer-client", "endpoint": "web-endpoint", **flow}]})
    plan = build_plan(topology, "u9").to_dict()
    with pytest.raises(LabInputError) as err:
        build(plan, links_from_plan(plan), topology.verify)
    assert err.value.path == path and words in err.value.problem and err.value.fix
    if path.endswith(".name"):
        assert "web.internal" in err.value.fix and "regional" in err.value.fix


def _judge(spec, given: tuple[str, ...], links):
    dns = DnsRun(spec.dns_spec(), local=(spec.client_ip, 40000), answers=tuple(sorted(given)), given=given, rcode=0)
    run = NameFlowRun(spec, dns=dns)
    if given and given[0] not in spec.expected:
        run.problem = f"it resolved first to {given[0]}, which is not an ENI this name stands for"
    return run, name_checks(run, Ledger(links, []))


def test_an_answer_that_is_not_an_eni_fails_even_when_it_comes_second() -> None:
    _, links, vp = plan_and_build(topo())
    regional = next(n for n in vp.names if n.origin == "regional")
    # An empty capture cannot vouch for the query: even a right answer is not a PASS.
    _, checks = _judge(regional, ("10.0.1.253", "10.0.2.253"), links)
    assert [c.status for c in checks] == [FAIL] and "never captured" in checks[0].message
    for given in (("10.0.1.253", "10.0.1.10"), ("10.0.1.10", "10.0.2.253")):
        run, checks = _judge(regional, given, links)
        assert checks[0].status == FAIL and "10.0.1.10" in checks[0].message, checks[0].message
        assert run.flow is None


def test_the_report_lists_name_flows_with_answer_and_verdict() -> None:
    _, links, vp = plan_and_build(topo())
    regional = next(n for n in vp.names if n.origin == "regional")
    run, checks = _judge(regional, ("10.0.1.10",), links)
    report = Report(lab="u9", topology="basic", checks=checks, ledger=Ledger(links, []), names=[run])
    text = report.text(ledger=False)
    assert f"{regional.name} [web-endpoint]: 10.0.0.2 -> 10.0.1.10; no request" in text
    assert "FAIL name" in text and not report.ok
    row = report.to_dict()["name_flows"][0]
    assert row["answers"] == ["10.0.1.10"] and row["verdict"] == FAIL and row["chosen"] is None
    assert PASS not in {c.status for c in checks}
