"""The internet and the path PrivateLink replaces (internet-vs-private.yaml), on real packets.

One provider service, reachable over the internet (an internet-facing NLB behind the provider's
IGW, 1:1 NAT in nftables) and through an interface endpoint. `lab verify` must pass and report
each flow's hops in order: the endpoint flow never touches a public link; the internet flow does,
and is reported so. From a host on the lab's internet, a bounded scan of the provider's public
addresses reaches only the published listener, and nothing at all when the service is
PrivateLink-only -- proved from capture, not from what answered.
"""

from __future__ import annotations

import copy
import subprocess

import pytest
import yaml

from lab.plan.links import is_public
from lab.resources import data_dir
from lab.verify.internet import scan

pytestmark = [pytest.mark.root, pytest.mark.lab_topology("internet-vs-private")]

SCAN_PORTS = [22, 80, 443, 8080]
SCANNER_IP = "198.51.100.10"


@pytest.fixture(scope="module")
def report(lab):
    return lab.verify(wait_health_checks=False)


def _provider_public(plan: dict) -> list[str]:
    return [n["public_ip"] for g in plan["igws"] if g["vpc"] == "provider" for n in g["nat"]]


NLB_PUBLIC, NAT_GW_PUBLIC = "203.0.113.20", "203.0.113.30"


def test_verify_passes_and_reports_hops_in_order(report) -> None:
    assert report.ok, report.text()
    [inet] = report.internet
    kinds = [h.kind for h in inet.path]
    links = [h.link for h in inet.path]
    public = [n for n in links if n.startswith(("igw/", "internet/"))]
    assert public == ["igw/consumer", "internet/consumer", "internet/provider", "igw/provider"]
    assert links[0] == "consumer-subnet/consumer-client" and "provider-subnet/target-a" in links
    assert kinds.index("nlb-target") > links.index("igw/provider")
    # The client went out as its public address, and the target's PROXY header says so.
    assert any(c.category == "nat" and c.status == "pass" and "203.0.113.10" in c.message for c in report.checks)
    # Through the endpoint (by the service's name, private DNS on): no public hop at all.
    by_name = [r for r in report.names if r.spec.qname == "api.example.com"]
    assert by_name and all(r.path and not any(is_public(h.kind) for h in r.path) for r in by_name)
    assert all(h.link.startswith(("consumer-", "endpoint-eni/", "nlb-target/", "provider-")) for h in by_name[0].path)
    text = report.text(ledger=False)
    assert "hops: consumer.consumer-client > consumer-subnet/consumer-client > consumer > igw/consumer (public)" in text


