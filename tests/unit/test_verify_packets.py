"""Frame parsing, connection keys, link classification and selection, pcap writing: pure code, no root."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.utils import rdpcap

from lab.plan.build import build_plan
from lab.topology.load import load_topology
from lab.verify.capture import Frame
from lab.plan.links import links_from_plan, planned_ends, select_links, unplanned_link
from lab.verify.packets import ICMP as ICMP_PROTO
from lab.verify.packets import SYN, conn_key, echo_key, parse
from lab.verify.pcapfile import write_per_link

MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


def raw(pkt) -> bytes:
    return bytes(Ether(src=MAC_A, dst=MAC_B) / pkt)


def test_tcp_fields_and_payload() -> None:
    p = parse("l", 1.5, True, raw(IP(src="10.0.1.10", dst="10.0.1.253") / TCP(sport=40000, dport=80, flags="S",
                                                                             seq=1234) / b"hi"))
    assert (p.src, p.dst, p.sport, p.dport, p.seq, p.payload) == ("10.0.1.10", "10.0.1.253", 40000, 80, 1234, b"hi")
    assert p.flags & SYN and p.is_syn and not p.is_synack and p.outgoing
    assert p.eth_src == MAC_A and p.eth_dst == MAC_B
    assert "TCP 10.0.1.10:40000 > 10.0.1.253:80 [S] seq 1234 len 2" in p.summary()


def test_both_directions_share_one_connection_key() -> None:
    out = parse("l", 0, True, raw(IP(src="10.0.1.10", dst="10.0.1.253") / TCP(sport=40000, dport=80)))
    back = parse("l", 0, False, raw(IP(src="10.0.1.253", dst="10.0.1.10") / TCP(sport=80, dport=40000, flags="SA")))
    assert out.conn == back.conn == conn_key(6, "10.0.1.253", 80, "10.0.1.10", 40000)
    assert back.is_synack


def test_ethernet_padding_is_not_payload() -> None:
    frame = raw(IP(src="1.1.1.1", dst="2.2.2.2") / TCP(sport=1, dport=2, flags="A")) + b"\x00" * 6
    assert parse("l", 0, False, frame).payload == b""


def test_icmp_echo_and_reply_share_a_key_by_identifier() -> None:
    req = parse("l", 0, True, raw(IP(src="10.0.1.10", dst="10.0.2.10") / ICMP(type=8, id=77, seq=1) / b"tok"))
    rep = parse("l", 0, False, raw(IP(src="10.0.2.10", dst="10.0.1.10") / ICMP(type=0, id=77, seq=1) / b"tok"))
    assert req.conn == rep.conn == echo_key("10.0.1.10", "10.0.2.10", 77)
    assert req.payload == b"tok"


def test_icmp_error_belongs_to_the_connection_it_reports() -> None:
    original = IP(src="10.0.1.10", dst="10.0.9.9") / TCP(sport=41000, dport=8080, flags="S")
    err = parse("l", 0, False, raw(IP(src="10.0.1.1", dst="10.0.1.10") / ICMP(type=3, code=1) / bytes(original)[:28]))
    assert err.conn == conn_key(6, "10.0.1.10", 41000, "10.0.9.9", 8080)
    echo = IP(src="10.0.1.10", dst="10.0.9.9") / ICMP(type=8, id=5, seq=1)
    err2 = parse("l", 0, False, raw(IP(src="10.0.1.1", dst="10.0.1.10") / ICMP(type=3, code=1) / bytes(echo)))
    assert err2.conn == echo_key("10.0.1.10", "10.0.9.9", 5)
    assert "about icmp" in err2.summary()


def test_arp_udp_and_unknown_frames() -> None:
    arp = parse("l", 0, True, raw(ARP(op=1, psrc="10.0.1.1", pdst="10.0.1.10")))
    assert arp.arp == (1, "10.0.1.1", "10.0.1.10") and arp.conn is None
    assert "who-has 10.0.1.10 tell 10.0.1.1" in arp.summary()
    udp = parse("l", 0, True, raw(IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=53, dport=5353) / b"x"))
    assert udp.conn == conn_key(17, "1.1.1.1", 53, "2.2.2.2", 5353)
    ipv6ish = parse("l", 0, True, bytes.fromhex("02000000000b02000000000a86dd") + b"\x60" + b"\x00" * 39)
    assert ipv6ish.proto is None and ipv6ish.conn is None
    assert parse("l", 0, True, b"\x00" * 5).conn is None  # truncated: no crash


def test_truncated_ip_header_is_kept_as_a_frame() -> None:
    frame = raw(IP(src="1.1.1.1", dst="2.2.2.2") / TCP())[:20]
    p = parse("l", 0, True, frame)
    assert p.proto is None and p.length == 20


@pytest.fixture(scope="module")
def basic_plan() -> dict:
    return build_plan(load_topology("basic"), "u1").to_dict()


@pytest.fixture(scope="module")
def leaky_plan() -> dict:
    return build_plan(load_topology("leaky"), "u2").to_dict()


def test_every_veth_of_basic_is_a_classified_link(basic_plan: dict) -> None:
    links = {ln.name: ln for ln in links_from_plan(basic_plan)}
    assert set(links) == {
        "provider-subnet/target-a", "provider-subnet/target-b",
        "consumer-subnet/consumer-client", "consumer-subnet/consumer-client-b",
        "nlb-target/web-nlb@us-east-1a", "nlb-target/web-nlb@us-east-1b",
        "endpoint-eni/web-endpoint@us-east-1a", "endpoint-eni/web-endpoint@us-east-1b",
    }
    eni = links["endpoint-eni/web-endpoint@us-east-1a"]
    assert (eni.side, eni.vpc, eni.subnet, eni.place) == ("consumer", "consumer", "consumer-a", "pl-u1.consumer")
    assert eni.ifname.startswith("eni-") and eni.owner.startswith("eni-0")
    leg = links["nlb-target/web-nlb@us-east-1a"]
    assert (leg.side, leg.vpc, leg.place_kind) == ("provider", "provider", "netns")
    assert leg.addresses == ("10.0.1.254/24",)
    # Captured on the router end: every link is reachable through a named namespace.
    assert all(ln.place_kind == "netns" and "." in ln.place and ln.place.count(".") == 1 for ln in links.values())
    assert len(links) == len(basic_plan["veths"])


def test_the_peering_of_leaky_is_a_link_between_vpcs(leaky_plan: dict) -> None:
    links = {ln.name: ln for ln in links_from_plan(leaky_plan)}
    peering = links["peering/leak"]
    assert peering.side == "between" and peering.kind == "peering"
    assert "pcx-" in peering.far
    assert peering.file_stem == "peering_leak"


def test_unplanned_interfaces_are_named_by_place(basic_plan: dict) -> None:
    ends = planned_ends(basic_plan)
    assert ("netns", "pl-u1.consumer", "br-consumer-a") in ends
    assert ("container", "pl-u1.web-nlb.us-east-1a", "prov") in ends
    ln = unplanned_link("netns", "pl-u1.consumer", "sneaky0", "veth", "consumer")
    assert ln.name == "unplanned/consumer:sneaky0" and ln.side == "other"


def test_select_links_by_name_kind_owner_and_pattern(basic_plan: dict) -> None:
    links = links_from_plan(basic_plan)
    assert [ln.name for ln in select_links(links, ["nlb-target"])] == [
        "nlb-target/web-nlb@us-east-1a", "nlb-target/web-nlb@us-east-1b"]
    assert [ln.name for ln in select_links(links, ["endpoint-eni/*@us-east-1b"])] == [
        "endpoint-eni/web-endpoint@us-east-1b"]
    assert [ln.name for ln in select_links(links, ["target-a"])] == ["provider-subnet/target-a"]
    assert select_links(links, []) == links
    with pytest.raises(KeyError, match="nope"):
        select_links(links, ["nope"])


def test_pcaps_are_readable_and_keep_nanoseconds(tmp_path: Path) -> None:
    data = raw(IP(src="10.0.1.254", dst="10.0.1.10") / TCP(sport=5, dport=8080, flags="S"))
    frames = [Frame("a/x", 1700000000.123456789, True, data), Frame("b/y", 1700000001.5, False, data),
              Frame("a/x", 1700000000.0, False, data)]
    out = write_per_link(tmp_path, frames, {"a/x": "a_x", "b/y": "b_y", "c/z": "c_z"})
    assert {k: v[1] for k, v in out.items()} == {"a/x": 2, "b/y": 1, "c/z": 0}
    pkts = rdpcap(str(tmp_path / "a_x.pcap"))
    assert len(pkts) == 2 and pkts[1][TCP].dport == 8080
    assert float(pkts[0].time) < float(pkts[1].time)  # written in time order
    magic = struct.unpack("<I", (tmp_path / "c_z.pcap").read_bytes()[:4])[0]
    assert magic == 0xA1B23C4D and (tmp_path / "c_z.pcap").stat().st_size == 24
    assert ICMP_PROTO == 1
