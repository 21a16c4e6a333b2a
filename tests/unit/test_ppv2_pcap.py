"""find_headers: TCP reassembly of the client's first bytes in captures (built with scapy)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from scapy.utils import wrpcap

from lab.ppv2 import BadChecksum, IncompleteHeader, aws_health_check_header, aws_nlb_header, encode
from lab.ppv2.pcap import Flow, find_headers

CLIENT, SERVER = ("10.0.1.25", 40001), ("10.0.2.10", 8080)
HEADER = encode(aws_nlb_header("10.0.1.25", 40001, "10.0.2.10", 8080, "vpce-0123456789abcdef0"))
REQUEST = b"GET / HTTP/1.1\r\nHost: svc\r\n\r\n"


def connection(
    data: bytes,
    *,
    segment: int,
    client: tuple[str, int] = CLIENT,
    server: tuple[str, int] = SERVER,
    isn: int = 1000,
    handshake: bool = True,
    reply: bytes = b"HTTP/1.1 200 OK\r\n\r\n",
) -> tuple[list[Packet], list[Packet]]:
    """(handshake packets, client data segments + server reply) of one connection."""
    (caddr, cport), (saddr, sport) = client, server
    ip = IPv6 if ":" in caddr else IP
    out = lambda **kw: Ether() / ip(src=caddr, dst=saddr) / TCP(sport=cport, dport=sport, **kw)  # noqa: E731
    back = lambda **kw: Ether() / ip(src=saddr, dst=caddr) / TCP(sport=sport, dport=cport, **kw)  # noqa: E731
    opening = [out(flags="S", seq=isn), back(flags="SA", seq=9000, ack=isn + 1), out(flags="A", seq=isn + 1, ack=9001)]
    segments = [
        out(flags="PA", seq=(isn + 1 + offset) % 2**32, ack=9001) / data[offset : offset + segment]
        for offset in range(0, len(data), segment)
    ]
    segments.append(back(flags="PA", seq=9001, ack=isn + 1 + len(data)) / reply)
    return (opening if handshake else []), segments


def test_header_split_over_many_segments_out_of_order_with_retransmits(tmp_path: Path) -> None:
    opening, segments = connection(HEADER + REQUEST, segment=3)
    assert len(segments) > 30
    rng = random.Random(5)
    rng.shuffle(segments)
    segments += rng.sample(segments, 5)  # retransmissions
    pcap = tmp_path / "split.pcap"
    wrpcap(str(pcap), opening + segments)
    (found,) = list(find_headers(pcap))
    assert found.flow == Flow(*CLIENT, *SERVER)
    assert found.error is None
    assert found.header.aws_vpce_id == "vpce-0123456789abcdef0"
    assert encode(found.header) == HEADER


def test_overlapping_segments_are_merged(tmp_path: Path) -> None:
    opening, _ = connection(b"", segment=1)
    data = HEADER + REQUEST
    out = lambda seq, chunk: Ether() / IP(src=CLIENT[0], dst=SERVER[0]) / TCP(  # noqa: E731
        sport=CLIENT[1], dport=SERVER[1], flags="A", seq=1001 + seq
    ) / chunk
    overlapping = [out(40, data[40:90]), out(0, data[0:50]), out(85, data[85:])]
    pcap = tmp_path / "overlap.pcap"
    wrpcap(str(pcap), opening + overlapping)
    (found,) = list(find_headers(str(pcap)))
    assert encode(found.header) == HEADER


def test_sequence_numbers_wrapping_around_zero() -> None:
    opening, segments = connection(HEADER, segment=10, isn=2**32 - 40)
    (found,) = list(find_headers(opening + segments))
    assert found.header.aws_vpce_id == "vpce-0123456789abcdef0"


@pytest.mark.parametrize("seed", range(6))
def test_many_connections_each_get_their_header(seed: int) -> None:
    packets: list[Packet] = []
    for index in range(5):
        client = (f"10.0.1.{index + 1}", 40000 + index)
        header = encode(aws_nlb_header(client[0], client[1], "10.0.2.10", 8080, f"vpce-{index:017x}"))
        opening, segments = connection(header + REQUEST, segment=17, client=client, isn=index * 7777)
        packets += opening + segments
    random.Random(seed).shuffle(packets)  # interleaved flows, handshakes possibly after data
    found = {str(result.flow): result.header.aws_vpce_id for result in find_headers(packets)}
    assert found == {f"10.0.1.{i + 1}:{40000 + i} -> 10.0.2.10:8080": f"vpce-{i:017x}" for i in range(5)}


def test_capture_without_handshake_and_ipv6() -> None:
    client, server = ("2001:db8::25", 50000), ("2001:db8::10", 443)
    header = encode(aws_nlb_header(client[0], client[1], server[0], server[1], "vpce-6"))
    _, segments = connection(header + REQUEST, segment=9, client=client, server=server, handshake=False)
    segments.reverse()  # the stream start comes last: the base must move back
    (found,) = list(find_headers(segments))
    assert str(found.flow) == "[2001:db8::25]:50000 -> [2001:db8::10]:443"
    assert found.header.aws_vpce_id == "vpce-6"


def test_health_checks_and_plain_connections() -> None:
    health_open, health = connection(encode(aws_health_check_header()), segment=100, client=("10.0.2.5", 33333))
    plain_open, plain = connection(REQUEST, segment=100, client=("10.0.1.9", 41000))
    results = list(find_headers(health_open + health + plain_open + plain))
    assert len(results) == 1  # the plain HTTP connection has no header and is not reported
    assert results[0].header.command == 0 and results[0].header.has_addresses is False


def test_server_to_client_bytes_are_never_taken_for_a_header() -> None:
    opening, segments = connection(REQUEST, segment=100, reply=HEADER)  # a server "echoing" a header
    assert list(find_headers(opening + segments)) == []


def test_corrupted_and_cut_off_headers_are_reported_with_errors() -> None:
    broken = bytearray(HEADER)
    broken[50] ^= 0xFF
    open_a, bad = connection(bytes(broken), segment=30, client=("10.0.1.1", 1))
    open_b, cut = connection(HEADER[:60], segment=30, client=("10.0.1.2", 2))
    results = {result.flow.sport: result for result in find_headers(open_a + bad + open_b + cut)}
    assert isinstance(results[1].error, BadChecksum) and results[1].header is None
    assert isinstance(results[2].error, IncompleteHeader) and results[2].error.needed == 40


def test_gap_in_the_stream_waits_for_the_missing_segment() -> None:
    opening, segments = connection(HEADER, segment=20)
    without_second = [segments[0], *segments[2:]]
    (found,) = list(find_headers(opening + without_second))
    assert isinstance(found.error, IncompleteHeader)
    assert found.header is None


def test_reused_four_tuple_is_a_new_connection() -> None:
    first_open, first = connection(HEADER, segment=50, isn=100)
    other = encode(aws_nlb_header(CLIENT[0], CLIENT[1], SERVER[0], SERVER[1], "vpce-second"))
    second_open, second = connection(other, segment=50, isn=900_000)
    ids = [result.header.aws_vpce_id for result in find_headers(first_open + first + second_open + second)]
    assert ids == ["vpce-0123456789abcdef0", "vpce-second"]
