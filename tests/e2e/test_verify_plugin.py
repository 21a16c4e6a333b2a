"""The pytest plugin's LabHandle on a real lab (basic.yaml, one lab for the module): endpoint() in
DescribeVpcEndpoints' shape (the very JSON of `lab endpoint show`), http() by DNS name through the
client VPC's resolver, a misspelled AZ or an unknown name as a clear error, and assert_ppv2 with a
bare address."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from lab.verify.assertions import assert_only_links, assert_ppv2

pytestmark = [pytest.mark.root, pytest.mark.lab_topology("basic")]

PASCAL = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def aws_keys_only(value) -> list[str]:
    if isinstance(value, dict):
        return [k for k in value if k != "Lab" and not PASCAL.match(k)] + [
            bad for k, v in value.items() if k != "Lab" for bad in aws_keys_only(v)]
    if isinstance(value, list):
        return [bad for v in value for bad in aws_keys_only(v)]
    return []


def test_endpoint_is_the_describe_vpc_endpoints_shape(lab) -> None:
    ep = lab.endpoint("web-endpoint")
    planned = lab.plan["endpoints"][0]
    assert ep["VpcEndpointId"] == planned["id"] and ep["State"] == "available"
    assert ep["NetworkInterfaceIds"] == [e["id"] for e in planned["enis"]]
    assert aws_keys_only(ep) == []
    assert lab.endpoint(planned["id"]) == ep  # by ID too
    shown = subprocess.run([sys.executable, "-m", "lab.cli.main", "endpoint", "show", "--name", lab.name,
                            "web-endpoint", "--format", "json"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == ep
    with pytest.raises(KeyError, match=r"no endpoint 'nope'.*it has: web-endpoint \(vpce-"):
        lab.endpoint("nope")


def test_a_misspelled_az_fails_naming_the_azs(lab) -> None:
    with pytest.raises(ValueError, match=r"no ENI in AZ 'us-east-1z'; its AZs: us-east-1a, us-east-1b"):
        lab.http("consumer-client", "web-endpoint", az="us-east-1z")
    flow = lab.http("consumer-client", "web-endpoint", az="us-east-1b")
    assert flow.status == 200 and flow.dst == ("10.0.2.253", 80) and flow.json()["az"] == "us-east-1b"


def test_http_by_a_zonal_name_goes_to_its_azs_eni(lab) -> None:
    ep = lab.endpoint("web-endpoint")
    eni_b = next(e["PrivateIpAddress"] for e in ep["Lab"]["Enis"] if e["AvailabilityZone"] == "us-east-1b")
    zonal_b = next(d["DnsName"] for d in ep["DnsEntries"] if "-us-east-1b." in d["DnsName"])
    with lab.capture(["consumer-subnet/consumer-client"]) as cap:
        flow = lab.http("consumer-client", dns_name=zonal_b)
    assert flow.status == 200, flow.describe()
    assert flow.dst == (eni_b, 80) and flow.json()["eni"] == f"{eni_b}:80"
    # The query went to the VPC's resolver from the client's own link (the capture saw it).
    resolver = next(r["ip"] for r in lab.plan["resolvers"] if r["vpc"] == "consumer")
    dns = [p for p in cap.ledger.by_link["consumer-subnet/consumer-client"].packets if p.dport == 53]
    assert dns and all(p.dst == resolver for p in dns)


def test_http_by_a_name_that_does_not_resolve_fails_clearly(lab) -> None:
    with pytest.raises(LookupError, match=r"nope\.example\.com did not resolve from consumer-client "
                                          r"\(resolver 10\.0\.0\.2: rcode 3\)"):
        lab.http("consumer-client", dns_name="nope.example.com")
    with pytest.raises(ValueError, match="dns_name picks the address"):
        lab.http("consumer-client", "web-endpoint", dns_name="x.example.com")


def test_assert_ppv2_with_a_bare_address_on_a_real_flow(lab) -> None:
    client = lab.instance("consumer-client")["PrivateIpAddress"]
    other = lab.instance("consumer-client-b")["PrivateIpAddress"]
    with lab.capture():
        flow = lab.http("consumer-client", "web-endpoint")
    assert_only_links(flow, ["consumer-subnet/consumer-client", "endpoint-eni/*", "nlb-target/*", "provider-subnet/*"])
    assert_ppv2(flow, src=client, dst=flow.dst[0])
    with pytest.raises(AssertionError, match=rf"src='{re.escape(client)}:\d+' \(expected '{re.escape(other)}', any "
                                             "port\\)"):
        assert_ppv2(flow, src=other)
