"""DNS in the plan (pure, no root): which names each VPC's resolver holds, and when."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from lab.plan.build import build_plan
from lab.plan.dns import hostname, resolver_ip, search_domain, verification_record, verification_state
from lab.topology.errors import TopologyError
from lab.topology.load import parse_topology

BASIC = yaml.safe_load((Path(__file__).resolve().parents[2] / "topologies" / "basic.yaml").read_text())


def topo(**changes):
    """basic.yaml with private DNS, two aliases, and any further edits (a function of the dict)."""
    data = copy.deepcopy(BASIC)
    data["endpoint_services"][0]["private_dns_name"] = "api.example.com"
    ep = data["endpoints"][0]
    ep["private_dns_enabled"] = True
    ep["aliases"] = ["web.internal", {"name": "web-b.internal", "az": "us-east-1b"}]
    for edit in changes.values():
        edit(data)
    return parse_topology(yaml.safe_dump(data))


def resolver(plan, vpc):
    return next(r for r in plan.resolvers if r.vpc == vpc)


def by_name(res):
    return {r.name: r for r in res.records}


def verified(data):
    data["endpoint_services"][0]["private_dns_state"] = "verified"


def test_resolver_sits_at_the_vpc_base_plus_two_in_the_router_namespace():
    plan = build_plan(topo(), "lab1")
    consumer = resolver(plan, "consumer")
    assert consumer.ip == "10.0.0.2" and consumer.netns == "pl-lab1.consumer"
    assert resolver_ip("172.31.0.0/16") == "172.31.0.2"
    assert set(consumer.clients) == {"pl-lab1.consumer", "pl-lab1.consumer.consumer-client",
                                     "pl-lab1.consumer.consumer-client-b"}


def test_regional_name_answers_every_eni_and_zonal_names_one_each():
    plan = build_plan(topo(), "lab1")
    ep = plan.endpoints[0]
    records = by_name(resolver(plan, "consumer"))
    regional = next(e["DnsName"] for e in ep.dns_entries if e["Scope"] == "regional")
    assert records[regional].type == "A"
    assert sorted(records[regional].values) == sorted(eni.ip for eni in ep.enis) and len(ep.enis) == 2
    for entry in (e for e in ep.dns_entries if e["Scope"] == "zonal"):
        eni = next(e for e in ep.enis if e.az == entry["AvailabilityZone"])
        assert records[entry["DnsName"]].values == (eni.ip,)


def test_endpoint_names_only_in_the_endpoints_own_vpc():
    plan = build_plan(topo(), "lab1")
    provider = resolver(plan, "provider").records
    assert provider and {r.origin for r in provider} == {"hostname"}, provider
    assert not {"web.internal", "web-b.internal"} & {r.name for r in provider}


def test_aliases_are_cnames_to_the_regional_or_the_zonal_name():
    plan = build_plan(topo(), "lab1")
    ep = plan.endpoints[0]
    records = by_name(resolver(plan, "consumer"))
    regional = next(e["DnsName"] for e in ep.dns_entries if e["Scope"] == "regional")
    zonal_b = next(e["DnsName"] for e in ep.dns_entries if e.get("AvailabilityZone") == "us-east-1b")
    assert (records["web.internal"].type, records["web.internal"].values) == ("CNAME", (regional,))
    assert records["web-b.internal"].values == (zonal_b,)


def test_private_name_needs_verification():
    pending = by_name(resolver(build_plan(topo(), "lab1"), "consumer"))
    assert "api.example.com" not in pending
    failed = by_name(resolver(build_plan(topo(f=lambda d: d["endpoint_services"][0].update(
        private_dns_state="failed")), "lab1"), "consumer"))
    assert "api.example.com" not in failed
    plan = build_plan(topo(v=verified), "lab1")
    records = by_name(resolver(plan, "consumer"))
    regional = next(e["DnsName"] for e in plan.endpoints[0].dns_entries if e["Scope"] == "regional")
    assert (records["api.example.com"].type, records["api.example.com"].values) == ("CNAME", (regional,))


def test_private_name_needs_private_dns_enabled_on_the_endpoint():
    plan = build_plan(topo(v=verified, off=lambda d: d["endpoints"][0].update(private_dns_enabled=False)), "lab1")
    assert "api.example.com" not in by_name(resolver(plan, "consumer"))


@pytest.mark.parametrize("state", ["pendingAcceptance", "rejected"])
def test_an_endpoint_that_is_not_available_has_no_names_at_all(state):
    plan = build_plan(topo(v=verified, s=lambda d: d["endpoints"][0].update(state=state)), "lab1")
    names = set(by_name(resolver(plan, "consumer")))
    assert not any("vpce" in n for n in names) and not names & {"api.example.com", "web.internal", "web-b.internal"}
    assert all(r.origin == "hostname" for r in resolver(plan, "consumer").records)


def test_instance_host_names_follow_dns_hostnames():
    plan = build_plan(topo(), "lab1")
    assert by_name(resolver(plan, "consumer"))["ip-10-0-2-20.ec2.internal"].values == ("10.0.2.20",)
    off = build_plan(topo(h=lambda d: d["vpcs"][0].update(enable_dns_hostnames=False)), "lab1")
    assert not any(r.origin == "hostname" for r in resolver(off, "provider").records)
    assert hostname("10.1.2.3", "eu-west-1") == "ip-10-1-2-3.eu-west-1.compute.internal"
    assert search_domain("us-east-1") == "ec2.internal"


def test_dns_support_off_means_no_resolver_and_no_names():
    plan = build_plan(topo(off=lambda d: d["vpcs"][0].update(enable_dns_support=False)), "lab1")
    provider = resolver(plan, "provider")
    assert not provider.enabled and provider.records == ()


def test_verification_record_is_stable_per_lab_and_differs_between_labs():
    a = verification_record("lab1", "web-service", "api.example.com")
    assert a == verification_record("lab1", "web-service", "api.example.com")
    assert a != verification_record("lab2", "web-service", "api.example.com")
    name, value = a
    assert name.startswith("_vpce-") and name.endswith(".api.example.com") and len(name.split(".")[0]) == 14
    assert value.startswith("vpce:") and len(value) == 25


def test_verification_state_needs_the_exact_value():
    assert verification_state("vpce:abc", ["other", "vpce:abc"]) == "verified"
    assert verification_state("vpce:abc", []) == "failed"
    assert verification_state("vpce:abc", ["vpce:abcd"]) == "failed"


def test_plan_records_the_verification_in_the_service_inventory():
    plan = build_plan(topo(), "lab1")
    (pdn,) = plan.private_dns_names
    svc = plan.inventory["services"][0]
    assert svc["PrivateDnsName"] == "api.example.com"
    assert svc["PrivateDnsNameConfiguration"] == {"State": "pendingVerification", "Type": "TXT", "Name": pdn.txt_name,
                                                  "Value": pdn.txt_value}


# -- what the topology refuses ------------------------------------------------------------------

@pytest.mark.parametrize(("edit", "path", "words"), [
    (lambda d: d["endpoint_services"][0].update(private_dns_name=None), "endpoints[0].private_dns_enabled",
     "has no private_dns_name"),
    (lambda d: d["vpcs"][1].update(enable_dns_hostnames=False), "endpoints[0].private_dns_enabled",
     "needs enable_dns_support and enable_dns_hostnames"),
    (lambda d: d["endpoints"][0].update(aliases=["web.internal", "web.internal"]), "endpoints[0].aliases[1]",
     "already used"),
    (lambda d: d["endpoints"][0].update(aliases=["api.example.com"]), "endpoints[0].aliases[0]", "already used"),
    (lambda d: d["endpoints"][0].update(aliases=[{"name": "x.internal", "az": "us-east-1c"}]),
     "endpoints[0].aliases[0].az", "has no ENI in 'us-east-1c'"),
    (lambda d: d["endpoints"][0].update(aliases=["x.vpce.amazonaws.com"]), "endpoints[0].aliases[0].name",
     "AWS's own domain"),
    (lambda d: d["endpoints"][0].update(aliases=["Web.Internal"]), "endpoints[0].aliases[0].name",
     "not a DNS name"),
    (lambda d: d["endpoints"][0].update(aliases=["localhost"]), "endpoints[0].aliases[0].name", "not a DNS name"),
    (lambda d: d["endpoint_services"][0].update(private_dns_name="api_x.example.com"),
     "endpoint_services[0].private_dns_name", "not a DNS name"),
    (lambda d: d["endpoint_services"][0].update(private_dns_state="done"),
     "endpoint_services[0].private_dns_state", "not allowed"),
])
def test_bad_dns_settings_name_the_path_and_the_fix(edit, path, words):
    with pytest.raises(TopologyError) as err:
        topo(e=edit)
    assert err.value.path == path and words in err.value.problem and err.value.fix


def test_private_dns_state_without_a_name_is_refused():
    with pytest.raises(TopologyError) as err:
        topo(e=lambda d: (d["endpoints"][0].update(private_dns_enabled=False),
                          d["endpoint_services"][0].update(private_dns_name=None, private_dns_state="verified")))
    assert err.value.path == "endpoint_services[0].private_dns_state"


def test_cname_pool_holds_every_cname_the_vpc_could_serve_whatever_the_state():
    plan = build_plan(topo(s=lambda d: d["endpoints"][0].update(state="pendingAcceptance")), "lab1")
    consumer = resolver(plan, "consumer")
    assert not consumer.cnames()  # nothing answers now ...
    assert {name for name, _ in consumer.cname_pool} == {"api.example.com", "web.internal", "web-b.internal"}
    verified_plan = build_plan(topo(v=verified), "lab1")
    live = {(r.name, r.values[0]) for r in resolver(verified_plan, "consumer").cnames()}
    assert live == set(resolver(verified_plan, "consumer").cname_pool)  # ... and the pool is what could
    assert resolver(plan, "provider").cname_pool == ()
