"""Direct Connect, pure parts: the plan of direct-connect.yaml (namespaces, the DX veth, BGP speakers,
the inbound endpoint and the on-prem resolver), the link kinds, BIRD's rendered config, the parsing of
birdc's answers, and verify's on-prem flows (which must cross the DX link)."""

from __future__ import annotations

import pytest

from lab.apply import bgp
from lab.plan.build import build_plan
from lab.plan.links import SIDE_OF_KIND, links_from_plan
from lab.topology.load import load_topology
from lab.verify.spec import build as build_verify


@pytest.fixture(scope="module")
def plan() -> dict:
    return build_plan(load_topology("direct-connect"), "u1").to_dict()


def test_dx_link_joins_the_onprem_router_and_the_vpc_router_with_aws_vif_addresses(plan) -> None:
    (pair,) = [v for v in plan["veths"] if v["role"] == "dx"]
    assert pair["a"]["place"]["name"] == "pl-u1.datacenter" and list(pair["a"]["addresses"]) == ["169.254.252.2/30"]
    assert pair["b"]["place"]["name"] == "pl-u1.enterprise" and list(pair["b"]["addresses"]) == ["169.254.252.1/30"]
    # BGP alone routes across it: no static route of the plan uses the DX interface.
    assert not [r for r in plan["routes"] if r["dev"] == pair["a"]["ifname"]]


def test_bgp_speakers_use_aws_default_asn_and_announce_each_sides_cidr(plan) -> None:
    (dx,) = plan["direct_connect"]
    customer, amazon = dx["speakers"]
    assert (customer["local_asn"], customer["peer_asn"]) == (65000, 64512)
    assert (amazon["local_asn"], amazon["peer_asn"]) == (64512, 65000)
    assert list(customer["announce"]) == ["172.16.0.0/16"] and list(amazon["announce"]) == ["10.0.0.0/16"]
    assert (customer["keepalive_s"], customer["hold_s"]) == (3, 9)


def test_onprem_resolver_forwards_the_endpoint_names_to_the_inbound_endpoint(plan) -> None:
    (inbound,) = plan["inbound_endpoints"]
    ips = [ip for _bridge, ip in inbound["addresses"]]
    assert ips == ["10.0.1.4", "10.0.2.4"] and inbound["upstream"] == "10.0.0.2"
    (resolver,) = plan["onprem_resolvers"]
    assert resolver["ip"] == "172.16.0.2"
    assert dict((d, list(s)) for d, s in resolver["forward"]) == {"vpce.amazonaws.com": ips,
                                                                 "api.saas.example.com": ips}
    # No ENI or instance was given an inbound endpoint address.
    taken = {e["ip"] for ep in plan["endpoints"] for e in ep["enis"]}
    taken |= {i["PrivateIpAddress"] for i in plan["inventory"]["instances"]}
    assert not taken & set(ips)


def test_allowed_prefixes_replace_the_vpc_cidr_in_what_the_vpc_side_announces() -> None:
    plan = build_plan(load_topology("direct-connect-unadvertised"), "u2").to_dict()
    assert list(plan["direct_connect"][0]["speakers"][1]["announce"]) == ["10.0.9.0/24"]


def test_links_have_dx_and_onprem_subnet_kinds_on_the_private_side(plan) -> None:
    links = {ln.name: ln for ln in links_from_plan(plan)}
    assert links["dx/dx-primary"].kind == "dx" and links["dx/dx-primary"].place == "pl-u1.enterprise"
    assert links["onprem-subnet/dc-client"].kind == "onprem-subnet"
    assert SIDE_OF_KIND["dx"] == SIDE_OF_KIND["onprem-subnet"] == SIDE_OF_KIND["endpoint-eni"]


def test_bird_config_has_the_session_timers_and_only_bgp_routes_go_to_the_kernel(plan) -> None:
    from lab.plan.onprem import BgpSpeaker, DxPlan

    raw = plan["direct_connect"][0]
    speakers = tuple(BgpSpeaker(**{**s, "announce": tuple(s["announce"])}) for s in raw["speakers"])
    dx = DxPlan(**{**raw, "speakers": speakers})
    text = bgp.render("u1", dx, speakers[1], "amazon")
    assert "local 169.254.252.1 as 64512;" in text and "neighbor 169.254.252.2 as 65000;" in text
    assert "hold time 9;" in text and "keepalive time 3;" in text
    assert "export where source = RTS_BGP;" in text and "route 10.0.0.0/16 blackhole;" in text


SHOW_PROTOCOLS = """BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
vif        BGP        ---        up     22:47:01.821  Established
"""
SHOW_ACTIVE = """BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
vif        BGP        ---        start  22:47:01.821  Active        Socket: Connection refused
"""
SHOW_ROUTE = """BIRD 2.0.12 ready.
Table master4:
172.16.0.0/16        unicast [vif 22:47:01.936] * (100) [AS65000i]
\tvia 169.254.252.2 on dx-dx-primary
"""


def test_birdc_answers_are_read_as_state_and_learned_prefixes() -> None:
    assert bgp.parse_state(SHOW_PROTOCOLS) == "Established"
    assert bgp.parse_state(SHOW_ACTIVE) == "Active"
    assert bgp.parse_state("BIRD 2.0.12 ready.\n") is None
    assert bgp.parse_routes(SHOW_ROUTE) == ["172.16.0.0/16"]


def test_verify_flows_from_the_data_centre_must_cross_the_dx_link(plan) -> None:
    topo = load_topology("direct-connect")
    vplan = build_verify(plan, links_from_plan(plan), topo.verify)
    onprem = [f for f in vplan.flows if f.client == "dc-client"]
    assert len(onprem) == 2 and all(f.transit == ("dx/dx-primary",) for f in onprem)
    assert all(f.client_link == "onprem-subnet/dc-client" for f in onprem)
    assert all(f.transit == () for f in vplan.flows if f.client == "cloud-client")
    named = [n for n in vplan.names if n.client == "dc-client"]
    assert named and all(n.resolver == "172.16.0.2" for n in named)  # its own site's resolver


def test_doctor_calls_a_missing_8021q_a_warning_that_says_what_it_means() -> None:
    from lab.doctor import WARN, assess_feature

    check = assess_feature("vlan", "Operation not supported")
    assert check.status == WARN and not check.blocks
    assert "Direct Connect" in check.detail and "8021q" in check.fix
