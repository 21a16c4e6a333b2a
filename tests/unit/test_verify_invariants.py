"""The invariants judged on synthetic captures of the basic and leaky plans: each must pass on a
clean path and fail, naming the right link, when the packets say otherwise. No root needed."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.l2 import Ether

from lab.plan.build import build_plan
from lab.ppv2 import Command, Family, Header, Transport, aws_nlb_header, encode
from lab.topology.load import load_topology
from lab.verify import invariants as inv
from lab.verify.capture import Frame, LinkStats
from lab.verify.ledger import Ledger, Marks
from lab.plan.links import links_from_plan
from lab.verify.report import Report
from lab.verify.spec import ProbeSpec, build
from lab.verify.traffic import FlowRun, ProbeRun

# Explicit MACs: a bare Ether() would make scapy resolve the destination (ARP on the host's network).
NEAR, FAR = "02:00:00:00:00:01", "02:00:00:00:00:02"


def ETH() -> Ether:  # noqa: N802 - reads like the layer it stands for
    return Ether(src=NEAR, dst=FAR)


CLIENT, ENI, NODE, TARGET = ("10.0.1.10", 40000), ("10.0.1.253", 80), ("10.0.1.254", 50000), ("10.0.1.10", 8080)
TOKEN = "lab-verify-00112233aabbccdd"
C_LINK, E_LINK = "consumer-subnet/consumer-client", "endpoint-eni/web-endpoint@us-east-1a"
N_LINK, T_LINK = "nlb-target/web-nlb@us-east-1a", "provider-subnet/target-a"


def conversation(link: str, client: tuple, server: tuple, first: bytes, t0: float, isn: int = 1000) -> list[Frame]:
    """SYN, SYN-ACK, ACK, the client's first bytes, an answer, FIN: one TCP connection on one link."""
    c, s = client, server

    def f(i: int, src, dst, flags: str, seq: int, ack: int, data: bytes = b"") -> Frame:
        pkt = ETH() / IP(src=src[0], dst=dst[0]) / TCP(sport=src[1], dport=dst[1], flags=flags, seq=seq, ack=ack)
        return Frame(link, t0 + i * 1e-4, src == s, bytes(pkt / data) if data else bytes(pkt))

    return [f(0, c, s, "S", isn, 0), f(1, s, c, "SA", 9000, isn + 1), f(2, c, s, "A", isn + 1, 9001),
            f(3, c, s, "PA", isn + 1, 9001, first),
            f(4, s, c, "PA", 9001, isn + 1 + len(first), b"HTTP/1.0 200 OK\r\n"),
            f(5, c, s, "FA", isn + 1 + len(first), 9018)]


def request(token: str = TOKEN) -> bytes:
    return f"GET /{token} HTTP/1.0\r\nX-Lab-Verify: {token}\r\n\r\n".encode()


@pytest.fixture(scope="module")
def basic() -> tuple[dict, list]:
    plan = build_plan(load_topology("basic"), "u1").to_dict()
    return plan, links_from_plan(plan)


@pytest.fixture(scope="module")
def leaky() -> tuple[dict, list]:
    plan = build_plan(load_topology("leaky"), "u2").to_dict()
    return plan, links_from_plan(plan)


def flow_frames(vpce: str, *, header: bytes | None = None, source: tuple = NODE, t0: float = 100.0) -> list[Frame]:
    if header is None:
        header = encode(aws_nlb_header(*CLIENT, *ENI, vpce))
    frames = []
    for link in (C_LINK, E_LINK):
        frames += conversation(link, CLIENT, ENI, request(), t0)
    for link in (N_LINK, T_LINK):
        frames += conversation(link, source, TARGET, header + request(), t0 + 0.001, isn=555)
    return frames


def run_for(plan: dict, links: list, vpce: str) -> FlowRun:
    spec = next(f for f in build(plan, links).flows if f.client == "consumer-client" and f.az == "us-east-1a")
    body = json.dumps({"service": "demo-target", "vpce_id": vpce, "client": "%s:%d" % CLIENT,
                       "eni": "%s:%d" % ENI, "peer": "%s:%d" % NODE}).encode()
    return FlowRun(spec, TOKEN, CLIENT[0], ENI, local=CLIENT, status=200, body=body)


