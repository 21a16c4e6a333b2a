"""decode/encode behaviour: typed errors, the LOCAL rule, families, TLV accessors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lab.ppv2 import (
    SIGNATURE,
    TLV,
    BadAddress,
    BadChecksum,
    BadCommand,
    BadFamily,
    BadLength,
    BadSignature,
    BadTLV,
    BadVersion,
    Command,
    Family,
    Header,
    IncompleteHeader,
    ProxyProtocolError,
    SSLClient,
    Transport,
    TruncatedHeader,
    decode,
    encode,
    has_address_block,
    with_crc,
)

INET = Header(Command.PROXY, Family.INET, Transport.STREAM, "10.0.0.1", "10.0.0.2", 1234, 443)


def v2(ver_cmd: int, fam: int, body: bytes) -> bytes:
    return SIGNATURE + bytes((ver_cmd, fam)) + len(body).to_bytes(2, "big") + body


# ------------------------------------------------------------------ typed errors


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"GET / HTTP/1.1\r\n", BadSignature),
        (b"\r\n\r\n\x00\r\nQUIT\x0b" + bytes(4), BadSignature),
        (b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", BadSignature),
        (v2(0x11, 0x11, bytes(12)), BadVersion),
        (v2(0x31, 0x11, bytes(12)), BadVersion),
        (v2(0x22, 0x11, bytes(12)), BadCommand),
        (v2(0x21, 0x41, bytes(12)), BadFamily),
        (v2(0x21, 0x13, bytes(12)), BadFamily),
        (v2(0x21, 0x10, bytes(12)), BadFamily),  # PROXY INET needs a transport
        (v2(0x21, 0x11, bytes(11)), BadLength),
        (v2(0x21, 0x21, bytes(35)), BadLength),
        (v2(0x21, 0x31, bytes(215)), BadLength),
        (v2(0x21, 0x11, bytes(12) + b"\x01\x00"), BadTLV),  # TLV header cut short
        (v2(0x21, 0x11, bytes(12) + b"\x01\x00\x05abc"), BadTLV),  # value overruns len
        (v2(0x21, 0x11, bytes(12) + b"\x03\x00\x03abc"), BadTLV),  # CRC32C must be 4 bytes
        (v2(0x21, 0x11, bytes(12) + b"\x05\x00\x81" + bytes(129)), BadTLV),  # UNIQUE_ID > 128
        (v2(0x21, 0x11, bytes(12) + b"\x02\x00\x02\xff\xfe"), BadTLV),  # AUTHORITY not UTF-8
        (v2(0x21, 0x11, bytes(12) + b"\x30\x00\x01\xe9"), BadTLV),  # NETNS not ASCII
        (v2(0x21, 0x11, bytes(12) + b"\x20\x00\x04" + bytes(4)), BadTLV),  # SSL shorter than 5
        (v2(0x21, 0x11, bytes(12) + b"\x20\x00\x07" + bytes(5) + b"\x21\x00"), BadTLV),  # broken sub-TLV
        (v2(0x21, 0x11, bytes(12) + b"\x03\x00\x04" + bytes(4)), BadChecksum),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2" + b" " * 100, BadLength),  # no CRLF in 107 bytes
        (b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", BadAddress),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", BadAddress),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", BadAddress),
        (b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", BadAddress),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", BadAddress),
        (b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", BadAddress),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 \xff\r\n", BadAddress),
    ],
)
def test_invalid_input_raises_the_matching_typed_error(data: bytes, error: type[ProxyProtocolError]) -> None:
    with pytest.raises(error) as raised:
        decode(data)
    assert isinstance(raised.value, ProxyProtocolError)
    assert str(raised.value)  # every error says what was wrong


@pytest.mark.parametrize(
    ("data", "needed"),
    [
        (b"", 1),
        (SIGNATURE[:5], 1),
        (SIGNATURE, 4),
        (v2(0x21, 0x11, bytes(12))[:20], 8),
        (b"PROX", 1),
        (b"PROXY TCP4 1.2.3.4", 1),
    ],
)
def test_truncated_input_says_how_much_is_missing(data: bytes, needed: int) -> None:
    with pytest.raises(IncompleteHeader) as raised:
        decode(data)
    assert raised.value.needed == needed
    assert TruncatedHeader is IncompleteHeader


def test_fixed_part_is_validated_before_waiting_for_the_rest() -> None:
    # A server learns "bad version" after 16 bytes instead of waiting for 64 KiB.
    with pytest.raises(BadVersion):
        decode(SIGNATURE + b"\x11\x11\xff\xff")


def test_errors_are_value_errors() -> None:
    assert issubclass(ProxyProtocolError, ValueError)


# ------------------------------------------------------------------ the LOCAL rule


def test_local_without_address_block_reads_tlvs_right_after_len() -> None:
    raw = v2(0x20, 0x11, TLV.noop(2).type.to_bytes(1, "big") + b"\x00\x02\x00\x00")
    header = decode(raw)
    assert header.has_addresses is False
    assert header.tlvs == (TLV.noop(2),)
    assert encode(header) == raw


def test_local_shorter_than_address_block_is_tlvs_only() -> None:
    raw = v2(0x20, 0x11, b"\x04\x00\x00")
    assert decode(raw).tlvs == (TLV(4, b""),)
    assert encode(decode(raw)) == raw


def test_local_with_real_address_block_keeps_addresses() -> None:
    header = Header(Command.LOCAL, Family.INET, Transport.STREAM, "10.0.0.1", "10.0.0.2", 1234, 80, (TLV.noop(1),))
    raw = encode(header)
    assert decode(raw) == header
    assert has_address_block(raw) is True


def test_local_zero_addresses_with_zero_padding_keep_the_address_block() -> None:
    # Zeros parse as TLVs of type 0; the registered-first-type check keeps them as addresses.
    header = Header(Command.LOCAL, Family.INET, Transport.STREAM, "0.0.0.0", "0.0.0.0", 0, 0, (TLV.noop(8),))
    assert decode(encode(header)) == header


def test_local_empty_len_with_inet_family() -> None:
    raw = v2(0x20, 0x11, b"")
    header = decode(raw)
    assert (header.command, header.family, header.has_addresses, header.tlvs) == (
        Command.LOCAL,
        Family.INET,
        False,
        (),
    )
    assert encode(header) == raw


def test_local_with_bad_crc_is_rejected_not_reinterpreted() -> None:
    health_check = Header(Command.LOCAL, Family.INET, Transport.STREAM, tlvs=(TLV.crc32c(), TLV.noop(74)))
    raw = bytearray(encode(with_crc(health_check)))
    raw[20] ^= 1
    with pytest.raises(BadChecksum):
        decode(bytes(raw))


def test_local_falls_back_to_tlvs_only_when_the_address_reading_does_not_parse() -> None:
    raw = v2(0x20, 0x11, b"\x99\x00\x14" + b"x" * 20)  # unregistered first type, but only TLVs fit
    header = decode(raw)
    assert (header.has_addresses, header.tlvs) == (False, (TLV(0x99, b"x" * 20),))
    assert encode(header) == raw


@pytest.mark.parametrize(
    "header",
    [
        # 01 00 09 ...: the address block would read as one ALPN TLV
        Header(Command.LOCAL, Family.INET, Transport.STREAM, "1.0.9.1", "5.6.7.8", 1, 2),
        # four empty unregistered TLVs would read as a 12-byte address block
        Header(Command.LOCAL, Family.INET, Transport.STREAM, tlvs=(TLV(0x99, b""),) * 4),
    ],
)
def test_encode_refuses_local_headers_that_would_decode_the_other_way(header: Header) -> None:
    with pytest.raises(BadAddress, match="ambiguous LOCAL header"):
        encode(header)


def test_local_ignores_unassigned_family_transport_pairs_the_spec_lets_it_ignore() -> None:
    raw = v2(0x20, 0x10, b"")  # PROXY would need a transport; LOCAL's family is ignored
    assert decode(raw).command == Command.LOCAL


# ------------------------------------------------------------------ families


def test_inet6_round_trip() -> None:
    header = Header(Command.PROXY, Family.INET6, Transport.DGRAM, "2001:db8::1", "fe80::2", 53, 5353)
    raw = encode(header)
    assert len(raw) == 16 + 36
    assert decode(raw) == header


def test_unix_round_trip_including_abstract_and_odd_bytes() -> None:
    src = "\0abstract"
    dst = "/run/caf\udcff.sock"  # a byte that is not UTF-8 survives via surrogateescape
    header = Header(Command.PROXY, Family.UNIX, Transport.STREAM, src, dst)
    raw = encode(header)
    assert len(raw) == 16 + 216
    assert decode(raw) == header


def test_unix_path_too_long_or_ending_in_nul_is_refused() -> None:
    with pytest.raises(BadAddress):
        encode(Header(Command.PROXY, Family.UNIX, Transport.STREAM, "x" * 109, "/y"))
    with pytest.raises(BadAddress):
        encode(Header(Command.PROXY, Family.UNIX, Transport.STREAM, "/x\0", "/y"))
    with pytest.raises(BadAddress):  # escapes of valid UTF-8 would come back as "é"
        encode(Header(Command.PROXY, Family.UNIX, Transport.STREAM, "/caf\udcc3\udca9", "/y"))


def test_unspec_proxy_carries_tlvs_only() -> None:
    header = Header(Command.PROXY, Family.UNSPEC, Transport.UNSPEC, tlvs=(TLV.authority("a.example"),))
    raw = encode(header)
    assert raw[13] == 0x00
    assert decode(raw) == header


@pytest.mark.parametrize(
    "header",
    [
        Header(Command.PROXY, Family.INET, Transport.STREAM, "10.0.0.1", None, 1, 2),
        Header(Command.PROXY, Family.INET, Transport.STREAM, "10.0.0.1", "x", 1, 2),
        Header(Command.PROXY, Family.INET, Transport.STREAM, "10.0.0.1", "10.0.0.2", 1, 70000),
        Header(Command.PROXY, Family.INET, Transport.STREAM),
        Header(Command.PROXY, Family.UNSPEC, Transport.UNSPEC, "10.0.0.1", "10.0.0.2", 1, 2),
        Header(Command.PROXY, Family.INET6, Transport.STREAM, "10.0.0.1", "10.0.0.2", 1, 2),
    ],
)
def test_encode_refuses_bad_addresses(header: Header) -> None:
    with pytest.raises(BadAddress):
        encode(header)


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (Header(command=5), BadCommand),  # type: ignore[arg-type]
        (Header(family=Family.INET, transport=Transport.UNSPEC), BadFamily),
        (Header(version=3), BadVersion),
        (Header(tlvs=(TLV(256, b""),)), BadTLV),
        (Header(tlvs=(TLV(1, "text"),)), BadTLV),  # type: ignore[arg-type]
        (Header(tlvs=(TLV(4, bytes(0x10000)),)), BadTLV),
        (Header(tlvs=(TLV(4, bytes(0xFFF0)), TLV(4, bytes(16)))), BadLength),
        (Header(tlvs=(TLV(5, bytes(129)),)), BadTLV),
    ],
)
def test_encode_refuses_what_decode_would_reject(header: Header, error: type[ProxyProtocolError]) -> None:
    with pytest.raises(error):
        encode(header)


# ------------------------------------------------------------------ TLVs


def test_duplicates_and_order_survive() -> None:
    tlvs = (TLV(0xF0, b"b"), TLV.alpn(b"h2"), TLV(0xF0, b"a"), TLV.alpn(b"http/1.1"), TLV(0x99, b""))
    header = Header(Command.PROXY, Family.UNSPEC, Transport.UNSPEC, tlvs=tlvs)
    assert decode(encode(header)).tlvs == tlvs
    assert header.alpn == b"h2"  # the first one wins in the accessors
    assert [tlv.value for tlv in header.find_all(0xF0)] == [b"b", b"a"]


def test_typed_accessors() -> None:
    ssl = TLV.ssl(
        SSLClient.SSL | SSLClient.CERT_CONN,
        0,
        [
            TLV(0x21, b"TLSv1.3"),
            TLV(0x22, b"client.example"),
            TLV(0x23, b"TLS_AES_128_GCM_SHA256"),
            TLV(0x28, b"\x30\x82"),
        ],
    )
    header = decode(
        encode(
            with_crc(
                Header(
                    Command.PROXY,
                    Family.INET,
                    Transport.STREAM,
                    "10.0.0.1",
                    "10.0.0.2",
                    1,
                    2,
                    (
                        TLV.crc32c(),
                        TLV.alpn(b"h2"),
                        TLV.authority("api.example.com"),
                        TLV.unique_id(b"\x01" * 128),
                        ssl,
                        TLV.netns("blue"),
                        TLV.aws_vpce_id("vpce-0123456789abcdef0"),
                        TLV.azure_link_id(0x01020304),
                        TLV.gcp_psc_connection_id(2**64 - 2),
                        TLV(0xF5, b"experimental"),
                    ),
                )
            )
        )
    )
    assert header.alpn == b"h2"
    assert header.authority == "api.example.com"
    assert header.unique_id == b"\x01" * 128
    assert header.netns == "blue"
    assert header.aws_vpce_id == "vpce-0123456789abcdef0"
    assert header.azure_link_id == 0x01020304
    assert header.find(0xEE).value == b"\x01\x04\x03\x02\x01"  # little-endian on the wire
    assert header.gcp_psc_connection_id == 2**64 - 2
    assert header.find(0xF5).name == "0xF5"
    info = header.ssl
    assert info is not None
    assert (info.client, info.verify, info.verified) == (SSLClient.SSL | SSLClient.CERT_CONN, 0, True)
    assert (info.version, info.cn, info.cipher) == ("TLSv1.3", "client.example", "TLS_AES_128_GCM_SHA256")
    assert info.client_cert == b"\x30\x82"
    assert info.sig_alg is None
    assert isinstance(header.crc32c, int)


def test_accessors_return_none_when_absent() -> None:
    header = decode(encode(INET))
    values = [
        header.alpn, header.authority, header.crc32c, header.unique_id, header.ssl,
        header.netns, header.aws_vpce_id, header.azure_link_id, header.gcp_psc_connection_id,
    ]
    assert values == [None] * 9


@pytest.mark.parametrize(
    ("tlv", "accessor"),
    [
        (TLV(0xEA, b"\x02other-subtype"), "aws_vpce_id"),
        (TLV(0xEA, b"\x01\xff\xfe"), "aws_vpce_id"),
        (TLV(0xEE, b"\x02\x00\x00\x00\x01"), "azure_link_id"),
        (TLV(0xEE, b"\x01\x00\x00"), "azure_link_id"),
        (TLV(0xE0, b"\x00" * 7), "gcp_psc_connection_id"),
    ],
)
def test_vendor_tlvs_of_another_shape_are_kept_not_rejected(tlv: TLV, accessor: str) -> None:
    # 0xE0-0xEF is shared between vendors: never an error, just not that vendor's value.
    raw = encode(Header(tlvs=(tlv,)))
    header = decode(raw)
    assert header.tlvs == (tlv,)
    assert getattr(header, accessor) is None
    assert encode(header) == raw


def test_aws_vpce_id_skips_foreign_0xea_and_finds_the_real_one() -> None:
    header = Header(tlvs=(TLV(0xEA, b"\x07zz"), TLV.aws_vpce_id("vpce-1")))
    assert header.aws_vpce_id == "vpce-1"


def test_ssl_sub_tlvs_are_not_validated_as_top_level_types() -> None:
    # A sub-TLV numbered like CRC32C (3) with 1 byte is fine inside SSL: separate number space.
    ssl = TLV.ssl(0, 1, [TLV(0x03, b"x")])
    assert decode(encode(Header(tlvs=(ssl,)))).ssl.verified is False


def test_deeply_nested_ssl_values_do_not_recurse() -> None:
    value = b""
    for _ in range(5000):
        value = bytes(5) + b"\x20" + len(value).to_bytes(2, "big") + value
    header = decode(encode(Header(tlvs=(TLV(0x20, bytes(5) + b"\x20" + len(value).to_bytes(2, "big") + value),))))
    assert header.ssl is not None


def test_multiple_crc_tlvs_are_all_filled_and_checked() -> None:
    raw = encode(Header(tlvs=(TLV.crc32c(), TLV.noop(3), TLV.crc32c())), recompute_crc=True)
    header = decode(raw)
    assert header.tlvs[0] == header.tlvs[2] != TLV.crc32c()
    tampered = bytearray(raw)
    tampered[-1] ^= 1  # only the second CRC changed
    with pytest.raises(BadChecksum):
        decode(bytes(tampered))


def test_with_crc_fills_the_checksum_without_touching_the_rest() -> None:
    tlvs = (TLV.crc32c(), TLV.alpn(b"x"))
    base = Header(Command.PROXY, Family.INET, Transport.STREAM, "1.2.3.4", "5.6.7.8", 9, 10, tlvs)
    sealed = with_crc(base)
    assert sealed.tlvs[1:] == base.tlvs[1:]
    assert sealed.crc32c != 0
    assert decode(encode(sealed)) == sealed


def test_length_of_built_header_is_its_encoded_size() -> None:
    assert INET.length == 28
    assert INET.consumed is None


def test_to_dict_is_json_ready() -> None:
    import json

    data = json.loads(json.dumps(with_crc(Header(tlvs=(TLV.crc32c(), TLV.aws_vpce_id("vpce-9")))).to_dict()))
    assert data["aws_vpce_id"] == "vpce-9"
    assert data["tlvs"][1] == {"type": 0xEA, "name": "AWS", "value": b"\x01vpce-9".hex()}


def test_bytearray_and_memoryview_inputs() -> None:
    raw = encode(INET)
    assert decode(bytearray(raw)) == decode(memoryview(raw)) == INET


def test_v1_header_encoding_rules() -> None:
    header = Header(Command.PROXY, Family.INET6, Transport.STREAM, "::1", "::2", 1, 2, version=1)
    assert encode(header) == b"PROXY TCP6 ::1 ::2 1 2\r\n"
    with pytest.raises(BadAddress):
        encode(Header(Command.PROXY, Family.INET, Transport.STREAM, "1.2.3.4", "5.6.7.8", 1, 2, (TLV.noop(),), 1))
    with pytest.raises(BadAddress):
        encode(Header(Command.LOCAL, version=1))


def test_importing_the_codec_does_not_import_scapy() -> None:
    code = (
        "import sys, lab.ppv2; lab.ppv2.decode(lab.ppv2.SIGNATURE + bytes((0x20, 0, 0, 0)));"
        "print('scapy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
