"""The scapy PPv2 layer: readable dissection, faithful rebuild, agreement with decode."""

from __future__ import annotations

import pytest
from scapy.compat import raw
from scapy.packet import Raw

from lab.ppv2 import (
    TLV,
    Command,
    Family,
    Header,
    Transport,
    aws_health_check_header,
    aws_nlb_header,
    decode,
    encode,
    with_crc,
)
from lab.ppv2.scapy_layer import PPv2, PPv2AWS, PPv2CRC32C, PPv2SSL, PPv2SSLSubTLV, PPv2TLV

VECTOR_A = encode(aws_nlb_header("172.31.7.113", 51442, "172.31.10.31", 80, "vpce-08d2bf15fac5001c9"))


def test_dissects_vector_a_into_named_fields() -> None:
    pkt = PPv2(VECTOR_A + b"GET /")
    assert (pkt.version, pkt.cmd, pkt.family, pkt.transport, pkt.length) == (2, 1, 1, 1, 84)
    assert (pkt.src, pkt.dst, pkt.sport, pkt.dport) == ("172.31.7.113", "172.31.10.31", 51442, 80)
    crc, aws, noop = pkt.tlvs
    assert isinstance(crc, PPv2CRC32C) and crc.crc == 0xE8D6892D
    assert isinstance(aws, PPv2AWS) and aws.vpce_id == b"vpce-08d2bf15fac5001c9"
    assert type(noop) is PPv2TLV and noop.type == 4 and noop.value == bytes(36)
    assert pkt[Raw].load == b"GET /"


def test_show_is_readable() -> None:
    text = PPv2(VECTOR_A).show(dump=True)
    for expected in ("PROXY protocol v2", "cmd       = PROXY", "family    = INET", "src       = 172.31.7.113",
                     "crc       = 0xe8d6892d", "vpce_id   = b'vpce-08d2bf15fac5001c9'", "type      = NOOP"):
        assert expected in text


@pytest.mark.parametrize(
    "header",
    [
        aws_nlb_header("172.31.7.113", 51442, "172.31.10.31", 80, "vpce-08d2bf15fac5001c9"),
        aws_nlb_header("2001:db8::1", 1, "2001:db8::2", 2, "vpce-1"),
        aws_health_check_header(),
        Header(Command.PROXY, Family.UNIX, Transport.STREAM, "/a", "/b", tlvs=(TLV.alpn(b"h2"),)),
        Header(Command.LOCAL, Family.INET, Transport.STREAM, "10.0.0.1", "10.0.0.2", 1, 2),
        with_crc(
            Header(
                Command.PROXY, Family.INET, Transport.STREAM, "1.2.3.4", "5.6.7.8", 9, 10,
                (TLV.ssl(1, 0, [TLV(0x21, b"TLSv1.2")]), TLV.azure_link_id(5), TLV.gcp_psc_connection_id(6),
                 TLV(0x03, b"\x00" * 4), TLV(0xEA, b"")),
            )
        ),
    ],
    ids=["aws4", "aws6", "health", "unix", "local-addr", "mixed"],
)
def test_dissection_rebuilds_the_same_bytes_and_agrees_with_decode(header: Header) -> None:
    wire = encode(header)
    pkt = PPv2(wire)
    assert raw(pkt) == wire
    assert raw(pkt.copy()) == wire
    decoded = decode(wire, verify_crc=False)
    assert len(pkt.tlvs) == len(decoded.tlvs)
    assert [tlv.type for tlv in pkt.tlvs] == [tlv.type for tlv in decoded.tlvs]
    assert pkt.carries_addresses() == decoded.has_addresses
    if decoded.family in (Family.INET, Family.INET6) and decoded.has_addresses:
        assert (pkt.src, pkt.sport, pkt.dst, pkt.dport) == (
            decoded.src_addr, decoded.src_port, decoded.dst_addr, decoded.dst_port
        )
    if decoded.family == Family.UNIX:
        assert (pkt.src.rstrip(b"\0"), pkt.dst.rstrip(b"\0")) == (b"/a", b"/b")


def test_malformed_typed_tlvs_fall_back_to_raw_values() -> None:
    # Shapes the typed classes do not fit (a 5-byte CRC32C, Azure subtype 2, a 1-byte SSL)
    # must still dissect, as raw TLVs, and rebuild unchanged.
    body = b"\x03\x00\x05" + bytes(5) + b"\xee\x00\x05\x02abcd" + b"\x20\x00\x01\x01"
    wire = bytes.fromhex("0d0a0d0a000d0a515549540a2100") + len(body).to_bytes(2, "big") + body
    pkt = PPv2(wire)
    assert [type(tlv) for tlv in pkt.tlvs] == [PPv2TLV, PPv2TLV, PPv2TLV]
    assert raw(pkt) == wire


def test_building_fills_length_and_crc() -> None:
    pkt = PPv2(
        src="172.31.7.113", dst="172.31.10.31", sport=51442, dport=80,
        tlvs=[PPv2CRC32C(), PPv2AWS(vpce_id=b"vpce-08d2bf15fac5001c9"), PPv2TLV(type=4, value=bytes(36))],
    )
    assert raw(pkt) == VECTOR_A


def test_building_ssl_and_local() -> None:
    ssl = PPv2SSL(client=1, verify=0, tlvs=[PPv2SSLSubTLV(type=0x22, value=b"cn.example")])
    local = PPv2(cmd=0, tlvs=[ssl])  # built LOCAL headers carry no address block, like AWS's
    header = decode(raw(local))
    assert (header.command, header.has_addresses, header.ssl.cn) == (Command.LOCAL, False, "cn.example")


def test_summary_names_the_connection() -> None:
    assert PPv2(VECTOR_A).summary() == "PPv2 PROXY INET 172.31.7.113:51442 > 172.31.10.31:80"