def judge(plan, links, frames, run):
    ledger = Ledger(links, frames)
    trace = ledger.trace(run.marks)
    return {(c.category, c.subject.endswith("(target's view)")): c for c in inv.flow_checks(run, trace, ledger)}


def test_a_clean_flow_passes_every_check(basic) -> None:
    plan, links = basic
    vpce = plan["endpoints"][0]["id"]
    checks = judge(plan, links, flow_frames(vpce), run_for(plan, links, vpce))
    assert {k: c.status for k, c in checks.items()} == {
        ("path", False): "pass", ("ppv2", False): "pass", ("snat", False): "pass", ("ppv2", True): "pass",
        ("az", False): "pass"}
    assert "stayed in us-east-1a" in checks[("az", False)].message  # client, ENI, node and target all in 1a
    assert f"{C_LINK} -> {E_LINK} => {N_LINK} -> {T_LINK}" in checks[("path", False)].message
    assert vpce in checks[("ppv2", False)].message and "CRC32C ok" in checks[("ppv2", False)].message


def test_the_flow_on_another_targets_link_fails_path(basic) -> None:
    plan, links = basic
    vpce = plan["endpoints"][0]["id"]
    frames = flow_frames(vpce) + [replace(f, link="provider-subnet/target-b") for f in flow_frames(vpce)
                                  if f.link == T_LINK]
    check = judge(plan, links, frames, run_for(plan, links, vpce))[("path", False)]
    assert check.status == "fail" and check.links == ["provider-subnet/target-b"]
    assert "reached provider-subnet/target-b" in check.message


def test_the_flow_over_a_peering_fails_and_names_it_first(leaky) -> None:
    plan, links = leaky
    vpce = plan["endpoints"][0]["id"]
    run = run_for(plan, links, vpce)
    c_ip = run.spec.client_ip  # leaky's consumer is 10.1.0.0/16
    frames = [Frame(f.link, f.ts, f.outgoing, f.data.replace(bytes(map(int, CLIENT[0].split("."))),
                                                              bytes(map(int, c_ip.split(".")))))
              for f in flow_frames(vpce)]
    frames += conversation("peering/leak", (c_ip, 40000), ("10.0.1.10", 8080), request(), 99.0)
    run = replace(run, local=(c_ip, 40000), dst=(run.spec.eni_ip, 80))
    check = judge(plan, links, frames, run)[("path", False)]
    assert check.status == "fail" and check.links[0] == "peering/leak"
    assert "crossed peering/leak (peering)" in check.message
    assert "peering/leak" in check.evidence


@pytest.mark.parametrize("header, expect", [
    (lambda v: encode(aws_nlb_header(*CLIENT, *ENI, "vpce-0123456789abcdef0")), "vpce=vpce-0123456789abcdef0"),
    (lambda v: encode(aws_nlb_header("10.9.9.9", 1, *ENI, v)), "src=10.9.9.9:1"),
    (lambda v: b"", "does not start with a PROXY v2 header"),
])
def test_a_wrong_or_missing_proxy_header_fails_ppv2(basic, header, expect: str) -> None:
    plan, links = basic
    vpce = plan["endpoints"][0]["id"]
    check = judge(plan, links, flow_frames(vpce, header=header(vpce)), run_for(plan, links, vpce))[("ppv2", False)]
    assert check.status == "fail" and expect in check.message and check.links == [N_LINK]


def test_a_target_seeing_the_consumer_address_fails_snat(basic) -> None:
    plan, links = basic
    vpce = plan["endpoints"][0]["id"]
    frames = flow_frames(vpce, source=("10.0.1.10", 50000))
    checks = judge(plan, links, frames, run_for(plan, links, vpce))
    assert checks[("snat", False)].status == "fail" and "10.0.1.10" in checks[("snat", False)].message
    ledger = Ledger(links, frames)
    per_target = {c.subject: c for c in inv.snat_checks(ledger, plan)}
    assert per_target["target target-a"].status == "fail"


