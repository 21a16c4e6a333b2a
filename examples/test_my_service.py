"""An example test of a PrivateLink service, written with the privatelink-lab pytest plugin.

Copy it next to your own topology and run it as root (the lab makes namespaces and containers):

    sudo .venv/bin/pytest examples/test_my_service.py -v

The plugin (installed with privatelink-lab) brings the topology up once for this module under a
unique name, hands it to the tests as the `lab` fixture, and tears it down afterwards. Traffic
made inside `with lab.capture():` is captured on every link of the lab, so each assertion below
is about where packets really went, not about what answered. When one fails, its message shows
the ledger of links and the flow's packets link by link.
"""

from __future__ import annotations

import pytest

from lab.verify.assertions import assert_not_on, assert_only_links, assert_ppv2, assert_snat

# The topology to bring up: a built-in name ("basic", "leaky") or a path to your YAML file.
pytestmark = pytest.mark.lab_topology("basic")

# The links a request to the endpoint must cross, and only these: the client's subnet link, the
# endpoint ENI, the NLB node's leg towards the targets, and one target's subnet link.
THROUGH_THE_ENDPOINT = ["consumer-subnet/consumer-client", "endpoint-eni/*", "nlb-target/*", "provider-subnet/*"]


def test_the_service_answers_through_the_endpoint(lab):
    with lab.capture():
        flow = lab.http("consumer-client", "web-endpoint")
    assert flow.status == 200, flow.describe()
    assert_only_links(flow, THROUGH_THE_ENDPOINT)


def test_targets_learn_who_called_from_proxy_protocol(lab):
    # The endpoint as DescribeVpcEndpoints shows it (VpcEndpointId, DnsEntries, ...; lab facts under "Lab").
    endpoint = lab.endpoint("web-endpoint")
    with lab.capture():
        flow = lab.http("consumer-client", "web-endpoint")
    # The NLB's header names the consumer's socket, the ENI it connected to, and the endpoint ID.
    assert_ppv2(flow, vpce_id=endpoint["VpcEndpointId"])
    # ...while the connection itself comes from the NLB node, never from the consumer.
    assert_snat(flow)
    # The demo target echoes what it read from the header.
    assert flow.json()["vpce_id"] == endpoint["VpcEndpointId"]


def test_a_zonal_name_leads_to_its_zones_eni(lab):
    endpoint = lab.endpoint("web-endpoint")
    zonal_b = next(d["DnsName"] for d in endpoint["DnsEntries"] if "-us-east-1b." in d["DnsName"])
    with lab.capture():
        # Resolved inside consumer-client by its VPC's resolver, as the application would.
        flow = lab.http("consumer-client", dns_name=zonal_b)
    assert flow.status == 200, flow.describe()
    assert_only_links(flow, ["consumer-subnet/consumer-client", "endpoint-eni/web-endpoint@us-east-1b",
                             "nlb-target/web-nlb@us-east-1b", "provider-subnet/target-b"])
    # A bare address means any port: the client's ephemeral port is not known in advance.
    assert_ppv2(flow, src=lab.instance("consumer-client")["PrivateIpAddress"], vpce_id=endpoint["VpcEndpointId"])


def test_the_provider_is_unreachable_except_through_the_endpoint(lab):
    target = lab.instance("target-b")
    with lab.capture():
        probe = lab.probe("consumer-client", target["PrivateIpAddress"], port=8080)
    # Judged by the capture: the SYN may wander inside the consumer VPC, never onto a provider link.
    assert_not_on(probe, ["provider-subnet", "nlb-target", "peering"])


def test_the_whole_lab_verifies(lab):
    report = lab.verify(wait_health_checks=False)
    assert report.ok, report.text()
