"""The pytest plugin's helpers without root: assert_ppv2's src/dst forms on a ledger built from
synthetic frames, and LabHandle's choice of ENI (a misspelled AZ is an error naming the AZs)."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from lab.plan.build import build_plan
from lab.ppv2.aws import aws_nlb_header
from lab.ppv2.codec import encode
from lab.topology.load import load_topology
from lab.verify.assertions import assert_ppv2
from lab.verify.capture import Frame
from lab.verify.ledger import Ledger
from lab.plan.links import links_from_plan
from lab.verify.session import LabHandle
from lab.verify.traffic import FlowRun

CLIENT, CLIENT_PORT, ENI, VPCE = "10.0.1.10", 41000, "10.0.1.253", "vpce-0123456789abcdef0"


@pytest.fixture(scope="module")
def plan() -> dict:
    return build_plan(load_topology("basic"), "u-plug").to_dict()


def flow_through_the_nlb(plan: dict, header_src: str = CLIENT) -> FlowRun:
    """A flow whose NLB-to-target connection starts with an AWS PROXY v2 header, as captured."""
    links = links_from_plan(plan)
    leg = next(ln for ln in links if ln.kind == "nlb-target")
    run = FlowRun(None, "lab-verify-00112233", CLIENT, (ENI, 80), local=(CLIENT, CLIENT_PORT), status=200)
    node, target, seq = "10.0.1.254", "10.0.1.10", 1000
    payload = encode(aws_nlb_header(header_src, CLIENT_PORT, ENI, 80, VPCE)) + \
        f"GET /{run.token} HTTP/1.0\r\n\r\n".encode()
    pkts = [IP(src=node, dst=target) / TCP(sport=50000, dport=8080, flags="S", seq=seq),
            IP(src=target, dst=node) / TCP(sport=8080, dport=50000, flags="SA", seq=5000, ack=seq + 1),
            IP(src=node, dst=target) / TCP(sport=50000, dport=8080, flags="PA", seq=seq + 1, ack=5001) / payload]
    frames = [Frame(leg.name, 1.0 + i / 1000, i != 1, bytes(Ether() / p)) for i, p in enumerate(pkts)]
    ledger = Ledger(links, frames)
    run.trace, run.ledger = ledger.trace(run.marks), ledger
    return run


def test_assert_ppv2_defaults_to_the_flows_own_sockets(plan):
    assert_ppv2(flow_through_the_nlb(plan), vpce_id=VPCE)
    with pytest.raises(AssertionError, match=r"src='10.0.1.11:41000' \(expected '10.0.1.10:41000'\)"):
        assert_ppv2(flow_through_the_nlb(plan, header_src="10.0.1.11"))


def test_assert_ppv2_takes_a_bare_ip_as_any_port(plan):
    run = flow_through_the_nlb(plan)
    assert_ppv2(run, src=CLIENT, dst=ENI, vpce_id=VPCE)
    assert_ppv2(run, src=f"{CLIENT}:{CLIENT_PORT}", dst=f"{ENI}:80")
    with pytest.raises(AssertionError, match=r"src='10.0.1.10:41000' \(expected '10.0.2.20', any port\)"):
        assert_ppv2(run, src="10.0.2.20")
    with pytest.raises(AssertionError, match=r"dst='10.0.1.253:80' \(expected '10.0.1.253:443'\)"):
        assert_ppv2(run, dst=f"{ENI}:443")
    with pytest.raises(AssertionError, match="vpce_id='vpce-0123456789abcdef0' \\(expected 'vpce-other'\\)"):
        assert_ppv2(run, vpce_id="vpce-other")


@pytest.mark.parametrize("bad", ["10.0.2", "10.0.2.20:http", "10.0.2.20:70000", "consumer-client"])
def test_assert_ppv2_says_which_forms_it_takes(plan, bad):
    with pytest.raises(ValueError, match=r"src=.* is not an address; give an IP \(any port\), IP:PORT"):
        assert_ppv2(flow_through_the_nlb(plan), src=bad)


def test_an_az_without_an_eni_is_an_error_naming_the_azs(plan):
    ep = plan["endpoints"][0]
    client = next(i for i in plan["inventory"]["instances"] if i["Name"] == "consumer-client")
    assert LabHandle._eni_of(ep, client, "us-east-1b")["az"] == "us-east-1b"
    assert LabHandle._eni_of(ep, client, None)["az"] == client["AvailabilityZone"]
    with pytest.raises(ValueError, match=r"has no ENI in AZ 'us-east-1z'; its AZs: us-east-1a, us-east-1b"):
        LabHandle._eni_of(ep, client, "us-east-1z")