def test_the_targets_own_view_must_match(basic) -> None:
    plan, links = basic
    vpce = plan["endpoints"][0]["id"]
    run = run_for(plan, links, vpce)
    run.body = json.dumps({"service": "demo-target", "vpce_id": "vpce-x", "client": "1.2.3.4:5",
                           "eni": "%s:%d" % ENI}).encode()
    check = judge(plan, links, flow_frames(vpce), run)[("ppv2", True)]
    assert check.status == "fail" and "vpce_id=vpce-x" in check.message and "client=1.2.3.4:5" in check.message


def test_a_failed_request_fails_path_with_its_error(basic) -> None:
    plan, links = basic
    run = run_for(plan, links, "v")
    run.status, run.error = None, "Connection refused"
    checks = judge(plan, links, [], run)
    assert checks[("path", False)].status == "fail" and "Connection refused" in checks[("path", False)].message


def probe_run(plan, links, dst: str, allowed: set[str]) -> ProbeRun:
    spec = ProbeSpec("consumer-client", "10.1.1.10", "ns", dst, "provider instance target-a", "tcp", 8080,
                     frozenset(allowed))
    return ProbeRun(spec, "lab-verify-probe", sport=41000, isn=777, sent=True)


def test_a_probe_that_crossed_a_peering_fails_isolation(leaky) -> None:
    plan, links = leaky
    run = probe_run(plan, links, "10.0.1.10", {"consumer-subnet/consumer-client"})
    frames = []
    for i, link in enumerate(("consumer-subnet/consumer-client", "peering/leak", T_LINK)):
        frames += conversation(link, ("10.1.1.10", 41000), ("10.0.1.10", 8080), b"", 10 + i * 1e-5, isn=777)[:2]
    ledger = Ledger(links, frames)
    check = inv.probe_checks(run, ledger.trace(run.marks), ledger)
    assert check.status == "fail" and check.links == ["peering/leak", T_LINK]
    assert run.answer == "open" and "(answer: open)" in check.message


def test_a_probe_that_stayed_home_passes_and_reports_its_answer(basic) -> None:
    plan, links = basic
    run = probe_run(plan, links, "10.0.1.10", {"consumer-subnet/consumer-client", "consumer-subnet/consumer-client-b"})
    syn = ETH() / IP(src="10.1.1.10", dst="10.0.1.10") / TCP(sport=41000, dport=8080, flags="S", seq=777)
    rst = ETH() / IP(src="10.0.1.10", dst="10.1.1.10") / TCP(sport=8080, dport=41000, flags="RA", seq=0, ack=778)
    frames = [Frame("consumer-subnet/consumer-client", 1.0, False, bytes(syn)),
              Frame("consumer-subnet/consumer-client", 1.1, True, bytes(rst))]
    ledger = Ledger(links, frames)
    check = inv.probe_checks(run, ledger.trace(run.marks), ledger)
    assert check.status == "pass" and run.answer == "refused"


def test_an_open_closed_port_at_the_eni_fails(basic) -> None:
    plan, links = basic
    spec = ProbeSpec("consumer-client", "10.0.1.10", "ns", "10.0.1.253", "ENI", "tcp", 22,
                     frozenset({C_LINK, E_LINK}), at_eni=True)
    run = ProbeRun(spec, "lab-verify-p2", sport=42000, isn=5)
    run.sent = True
    frames = conversation(C_LINK, ("10.0.1.10", 42000), ("10.0.1.253", 22), b"", 1.0, isn=5)[:2]
    ledger = Ledger(links, frames)
    check = inv.probe_checks(run, ledger.trace(run.marks), ledger)
    assert check.status == "fail" and "port 22 answered at the ENI" in check.message


def test_an_echo_reply_from_the_eni_is_a_warning(basic) -> None:
    plan, links = basic
    spec = ProbeSpec("consumer-client", "10.0.1.10", "ns", "10.0.1.253", "ENI", "icmp", None,
                     frozenset({C_LINK, E_LINK}), at_eni=True)
    run = ProbeRun(spec, "lab-verify-p3", sport=99, sent=True)
    rep = ETH() / IP(src="10.0.1.253", dst="10.0.1.10") / ICMP(type=0, id=99, seq=1) / b"lab-verify-p3"
    ledger = Ledger(links, [Frame(E_LINK, 1.0, False, bytes(rep))])
    assert inv.probe_checks(run, ledger.trace(run.marks), ledger).status == "warn"


