"""Reference vectors A-D and the specification's own examples, decoded and re-encoded exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.ppv2 import (
    TLV,
    BadChecksum,
    Command,
    Family,
    Header,
    Transport,
    aws_health_check_header,
    aws_nlb_header,
    decode,
    encode,
)
from lab.ppv2.tlv import parse_tlvs

VECTORS = json.loads((Path(__file__).parent / "vectors" / "ppv2.json").read_text())
FULL_HEADERS = ["A", "B", "D"]


@pytest.mark.parametrize("name", FULL_HEADERS)
def test_vector_decodes_to_expected_fields(name: str) -> None:
    vector = VECTORS[name]
    header = decode(bytes.fromhex(vector["hex"]))
    assert header.version == 2
    assert header.command == Command[vector["command"]]
    assert header.family == Family[vector["family"]]
    assert header.transport == Transport[vector["transport"]]
    assert (header.src_addr, header.src_port) == (vector["src_addr"], vector["src_port"])
    assert (header.dst_addr, header.dst_port) == (vector["dst_addr"], vector["dst_port"])
    assert f"{header.crc32c:08x}" == vector["crc32c"]
    assert header.aws_vpce_id == vector["aws_vpce_id"]
    assert header.length == header.consumed == vector["length"]
    assert [tlv.type for tlv in header.tlvs] == vector["tlv_types"]


@pytest.mark.parametrize("name", FULL_HEADERS)
def test_vector_round_trips_byte_for_byte(name: str) -> None:
    raw = bytes.fromhex(VECTORS[name]["hex"])
    assert encode(decode(raw)) == raw
    assert encode(decode(raw), recompute_crc=True) == raw  # the stored CRC is the right one


@pytest.mark.parametrize("name", FULL_HEADERS)
def test_payload_after_vector_is_untouched(name: str) -> None:
    raw = bytes.fromhex(VECTORS[name]["hex"])
    payload = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    header = decode(raw + payload)
    assert (raw + payload)[header.consumed :] == payload


def test_vector_c_bare_aws_tlv() -> None:
    tlv_bytes = bytes.fromhex(VECTORS["C"]["tlv_hex"])
    (tlv,), _ = parse_tlvs(tlv_bytes, 0, len(tlv_bytes))
    assert tlv == TLV(0xEA, b"\x01aws-vpc-id")
    assert Header(tlvs=(tlv,)).aws_vpce_id == VECTORS["C"]["aws_vpce_id"]
    assert TLV.aws_vpce_id("aws-vpc-id") == tlv


def test_vector_c_inside_a_header_round_trips() -> None:
    tlv = TLV(0xEA, bytes.fromhex(VECTORS["C"]["tlv_hex"])[3:])
    header = Header(Command.PROXY, Family.INET, Transport.STREAM, "10.0.0.1", "10.0.0.2", 1, 2, (tlv,))
    raw = encode(header)
    assert raw.endswith(bytes.fromhex(VECTORS["C"]["tlv_hex"]))
    assert decode(raw) == header


def test_aws_builder_reproduces_vector_a() -> None:
    header = aws_nlb_header("172.31.7.113", 51442, "172.31.10.31", 80, "vpce-08d2bf15fac5001c9")
    assert encode(header).hex() == VECTORS["A"]["hex"]


def test_aws_health_check_builder_reproduces_capture_d() -> None:
    assert encode(aws_health_check_header()).hex() == VECTORS["D"]["hex"]


def test_aws_builder_ipv6_pads_to_100_bytes_and_verifies() -> None:
    header = aws_nlb_header("2001:db8::1", 50000, "2001:db8::2", 443, "vpce-0fe5b17a0707d6abc")
    raw = encode(header)
    assert len(raw) == 100
    again = decode(raw)  # verifies the CRC
    assert [tlv.type for tlv in again.tlvs] == [0x03, 0xEA, 0x04]
    assert again.aws_vpce_id == "vpce-0fe5b17a0707d6abc"


@pytest.mark.parametrize("name", FULL_HEADERS)
@pytest.mark.parametrize("flip", [0x01, 0x80])
def test_corrupted_crc_is_rejected(name: str, flip: int) -> None:
    raw = bytearray.fromhex(VECTORS[name]["hex"])
    crc_at = bytes(raw).index(bytes.fromhex(VECTORS[name]["crc32c"]))
    raw[crc_at] ^= flip
    with pytest.raises(BadChecksum):
        decode(bytes(raw))


@pytest.mark.parametrize("name", FULL_HEADERS)
def test_corrupted_covered_byte_is_rejected(name: str) -> None:
    raw = bytearray.fromhex(VECTORS[name]["hex"])
    raw[-1] ^= 0xFF  # last byte: NOOP padding or the CRC itself, covered either way
    with pytest.raises(BadChecksum):
        decode(bytes(raw))


def test_corrupted_crc_accepted_when_checking_is_off() -> None:
    raw = bytearray.fromhex(VECTORS["A"]["hex"])
    raw[31] ^= 0xFF
    header = decode(bytes(raw), verify_crc=False)
    assert encode(header) == bytes(raw)  # kept as received, not silently repaired
    assert encode(header, recompute_crc=True).hex() == VECTORS["A"]["hex"]


# The specification's examples (haproxy doc/proxy-protocol.txt, section 2.1 and 2.2).
SPEC_V1_EXAMPLES = [
    (b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", Family.INET, "255.255.255.255", 65535),
    (
        b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
        Family.INET6,
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        65535,
    ),
    (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", Family.INET, "192.168.0.1", 56324),
]


@pytest.mark.parametrize(("line", "family", "src", "sport"), SPEC_V1_EXAMPLES)
def test_spec_v1_examples(line: bytes, family: Family, src: str, sport: int) -> None:
    header = decode(line + b"GET /")
    assert (header.version, header.family, header.src_addr, header.src_port) == (1, family, src, sport)
    assert header.consumed == len(line)
    assert encode(header) == line


def test_spec_v1_longest_line_is_107_bytes() -> None:
    assert len(SPEC_V1_EXAMPLES[1][0]) == 104  # the spec's worst case TCP6 line fits the 107-byte limit


def test_spec_v1_unknown() -> None:
    header = decode(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nrest")
    assert (header.version, header.family, header.has_addresses) == (1, Family.UNSPEC, False)
    assert header.consumed == len(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n")
    assert encode(header) == b"PROXY UNKNOWN\r\n"


def test_spec_v2_local_with_empty_block() -> None:
    # A sender that presents a LOCAL connection sets fam and len to zero.
    raw = bytes.fromhex("0d0a0d0a000d0a515549540a20000000")
    header = decode(raw)
    assert (header.command, header.family, header.tlvs, header.consumed) == (Command.LOCAL, Family.UNSPEC, (), 16)
    assert encode(header) == raw


# -- differences_from_aws: what `lab verify` notes about the lab NLB's headers ------------------------------------

def test_aws_layouts_have_no_differences():
    from lab.ppv2.aws import aws_health_check_header, aws_nlb_header, differences_from_aws

    assert differences_from_aws(aws_nlb_header("172.31.7.113", 51442, "172.31.10.31", 80,
                                               "vpce-08d2bf15fac5001c9")) == []
    assert differences_from_aws(aws_health_check_header()) == []


def test_haproxy_layouts_are_noted():
    from lab.ppv2 import Command, Family, Header, Transport
    from lab.ppv2.aws import differences_from_aws
    from lab.ppv2.codec import with_crc
    from lab.ppv2.tlv import TLV

    proxy = with_crc(Header(Command.PROXY, Family.INET, Transport.STREAM, "10.0.1.10", "10.0.1.253", 40000, 80,
                            (TLV.aws_vpce_id("vpce-007837919af6701aa"), TLV.crc32c())))
    assert differences_from_aws(proxy) == ["CRC32C TLV is not first (AWS puts it first)",
                                           "61 bytes, not padded with NOOP to 100 (AWS pads)"]
    check = with_crc(Header(Command.LOCAL, Family.UNSPEC, Transport.UNSPEC,
                            tlvs=(TLV.aws_vpce_id(""), TLV.crc32c())))
    notes = differences_from_aws(check)
    assert "a LOCAL header carries TLV 0xEA (AWS's health checks carry none)" in notes
    assert "LOCAL family UNSPEC (AWS writes INET, byte 0x11, with no addresses)" in notes
    bare = Header(Command.PROXY, Family.INET, Transport.STREAM, "10.0.1.10", "10.0.1.253", 40000, 80)
    assert differences_from_aws(bare)[:2] == ["no CRC32C TLV (AWS sends one first)",
                                              "no TLV 0xEA (AWS sends the endpoint ID on every PROXY header)"]
