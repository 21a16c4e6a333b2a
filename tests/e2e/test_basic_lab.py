"""The default lab end to end: both consumer clients reach the service through the endpoint,
the target sees PPv2 with the right endpoint ID and the client's real address, and its peer is
the NLB node's provider address. Checked with `ip netns exec` + curl, independently of `lab`."""

from __future__ import annotations

import json
import subprocess

import pytest

from lab import api

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def basic():
    import secrets

    name = f"basic-{secrets.token_hex(3)}"
    result = api.up("basic", name)
    try:
        yield result.plan
    finally:
        api.down(name)


def _netns(plan, instance: str) -> str:
    return next(i["Netns"] for i in plan.inventory["instances"] if i["Name"] == instance)


def _curl(plan, client: str, ip: str, port: int = 80) -> dict:
    out = subprocess.run(["ip", "netns", "exec", _netns(plan, client), "curl", "-s", "-m", "5", f"http://{ip}:{port}/"],
                         capture_output=True, text=True, timeout=15)
    assert out.returncode == 0, f"curl from {client} to {ip}:{port} failed: {out.returncode} {out.stderr}"
    return json.loads(out.stdout)


@pytest.mark.parametrize("client", ["consumer-client", "consumer-client-b"])
def test_each_client_reaches_the_service_through_each_eni(basic, client):
    (endpoint,) = basic.endpoints
    client_ip = next(i["PrivateIpAddress"] for i in basic.inventory["instances"] if i["Name"] == client)
    nodes = {n.container: n for n in basic.nodes}
    for eni in endpoint.enis:
        answer = _curl(basic, client, eni.ip)
        assert answer["vpce_id"] == endpoint.id
        assert answer["client"].split(":")[0] == client_ip  # the consumer's real address, via PPv2
        assert answer["eni"] == f"{eni.ip}:80"
        # Cross-zone is off: the ENI's AZ node answers from its own AZ's target, whose peer is that node.
        assert answer["az"] == eni.az
        assert answer["peer"].split(":")[0] == nodes[eni.node].provider_ip


def test_a_client_with_the_same_ip_as_the_target_is_answered_by_that_target(basic):
    ips = {i["Name"]: i["PrivateIpAddress"] for i in basic.inventory["instances"]}
    assert ips["consumer-client"] == ips["target-a"]
    eni_a = next(e for e in basic.endpoints[0].enis if e.az == "us-east-1a")
    answer = _curl(basic, "consumer-client", eni_a.ip)
    assert answer["instance"] == "target-a"
    assert answer["client"].split(":")[0] == ips["target-a"]


def test_the_target_refuses_a_connection_without_a_ppv2_header(basic):
    """From the provider's own router (same VPC), a plain request to the target gets no answer."""
    provider = next(v["Netns"] for v in basic.inventory["vpcs"] if v["Name"] == "provider")
    out = subprocess.run(["ip", "netns", "exec", provider, "curl", "-s", "-m", "3", "http://10.0.1.10:8080/"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode != 0 and out.stdout == ""


def test_nlb_nodes_have_no_route_between_legs(basic):
    for node in basic.nodes:
        pid = api.runtime().pid(node.container)
        with open(f"/proc/{pid}/net/dev") as f:
            legs = [line.split(":")[0].strip() for line in f.readlines()[2:]]
        assert "prov" in legs and any(leg.startswith("eni-") for leg in legs)
        out = subprocess.run(["nsenter", "--net=/proc/%d/ns/net" % pid, "cat", "/proc/sys/net/ipv4/ip_forward"],
                             capture_output=True, text=True, timeout=5)
        assert out.stdout.strip() == "0"
        main = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "ip", "-j", "route", "show", "table", "main"],
                              capture_output=True, text=True, timeout=5)
        assert json.loads(main.stdout or "[]") == []  # every leg route lives in its own table


def test_status_reports_healthy_targets(basic):
    data = api.status(basic.lab)
    assert all(n["Running"] for n in data["nlb_nodes"])
    assert {t["Target"]: t["Health"] for t in data["target_health"]} == {"target-a": "UP", "target-b": "UP"}
    # AWS shapes, lab-only facts under Lab: the live namespaces, the ENIs as DescribeNetworkInterfaces shows them
    assert all(item["Lab"]["Live"] for item in data["vpcs"] + data["instances"])
    (ep,) = data["endpoints"]
    assert [e["NetworkInterfaceId"] for e in data["network_interfaces"]] == ep["NetworkInterfaceIds"]
    assert [e["PrivateIpAddress"] for e in data["network_interfaces"]] == [
        e["PrivateIpAddress"] for e in ep["Lab"]["Enis"]]