def test_one_five_tuple_on_both_sides_fails_cross_side(basic) -> None:
    plan, links = basic
    clean = Ledger(links, flow_frames("v"))
    assert inv.cross_side_check(clean).status == "pass"
    frames = flow_frames("v") + conversation(T_LINK, CLIENT, ENI, b"x", 200.0)
    check = inv.cross_side_check(Ledger(links, frames))
    assert check.status == "fail" and T_LINK in check.links


def health_check(link: str, t0: float) -> list[Frame]:
    local = encode(Header(Command.LOCAL, Family.INET, Transport.STREAM))
    return conversation(link, ("10.0.1.254", 51000), ("10.0.1.10", 8080), local, t0, isn=31)


def test_node_legs_ppv2_and_health_checks(basic) -> None:
    plan, links = basic
    vpce = plan["endpoints"][0]["id"]
    frames = flow_frames(vpce) + health_check(N_LINK, 300.0)
    checks = {c.subject: c for c in inv.node_ppv2_checks(Ledger(links, frames), plan, True, 6.0)}
    assert checks[f"NLB leg {N_LINK}"].status == "pass" and "1 PROXY" in checks[f"NLB leg {N_LINK}"].message
    assert checks[f"health checks on {N_LINK}"].status == "pass"
    assert checks["health checks on nlb-target/web-nlb@us-east-1b"].status == "fail"  # waited, saw none
    skipped = {c.subject: c for c in inv.node_ppv2_checks(Ledger(links, frames), plan, False, 1.0)}
    assert skipped["health checks on nlb-target/web-nlb@us-east-1b"].status == "skip"


def test_data_without_a_header_on_a_node_leg_fails(basic) -> None:
    plan, links = basic
    frames = conversation(N_LINK, ("10.0.1.254", 52000), ("10.0.1.10", 8080), b"GET / HTTP/1.0\r\n\r\n", 1.0)
    check = {c.subject: c for c in inv.node_ppv2_checks(Ledger(links, frames), plan, False, 1.0)}[f"NLB leg {N_LINK}"]
    assert check.status == "fail" and "without a PROXY v2 header" in check.message


def test_marks_follow_tokens_syn_numbers_and_five_tuples() -> None:
    token = Marks(tokens=(b"tok",))
    syn = Marks(syn_seqs=frozenset({41}))
    from lab.verify.packets import parse

    p = parse("l", 0, True, bytes(ETH() / IP(src="1.1.1.1", dst="2.2.2.2") / TCP(flags="S", seq=41)))
    r = parse("l", 0, True, bytes(ETH() / IP(src="2.2.2.2", dst="1.1.1.1") / TCP(flags="RA", ack=42)))
    d = parse("l", 0, True, bytes(ETH() / IP(src="1.1.1.1", dst="2.2.2.2") / TCP(flags="PA") / b"..tok.."))
    assert syn.matches(p.conn, [p]) and syn.matches(r.conn, [r]) and not syn.matches(d.conn, [d])
    assert token.matches(d.conn, [d]) and not token.matches(p.conn, [p])
    assert Marks(conns=frozenset({p.conn})).matches(p.conn, [])


def test_capture_losses_make_the_verdict_fail(basic) -> None:
    plan, links = basic
    ledger = Ledger(links, [], {C_LINK: LinkStats(frames=3, bytes=9, kernel_drops=2)})
    checks = inv.capture_checks(ledger, "capture stopped at its limit")
    assert [c.status for c in checks] == ["fail", "fail"] and C_LINK in checks[0].message
    assert inv.capture_checks(Ledger(links, []), None)[0].status == "pass"


def test_report_text_and_json_name_the_leak(leaky) -> None:
    plan, links = leaky
    ledger = Ledger(links, [])
    checks = [inv.Check("dns", "name", inv.FAIL, "no answer", [C_LINK]),  # fails, but nothing leaked there
              inv.Check("snat", "target target-a", inv.FAIL, "bad", [T_LINK], leak=True),
              inv.Check("isolation", "probe", inv.FAIL, "crossed", ["peering/leak", T_LINK], "    evidence", leak=True),
              inv.Check("capture", "8 links", inv.PASS, "ok")]
    report = Report("x", "t", checks, ledger)
    assert not report.ok and report.leaking_links() == ["peering/leak", T_LINK]
    text = report.text()
    assert text.startswith("lab verify: lab 'x' -- FAILED: 1 passed, 3 failed")
    assert text.index("snat: 1 failure(s)") < text.index("dns: 1 failure(s)")  # leaks before other failures
    assert "leaking link(s): peering/leak (peering)" in text
    assert text.index("isolation: 1 failure(s)") < text.index("snat: 1 failure(s)")  # the peering group first
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and data["leaking_links"][0] == "peering/leak"
    assert Report("x", "t", [checks[3]], ledger).ok


