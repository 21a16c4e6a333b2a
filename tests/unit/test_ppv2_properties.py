"""Hypothesis: encode/decode round trips for every family, command and TLV mix."""

from __future__ import annotations

import socket

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lab.ppv2 import (
    TLV,
    BadAddress,
    Command,
    Family,
    Header,
    StreamReader,
    Transport,
    decode,
    encode,
    with_crc,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ipv4 = st.binary(min_size=4, max_size=4).map(socket.inet_ntoa)
ipv6 = st.binary(min_size=16, max_size=16).map(lambda raw: socket.inet_ntop(socket.AF_INET6, raw))
unix_path = (
    st.binary(max_size=108)
    .filter(lambda raw: not raw.endswith(b"\0"))
    .map(lambda raw: raw.decode("utf-8", "surrogateescape"))
)
port = st.integers(0, 0xFFFF)
ascii_text = st.text(st.characters(max_codepoint=0x7F), max_size=40)

# Types the codec validates, generated through their constructors so they are valid.
known_tlv = st.one_of(
    st.binary(max_size=40).map(TLV.alpn),
    st.text(max_size=40).map(TLV.authority),
    st.just(TLV.crc32c()),
    st.integers(0, 200).map(TLV.noop),
    st.binary(max_size=128).map(TLV.unique_id),
    ascii_text.map(TLV.netns),
    st.builds(
        TLV.ssl,
        st.integers(0, 7),
        st.integers(0, 2**32 - 1),
        st.lists(st.builds(TLV, st.integers(0x21, 0x28), st.binary(max_size=30)), max_size=4),
    ),
    ascii_text.map(TLV.aws_vpce_id),
    st.integers(0, 2**32 - 1).map(TLV.azure_link_id),
    st.integers(0, 2**64 - 1).map(TLV.gcp_psc_connection_id),
)
VALIDATED = {0x02, 0x03, 0x05, 0x20, 0x30}
raw_tlv = st.builds(TLV, st.integers(0, 255).filter(lambda t: t not in VALIDATED), st.binary(max_size=300))
tlv_lists = st.lists(st.one_of(known_tlv, raw_tlv), max_size=8).map(tuple)


@st.composite
def headers(draw: st.DrawFn) -> Header:
    command = draw(st.sampled_from(Command))
    family = draw(st.sampled_from(Family))
    if command == Command.PROXY:
        if family == Family.UNSPEC:
            transport = Transport.UNSPEC
        else:
            transport = draw(st.sampled_from([Transport.STREAM, Transport.DGRAM]))
    else:
        transport = draw(st.sampled_from(Transport))  # LOCAL's family byte is ignored by receivers
    with_addresses = family != Family.UNSPEC and (command == Command.PROXY or draw(st.booleans()))
    src = dst = sport = dport = None
    if with_addresses:
        address = {Family.INET: ipv4, Family.INET6: ipv6, Family.UNIX: unix_path}[family]
        src, dst = draw(address), draw(address)
        if family != Family.UNIX:
            sport, dport = draw(port), draw(port)
    return Header(command, family, transport, src, dst, sport, dport, draw(tlv_lists))


def encode_or_none(header: Header) -> bytes | None:
    """Encoded bytes, or None for the LOCAL headers the codec's LOCAL rule would misread."""
    try:
        return encode(header, recompute_crc=True)
    except BadAddress as error:
        assert "ambiguous LOCAL header" in str(error)
        assert header.command == Command.LOCAL and header.family != Family.UNSPEC
        return None


@SETTINGS
@given(headers())
def test_encode_decode_round_trip(header: Header) -> None:
    raw = encode_or_none(header)
    assume(raw is not None)
    decoded = decode(raw)
    assert encode(decoded) == raw
    assert decoded.consumed == len(raw)
    assert decoded == with_crc(header)


@SETTINGS
@given(headers())
def test_only_ambiguous_local_headers_are_refused(header: Header) -> None:
    refused = encode_or_none(header) is None
    assert not refused or header.command == Command.LOCAL


@SETTINGS
@given(headers(), st.binary(max_size=64))
def test_payload_after_the_header_is_left_alone(header: Header, payload: bytes) -> None:
    raw = encode_or_none(header)
    assume(raw is not None)
    decoded = decode(raw + payload)
    assert (raw + payload)[decoded.consumed :] == payload


@SETTINGS
@given(
    st.builds(
        lambda tlvs, lead: Header(Command.LOCAL, Family.INET, Transport.STREAM, tlvs=(lead, *tlvs)),
        tlv_lists,
        st.one_of(st.just(TLV.crc32c()), st.integers(0, 100).map(TLV.noop), ascii_text.map(TLV.aws_vpce_id)),
    )
)
def test_aws_style_local_headers_without_addresses_decode_as_built(header: Header) -> None:
    # Health checks start their TLVs with a registered type: always read as "no address block".
    raw = encode(header, recompute_crc=True)
    assert decode(raw) == with_crc(header)


@SETTINGS
@given(headers(), st.binary(max_size=32), st.lists(st.integers(1, 400), min_size=1, max_size=20))
def test_stream_reader_agrees_with_decode_for_any_split(header: Header, payload: bytes, cuts: list[int]) -> None:
    raw = encode_or_none(header)
    assume(raw is not None)
    data = raw + payload
    reader = StreamReader()
    position, result = 0, None
    for size in cuts * (len(data) // sum(cuts) + 1):
        result = reader.feed(data[position : position + size])
        position += size
        if result is not None or position >= len(data):
            break
    assert result is not None
    got, rest = result
    assert got == decode(data)
    assert rest == data[got.consumed : position]


@SETTINGS
@given(
    st.one_of(
        st.tuples(st.just(Family.INET), ipv4, ipv4),
        st.tuples(st.just(Family.INET6), ipv6, ipv6),
    ),
    port,
    port,
)
def test_v1_round_trip(addresses: tuple[Family, str, str], sport: int, dport: int) -> None:
    family, src, dst = addresses
    header = Header(Command.PROXY, family, Transport.STREAM, src, dst, sport, dport, version=1)
    raw = encode(header)
    assert len(raw) <= 107
    decoded = decode(raw)
    assert encode(decoded) == raw
    assert decoded == header
