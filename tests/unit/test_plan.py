"""The plan is pure: these run without root and pin the decisions the data plane relies on."""

from __future__ import annotations

import ipaddress

import pytest

from lab.apply.haproxy import render
from lab.plan.build import build_plan
from lab.plan.names import IFNAME_MAX, short_ifname
from lab.topology.errors import LabInputError
from lab.topology.load import load_topology


@pytest.fixture(scope="module")
def plan():
    return build_plan(load_topology("basic"), "default")


def test_every_interface_name_fits_the_kernel_limit(plan):
    names = [b.ifname for b in plan.bridges]
    names += [end.ifname for v in plan.veths for end in (v.a, v.b)] + [t for v in plan.veths for t in v.tmp]
    assert names and all(len(n) <= IFNAME_MAX for n in names), [n for n in names if len(n) > IFNAME_MAX]


def test_interface_names_are_unique_within_each_namespace(plan):
    seen: dict[str, set[str]] = {}
    for v in plan.veths:
        for end in (v.a, v.b):
            bucket = seen.setdefault(str(end.place), set())
            assert end.ifname not in bucket, f"{end.ifname} twice in {end.place}"
            bucket.add(end.ifname)


def test_short_ifname_keeps_short_names_and_hashes_long_ones():
    assert short_ifname("br-", "web") == "br-web"
    long_a, long_b = short_ifname("i-", "consumer-client-a"), short_ifname("i-", "consumer-client-b")
    assert len(long_a) == IFNAME_MAX and long_a != long_b


def test_overlap_is_real_a_target_shares_a_client_address(plan):
    ips = {i["Name"]: i["PrivateIpAddress"] for i in plan.inventory["instances"]}
    assert ips["target-a"] == ips["consumer-client"]


def test_eni_addresses_come_from_the_consumer_subnets(plan):
    subnets = {s["Name"]: ipaddress.IPv4Network(s["CidrBlock"]) for s in plan.inventory["subnets"]}
    (endpoint,) = plan.endpoints
    assert len(endpoint.enis) == 2
    for eni in endpoint.enis:
        assert ipaddress.IPv4Address(eni.ip) in subnets[eni.subnet]
        assert eni.subnet.startswith("consumer-")


def test_a_node_never_holds_one_address_on_two_legs(plan):
    for node in plan.nodes:
        addresses = [a for v in plan.veths for end in (v.a, v.b) if end.place.name == node.container for a in end.addresses]
        assert len(addresses) == len(set(addresses)) >= 2


def test_each_node_leg_has_its_own_table_and_rule(plan):
    for node in plan.nodes:
        rules = [r for r in plan.rules if r.place.name == node.container]
        assert len({r.table for r in rules}) == len(rules) == 2
        for rule in rules:
            tables = [r for r in plan.routes if r.place.name == node.container and r.table == rule.table]
            assert {r.dst for r in tables} >= {"0.0.0.0/0"}


def test_cross_zone_off_sends_only_to_own_az(plan):
    for node in plan.nodes:
        (backend,) = node.backends
        assert [s.name for s in backend.servers] == [f"target-{node.az[-1]}"]
        assert all(s.source == node.provider_ip for s in backend.servers)


def test_ids_are_deterministic_per_lab_and_differ_between_labs(plan):
    again = build_plan(load_topology("basic"), "default")
    other = build_plan(load_topology("basic"), "other")
    assert again.endpoints[0].id == plan.endpoints[0].id
    assert other.endpoints[0].id != plan.endpoints[0].id
    assert plan.endpoints[0].id.startswith("vpce-0") and len(plan.endpoints[0].id) == len("vpce-") + 17


def test_dns_names_follow_aws_format(plan):
    (endpoint,) = plan.endpoints
    regional, *zonal = endpoint.dns_entries
    assert regional["DnsName"].startswith(endpoint.id + "-")
    assert regional["DnsName"].endswith(f".{endpoint.service_id}.us-east-1.vpce.amazonaws.com")
    assert [z["AvailabilityZone"] for z in zonal] == ["us-east-1a", "us-east-1b"]
    assert all(f"-{z['AvailabilityZone']}.vpce-svc-" in z["DnsName"] for z in zonal)


def test_rendered_haproxy_config_carries_the_endpoint_id_and_pins_legs(plan):
    node = plan.nodes[0]
    config = render(node)
    frontend = node.frontends[0]
    assert f'set-var-fmt(sess.vpce_tlv) "\\x01{frontend.vpce_id}"' in config
    assert f"bind {frontend.ip}:80 interface {frontend.iface}" in config
    assert "send-proxy-v2" in config and "set-proxy-v2-tlv-fmt(0xEA)" in config
    assert f"source {node.provider_ip} interface prov" in config
    assert "frontend vpce" not in render(node, boot=True)


def test_health_checks_come_from_a_check_only_twin_without_the_0xea_tlv(plan):
    """HAProxy would put an empty TLV 0xEA on a checking server's LOCAL headers; AWS sends none."""
    config = render(plan.nodes[0])
    servers = [line.split() for line in config.splitlines() if line.strip().startswith("server ")]
    checking = [s for s in servers if "check" in s]
    tracking = [s for s in servers if "track" in s]
    assert checking and tracking
    assert not [s for s in checking if "set-proxy-v2-tlv-fmt(0xEA)" in s]
    assert all("check-send-proxy" in s and "crc32c" in s for s in checking)
    assert all("set-proxy-v2-tlv-fmt(0xEA)" in s and "crc32c" in s for s in tracking)
    twins = {s[s.index("track") + 1] for s in tracking}
    assert twins == {f"checks-tg-web/{s[1]}" for s in checking}
    assert "backend checks-tg-web" in config


def test_endpoint_pending_acceptance_gets_no_leg(tmp_path):
    text = load_topology("basic").model_dump_json()
    import json

    data = json.loads(text)
    data["endpoint_services"][0]["acceptance_required"] = True
    from lab.topology.model import Topology

    plan = build_plan(Topology.model_validate(data), "default")
    assert plan.endpoints[0].state == "pendingAcceptance"
    assert not any(v.role == "endpoint-eni" for v in plan.veths)
    assert all(not n.frontends for n in plan.nodes)


@pytest.mark.parametrize("bad", ["", "Default", "9lab", "a" * 17, "has.dot"])
def test_invalid_lab_names_are_refused(bad):
    with pytest.raises(LabInputError, match="--name"):
        build_plan(load_topology("basic"), bad)


def test_gateway_bridges_have_fixed_distinct_unicast_macs(plan):
    macs = [b.mac for b in plan.bridges]
    assert len(set(macs)) == len(macs) == 4
    for mac in macs:
        first = int(mac.split(":")[0], 16)
        assert first & 0b10 and not first & 0b1  # locally administered, unicast
    assert [b.mac for b in build_plan(load_topology("basic"), "default").bridges] == macs