def test_bridge_flooded_copies_are_kept_apart_and_do_not_fail_the_path(basic) -> None:
    plan, links = basic
    vpce = plan["endpoints"][0]["id"]
    flooded = [replace(f, link="consumer-subnet/consumer-client-b") for f in flow_frames(vpce)
               if f.link == E_LINK and not f.outgoing is False]
    macs = {"consumer-subnet/consumer-client-b": "02:00:00:00:00:bb"}  # not the frames' destination
    ledger = Ledger(links, flow_frames(vpce) + flooded, far_macs=macs)
    run = run_for(plan, links, vpce)
    trace = ledger.trace(run.marks)
    assert "consumer-subnet/consumer-client-b" not in trace.links
    assert len(trace.flooded["consumer-subnet/consumer-client-b"]) == len(flooded) > 0
    path = next(c for c in inv.flow_checks(run, trace, ledger) if c.category == "path")
    assert path.status == "pass" and "bridge-flooded" in path.message
    # The same frames addressed to that link's own far end are real traffic, and fail the path.
    ledger = Ledger(links, flow_frames(vpce) + flooded, far_macs={})
    path = next(c for c in inv.flow_checks(run, ledger.trace(run.marks), ledger) if c.category == "path")
    assert path.status == "fail" and path.links == ["consumer-subnet/consumer-client-b"]


def with_security_groups(plan: dict, cidr: str) -> dict:
    """The plan plus one group on every ENI, admitting TCP from `cidr` only (shaped like lab.plan.security)."""
    group = {"id": "sg-0123", "name": "only", "vpc": "consumer", "vpc_id": "vpc-x", "description": "",
             "lab_default": False,
             "ingress": [{"protocol": "tcp", "cidr": cidr, "from_port": 80, "to_port": 80, "description": ""}]}
    guards = [{"eni_id": e["id"], "endpoint": ep["name"], "vpce_id": ep["id"], "vpc": ep["vpc"], "az": e["az"],
               "ip": e["ip"], "node": e["node"], "ifname": e["ifname"], "table": "t", "groups": ["sg-0123"],
               "live": True} for ep in plan["endpoints"] for e in ep["enis"]]
    return {**plan, "security_groups": [group], "eni_guards": guards}


def test_security_groups_decide_which_flows_must_be_blocked(basic) -> None:
    from lab.verify.spec import sg_admits

    plan, links = basic
    assert sg_admits(plan, "10.0.1.253", "10.0.9.9", 80)  # no groups in the plan: everything admitted
    guarded = with_security_groups(plan, "10.0.1.0/24")
    assert sg_admits(guarded, "10.0.1.253", "10.0.1.10", 80)
    assert not sg_admits(guarded, "10.0.1.253", "10.0.2.20", 80)
    assert not sg_admits(guarded, "10.0.1.253", "10.0.1.10", 81)
    expect = {(f.client, f.az): f.expect for f in build(guarded, links).flows}
    assert expect == {("consumer-client", "us-east-1a"): "reach", ("consumer-client", "us-east-1b"): "reach",
                      ("consumer-client-b", "us-east-1a"): "blocked", ("consumer-client-b", "us-east-1b"): "blocked"}


