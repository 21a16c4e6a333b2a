"""The internet, planned (lab.plan.internet) and named (lab.plan.links), and hops ordered (lab.verify.hops):
pure, no root."""

from __future__ import annotations

import ipaddress

import pytest

from lab.plan.build import build_plan
from lab.plan.internet import public_addresses
from lab.plan.links import PUBLIC, SIDE_OF_KIND, is_public, links_from_plan
from lab.topology.internet import DOC_RANGES
from lab.topology.load import load_topology
from lab.verify.hops import Hop, first_public, text


@pytest.fixture(scope="module")
def plan() -> dict:
    return build_plan(load_topology("internet-vs-private"), "t").to_dict()


def test_every_public_address_is_a_documentation_address(plan) -> None:
    addrs = list(public_addresses(plan)) + [h["ip"] for h in plan["internet"]["hosts"]]
    assert sorted(addrs) == ["198.51.100.10", "203.0.113.10", "203.0.113.20", "203.0.113.30"]
    for ip in addrs:
        assert any(ipaddress.IPv4Address(ip) in r for r in DOC_RANGES)
    # ... and none is ever an address of an interface: NAT only (the instance holds its private one).
    held = {a.split("/")[0] for v in plan["veths"] for end in ("a", "b") for a in v[end]["addresses"]}
    assert not held & {"203.0.113.10", "203.0.113.20", "203.0.113.30"}


def test_each_igw_translates_only_its_own_vpc(plan) -> None:
    igws = {g["vpc"]: g for g in plan["igws"]}
    assert [(n["public_ip"], n["private_ip"], n["ports"]) for n in igws["consumer"]["nat"]] == \
        [("203.0.113.10", "10.0.1.10", ())]
    assert [(n["public_ip"], n["private_ip"], n["ports"]) for n in igws["provider"]["nat"]] == \
        [("203.0.113.20", "10.0.1.254", (80,)),  # the NLB node's provider address, listener ports only
         ("203.0.113.30", "10.0.1.4", ())]  # the NAT gateway's own address in the public subnet
    assert igws["consumer"]["netns"] != igws["provider"]["netns"]


def test_only_public_subnets_route_to_the_igw(plan) -> None:
    provider = next(g for g in plan["igws"] if g["vpc"] == "provider")
    bridges = {b["subnet"]: b["ifname"] for b in plan["bridges"] if b["place"]["name"] == provider["router_netns"]}
    assert list(provider["public_bridges"]) == [bridges["provider-public"]]
    defaults = [r for r in plan["routes"] if r["place"]["name"] == provider["router_netns"] and r["dst"] == "0.0.0.0/0"]
    [ngw] = provider["nat_gateways"]
    # never in main: the public subnets' table to the IGW, the private one's to its NAT gateway
    assert [(r["dev"], r["gateway"], r["table"]) for r in defaults] == [
        ("igw", provider["vpc_ip"], provider["table"]), (bridges["provider-public"], ngw["ip"], ngw["table"])]
    assert list(ngw["private_bridges"]) == [bridges["provider-private"]]
    inet = plan["internet"]["netns"]
    assert not [r for r in plan["routes"] if r["place"]["name"] == inet and r["dst"] == "0.0.0.0/0"]
    assert {r["dst"] for r in plan["routes"] if r["place"]["name"] == inet} == {
        "203.0.113.10/32", "203.0.113.20/32", "203.0.113.30/32"}


def test_internet_facing_listener_on_the_provider_address_without_an_endpoint(plan) -> None:
    [node] = plan["nodes"]
    public = [fe for fe in node["frontends"] if not fe["vpce_id"]]
    assert [(fe["ip"], fe["port"], fe["iface"]) for fe in public] == [(node["provider_ip"], 80, "prov")]


def test_public_dns_only_where_no_private_name_holds_it() -> None:
    topo = load_topology("internet-vs-private")
    consumer = lambda p: next(r for r in p.resolvers if r.vpc == "consumer")  # noqa: E731
    green = consumer(build_plan(topo, "t"))
    assert [r.origin for r in green.records if r.name == "api.example.com"] == ["private-dns"]
    leaky = consumer(build_plan(load_topology("internet-vs-private-leaky"), "t"))
    assert [(r.origin, r.values) for r in leaky.records if r.name == "api.example.com"] == \
        [("public", ("203.0.113.20",))]


def test_links_of_the_internet_are_public(plan) -> None:
    kinds = {ln.name: ln.kind for ln in links_from_plan(plan)}
    assert {n: k for n, k in kinds.items() if is_public(k)} == {
        "igw/provider": "igw", "internet/provider": "internet", "igw/consumer": "igw",
        "internet/consumer": "internet", "internet/host-scanner": "internet"}
    assert SIDE_OF_KIND["igw"] == SIDE_OF_KIND["internet"] == PUBLIC
    assert not is_public("endpoint-eni") and not is_public("peering")


def _hop(link: str, kind: str, ts: float) -> Hop:
    return Hop(link, kind, SIDE_OF_KIND[kind], "pl-t.a", "pl-t.b", 1, ts)


def test_the_first_public_hop_is_the_earliest() -> None:
    path = [_hop("consumer-subnet/c", "consumer-subnet", 1.0), _hop("igw/consumer", "igw", 1.1),
            _hop("internet/consumer", "internet", 1.2)]
    assert first_public(path).link == "igw/consumer"
    assert first_public(path[:1]) is None
    assert text(path).startswith("a > consumer-subnet/c > b > igw/consumer (public) > b")


def test_a_scan_goes_only_to_lab_addresses_and_is_bounded(plan) -> None:
    from lab.topology.errors import LabInputError
    from lab.verify.internet import MAX_SCAN, scan

    with pytest.raises(LabInputError, match="no internet host 'nobody'"):
        scan(plan, "nobody", ["203.0.113.20"], [80])
    with pytest.raises(LabInputError, match="8.8.8.8 is not an address of lab"):
        scan(plan, "scanner", ["203.0.113.20", "8.8.8.8"], [80])
    with pytest.raises(LabInputError, match="over the limit"):
        scan(plan, "scanner", ["203.0.113.20"], list(range(1, MAX_SCAN + 2)))