def test_the_instance_holds_only_its_private_address(lab) -> None:
    ns = lab.instance("consumer-client")["Netns"]
    addrs = subprocess.run(["ip", "-n", ns, "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    assert "10.0.1.10/24" in addrs and "203.0.113." not in addrs
    igw = next(g for g in lab.plan["igws"] if g["vpc"] == "consumer")
    rules = subprocess.run(["ip", "netns", "exec", igw["netns"], "nft", "list", "ruleset"], capture_output=True,
                           text=True, check=True).stdout
    assert "snat to 203.0.113.10" in rules and "dnat to 10.0.1.10" in rules


def test_a_scan_from_the_internet_reaches_only_the_listener(lab) -> None:
    targets = _provider_public(lab.plan)
    assert targets == [NLB_PUBLIC, NAT_GW_PUBLIC]
    with lab.capture() as cap:
        results = scan(lab.plan, "scanner", targets, SCAN_PORTS)
    assert {(r.port, r.state) for r in results if r.ip == NLB_PUBLIC} == {
        (22, "filtered"), (80, "open"), (443, "filtered"), (8080, "filtered")}
    # The NAT gateway publishes nothing: it only lets the private subnet's own connections out.
    assert {r.state for r in results if r.ip == NAT_GW_PUBLIC} == {"filtered"}
    ledger = cap.ledger
    def scanner_syns(link: str, dst: str = NLB_PUBLIC) -> set[int]:
        return {p.dport for p in ledger.by_link[link].packets if p.is_syn and p.src == SCANNER_IP
                and (p.dst == dst or link.startswith(("igw/", "nlb-", "nat-")))}

    # Every probe reached the provider's IGW from the internet ...
    assert scanner_syns("internet/provider") == set(SCAN_PORTS)
    # ... and only the listener's went past it, into the VPC and on to the NLB node.
    assert {p.dport for p in ledger.by_link["igw/provider"].packets if p.is_syn and p.src == SCANNER_IP
            and p.dst != "10.0.1.4"} == {80}
    assert scanner_syns("nlb-target/web-nlb@us-east-1a") == {80}
    assert not any(p.src == SCANNER_IP for p in ledger.by_link["provider-subnet/target-a"].packets)
    # The NAT gateway's address is translated to it (1:1 at the IGW), and it drops all of them there.
    assert scanner_syns("nat-gateway/provider.nat-a") == set(SCAN_PORTS)
    nat_answers = [p for p in ledger.by_link["nat-gateway/provider.nat-a"].packets if p.dst == SCANNER_IP]
    assert not nat_answers, [p.summary() for p in nat_answers]


def test_a_private_subnet_goes_out_through_its_nat_gateway(lab) -> None:
    """target-a (private subnet, no public IP) connects to the internet host: the host sees the NAT
    gateway's public address; the capture shows the gateway's leg carried it."""
    import socket
    import threading

    from lab.apply import netns

    host = next(h for h in lab.plan["internet"]["hosts"] if h["name"] == "scanner")
    with netns.entered(netns.netns_path(host["netns"])):
        server = socket.socket()
    server.bind((host["ip"], 0))
    server.listen(1)
    server.settimeout(5)
    seen: list = []

    def accept() -> None:
        try:
            conn, peer = server.accept()
            seen.append(peer)
            conn.close()
        except OSError:
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        with lab.capture() as cap:
            target = lab.instance("target-a")
            with netns.entered(netns.netns_path(target["Netns"])):
                client = socket.socket()
            client.settimeout(3)
            client.connect((host["ip"], server.getsockname()[1]))
            client.close()
            thread.join(5)
    finally:
        server.close()
    assert seen and seen[0][0] == NAT_GW_PUBLIC
    links = {n for n, e in cap.ledger.by_link.items() if any(p.dst == host["ip"] and p.is_syn for p in e.packets)}
    assert {"provider-subnet/target-a", "nat-gateway/provider.nat-a", "igw/provider", "internet/provider",
            "internet/host-scanner"} <= links


def test_lab_scan_shows_what_each_public_address_publishes(lab) -> None:
    import json
    import sys

    proc = subprocess.run([sys.executable, "-m", "lab.cli.main", "scan", "--name", lab.name, "--from", "scanner",
                           "-p", "80", "-p", "22", "--format", "json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = {(r["Address"], r["Port"]): r for r in json.loads(proc.stdout)["results"]}
    assert rows[("203.0.113.20", 80)]["State"] == "open" and rows[("203.0.113.20", 22)]["State"] == "filtered"
    assert "nlb" in rows[("203.0.113.20", 80)]["Holder"]
    # The consumer's instance is published whole (1:1, every port): nothing listens, so its kernel refuses.
    assert rows[("203.0.113.10", 22)]["State"] == "refused"


def test_a_privatelink_only_service_is_not_there_at_all(lab_runner, tmp_path) -> None:
    """The same service without an IGW or public NLB: the scan reaches nothing of the provider."""
    topo = yaml.safe_load((data_dir("topologies") / "internet-vs-private.yaml").read_text())
    topo = copy.deepcopy(topo)
    provider = next(v for v in topo["vpcs"] if v["name"] == "provider")
    provider["internet_gateway"] = False
    provider.pop("nat_gateways")
    for sub in provider["subnets"]:
        sub.pop("public", None)
        sub.pop("nat_gateway", None)
    nlb = topo["nlbs"][0]
    for key in ("scheme", "public_ips", "public_dns_name"):
        nlb.pop(key)
    topo["verify"]["flows"] = topo["verify"]["flows"][:1]
    from lab.verify.session import LabHandle

    with lab_runner(topo, "plonly", tmp_path) as (name, _plan):
        handle = LabHandle(name)
        assert _provider_public(handle.plan) == []
        node_ip = handle.plan["nodes"][0]["provider_ip"]
        with handle.capture() as cap:
            results = scan(handle.plan, "scanner", ["203.0.113.10", node_ip, "10.0.2.10"], SCAN_PORTS)
        assert all(r.state != "open" for r in results if r.ip != "203.0.113.10"), results
        ledger = cap.ledger
        assert not any(ln.startswith(("igw/provider", "internet/provider")) for ln in ledger.links)
        reached = {name for name, e in ledger.by_link.items() if any(p.src == SCANNER_IP for p in e.packets)}
        # The scanner's packets stayed on its own link, except those to the consumer's public address.
        assert reached <= {"internet/host-scanner", "internet/consumer", "igw/consumer", "consumer-subnet/consumer-client"}
        provider_side = {n for n, e in ledger.by_link.items() if e.link.side == "provider"}
        assert not reached & provider_side
        assert handle.verify(wait_health_checks=False, probes=False).ok