def test_a_blocked_flow_passes_only_if_it_died_at_the_eni(basic) -> None:
    plan, links = basic
    guarded = with_security_groups(plan, "10.0.1.0/24")
    spec = next(f for f in build(guarded, links).flows if f.expect == "blocked" and f.az == "us-east-1a")
    client = (spec.client_ip, 45000)
    run = FlowRun(spec, TOKEN, spec.client_ip, (spec.eni_ip, 80), local=client, error="timed out")
    syn_only = [f for link in (spec.client_link, spec.eni_link)
                for f in conversation(link, client, (spec.eni_ip, 80), b"", 1.0)[:1]]
    ledger = Ledger(links, syn_only)
    assert inv.flow_checks(run, ledger.trace(run.marks), ledger)[0].status == "pass"
    answered = replace(run, error=None, status=200)
    assert inv.flow_checks(answered, ledger.trace(run.marks), ledger)[0].status == "fail"
    leaked = Ledger(links, syn_only + [replace(f, link=N_LINK) for f in syn_only[:1]])
    check = inv.flow_checks(run, leaked.trace(run.marks), leaked)[0]
    assert check.status == "fail" and check.links == [N_LINK]
    never = Ledger(links, syn_only[:1])  # only on the client's link: something else stopped it
    assert "never reached" in inv.flow_checks(run, never.trace(run.marks), never)[0].message


def test_dns_answers_must_be_the_enis_and_the_query_must_stay_home(basic) -> None:
    from scapy.layers.inet import UDP

    from lab.verify.spec import DnsSpec
    from lab.verify.traffic import DnsRun

    plan, links = basic
    spec = DnsSpec("consumer-client", "10.0.1.10", "ns", C_LINK, "10.0.0.2", "vpce-x.example", "regional",
                   "web-endpoint", ("10.0.1.253", "10.0.2.253"))
    query = ETH() / IP(src="10.0.1.10", dst="10.0.0.2") / UDP(sport=5353, dport=53) / b"q"
    frames = [Frame(C_LINK, 1.0, False, bytes(query))]
    run = DnsRun(spec, local=("10.0.1.10", 5353), answers=("10.0.1.253", "10.0.2.253"), rcode=0)
    ledger = Ledger(links, frames)
    assert inv.dns_check(run, ledger.trace(run.marks), ledger).status == "pass"
    wrong = replace(run, answers=("10.0.1.253",))
    assert "expected 10.0.1.253, 10.0.2.253" in inv.dns_check(wrong, ledger.trace(run.marks), ledger).message
    leaked = Ledger(links, frames + [Frame("provider-subnet/target-a", 1.1, True, bytes(query))])
    check = inv.dns_check(run, leaked.trace(run.marks), leaked)
    assert check.status == "fail" and check.links == ["provider-subnet/target-a"]
    unseen = Ledger(links, [])
    assert inv.dns_check(run, unseen.trace(run.marks), unseen).status == "fail"


def test_the_json_report_records_each_flows_links_tuples_and_header(basic) -> None:
    plan, links = basic
    vpce = plan["endpoints"][0]["id"]
    ledger = Ledger(links, flow_frames(vpce))
    run = run_for(plan, links, vpce)
    run.trace, run.ledger = ledger.trace(run.marks), ledger
    flow = json.loads(json.dumps(Report("x", "t", inv.flow_checks(run, run.trace, ledger), ledger,
                                        flows=[run]).to_dict()))["flows"][0]
    assert set(flow["per_link"]) == {C_LINK, E_LINK, N_LINK, T_LINK}
    assert flow["per_link"][E_LINK]["conns"] == ["tcp 10.0.1.10:40000 <-> 10.0.1.253:80"]
    assert flow["per_link"][T_LINK]["packets"] == 6 and flow["per_link"][T_LINK]["bytes"] > 0
    header = flow["ppv2"][0]["header"]
    assert (header["command"], header["src_port"], header["aws_vpce_id"]) == ("PROXY", 40000, vpce)


def test_identical_link_scoped_multicast_on_both_sides_is_not_a_crossing(basic) -> None:
    """Both VPCs' gateways are 10.0.1.1 and both bridges send IGMP reports to 224.0.0.22: the
    same 'conversation' on both sides, yet nothing crossed (it never leaves its link)."""
    plan, links = basic
    igmp = bytes(ETH() / IP(src="10.0.1.1", dst="224.0.0.22", proto=2, ttl=1) / b"\x22\x00\xfa\x01\x00\x00\x00\x00")
    frames = flow_frames("v") + [Frame(C_LINK, 5.0, False, igmp), Frame(T_LINK, 5.1, False, igmp)]
    assert inv.cross_side_check(Ledger(links, frames)).status == "pass"
