"""TLVs: the (type, length, value) records that follow the address block.

A TLV is kept as ``TLV(type, value)``: the length on the wire is always
``len(value)``, so nothing is lost and a decode/encode round trip is byte-exact
(order and duplicates included, since a header keeps them in a tuple).

Validation follows one documented rule:

* types the specification defines (0x01-0x05, 0x20, 0x30) are checked when a
  header is decoded or encoded, so their typed accessors never fail later;
* vendor types (0xE0-0xEF: GCP 0xE0, AWS 0xEA, Azure 0xEE) are never rejected,
  because that range is shared between vendors; their accessors return ``None``
  when a value does not have the vendor's shape;
* every other type is kept raw.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from lab.ppv2.errors import BadTLV

__all__ = [
    "TLV",
    "TLVType",
    "SSLSubType",
    "SSLClient",
    "SSLInfo",
    "AWS_SUBTYPE_VPCE_ID",
    "AZURE_SUBTYPE_LINK_ID",
    "UNIQUE_ID_MAX",
    "parse_tlvs",
    "pack_tlvs",
]

UNIQUE_ID_MAX = 128  # the specification caps UNIQUE_ID values at 128 bytes
AWS_SUBTYPE_VPCE_ID = 0x01  # PP2_SUBTYPE_AWS_VPCE_ID
AZURE_SUBTYPE_LINK_ID = 0x01  # PP2_SUBTYPE_AZURE_PRIVATEENDPOINT_LINKID


class TLVType(enum.IntEnum):
    ALPN = 0x01
    AUTHORITY = 0x02
    CRC32C = 0x03
    NOOP = 0x04
    UNIQUE_ID = 0x05
    SSL = 0x20
    NETNS = 0x30
    GCP = 0xE0
    AWS = 0xEA
    AZURE = 0xEE


class SSLSubType(enum.IntEnum):
    VERSION = 0x21
    CN = 0x22
    CIPHER = 0x23
    SIG_ALG = 0x24
    KEY_ALG = 0x25
    GROUP = 0x26
    SIG_SCHEME = 0x27
    CLIENT_CERT = 0x28


class SSLClient(enum.IntFlag):
    SSL = 0x01
    CERT_CONN = 0x02
    CERT_SESS = 0x04


class TLV(NamedTuple):
    """One TLV. A NamedTuple because decode builds many and tuples are the cheapest."""

    type: int
    value: bytes

    @property
    def name(self) -> str:
        known = TLVType._value2member_map_.get(self.type) or SSLSubType._value2member_map_.get(self.type)
        return known.name if known is not None else f"0x{self.type:02X}"

    # Constructors for the well-known types: they say what the value means.
    @classmethod
    def alpn(cls, protocol: bytes) -> TLV:
        return cls(TLVType.ALPN, protocol)

    @classmethod
    def authority(cls, host: str) -> TLV:
        return cls(TLVType.AUTHORITY, host.encode())

    @classmethod
    def crc32c(cls, checksum: int = 0) -> TLV:
        """A CRC32C TLV; leave ``checksum`` at 0 and ``encode(..., recompute_crc=True)`` fills it."""
        return cls(TLVType.CRC32C, checksum.to_bytes(4, "big"))

    @classmethod
    def noop(cls, size: int = 0) -> TLV:
        return cls(TLVType.NOOP, bytes(size))

    @classmethod
    def unique_id(cls, value: bytes) -> TLV:
        return cls(TLVType.UNIQUE_ID, value)

    @classmethod
    def netns(cls, namespace: str) -> TLV:
        return cls(TLVType.NETNS, namespace.encode("ascii"))

    @classmethod
    def ssl(cls, client: int, verify: int, sub_tlvs: Iterable[TLV] = ()) -> TLV:
        return cls(TLVType.SSL, bytes((client,)) + verify.to_bytes(4, "big") + pack_tlvs(sub_tlvs, validate=False))

    @classmethod
    def aws_vpce_id(cls, vpce_id: str) -> TLV:
        return cls(TLVType.AWS, bytes((AWS_SUBTYPE_VPCE_ID,)) + vpce_id.encode("ascii"))

    @classmethod
    def azure_link_id(cls, link_id: int) -> TLV:
        return cls(TLVType.AZURE, bytes((AZURE_SUBTYPE_LINK_ID,)) + link_id.to_bytes(4, "little"))

    @classmethod
    def gcp_psc_connection_id(cls, connection_id: int) -> TLV:
        return cls(TLVType.GCP, connection_id.to_bytes(8, "big"))


@dataclass(frozen=True, slots=True)
class SSLInfo:
    """The value of an SSL TLV: client flags, verify result, then sub-TLVs."""

    client: SSLClient
    verify: int
    tlvs: tuple[TLV, ...]

    @property
    def verified(self) -> bool:
        # verify == 0 means the client presented a certificate that verified
        return self.verify == 0

    def _text(self, sub_type: SSLSubType) -> str | None:
        value = self._raw(sub_type)
        return None if value is None else value.decode("utf-8", "replace")

    def _raw(self, sub_type: SSLSubType) -> bytes | None:
        return next((tlv.value for tlv in self.tlvs if tlv.type == sub_type), None)

    version = property(lambda self: self._text(SSLSubType.VERSION))
    cn = property(lambda self: self._text(SSLSubType.CN))
    cipher = property(lambda self: self._text(SSLSubType.CIPHER))
    sig_alg = property(lambda self: self._text(SSLSubType.SIG_ALG))
    key_alg = property(lambda self: self._text(SSLSubType.KEY_ALG))
    group = property(lambda self: self._text(SSLSubType.GROUP))
    sig_scheme = property(lambda self: self._text(SSLSubType.SIG_SCHEME))
    client_cert = property(lambda self: self._raw(SSLSubType.CLIENT_CERT))

    @classmethod
    def from_value(cls, value: bytes) -> SSLInfo:
        if len(value) < 5:
            raise BadTLV(f"SSL TLV value is {len(value)} bytes, needs at least 5 (client + verify)")
        sub_tlvs, _ = parse_tlvs(value, 5, len(value), validate=False)
        return cls(SSLClient(value[0]), int.from_bytes(value[1:5], "big"), sub_tlvs)


def parse_tlvs(data: bytes, start: int, end: int, *, validate: bool = True) -> tuple[tuple[TLV, ...], list[int]]:
    """Split ``data[start:end]`` into TLVs; also return the offsets of CRC32C values.

    The CRC offsets come for free from this walk and spare the checksum check a
    second pass. Known spec-defined types are validated here (see module docstring);
    SSL sub-TLVs are parsed with ``validate=False``: their type numbers live in a
    separate space, and validating them would recurse into nested "SSL" values.
    """
    tlvs: list[TLV] = []
    crc_offsets: list[int] = []
    make = tuple.__new__  # skips NamedTuple.__new__'s argument handling: ~2x faster
    validators = _VALIDATORS if validate else {}
    pos = start
    while pos < end:
        if end - pos < 3:
            raise BadTLV(f"TLV at offset {pos} truncated: {end - pos} byte(s) left, a TLV header needs 3")
        tlv_type = data[pos]
        value_start = pos + 3
        pos = value_start + ((data[pos + 1] << 8) | data[pos + 2])
        if pos > end:
            raise BadTLV(f"TLV 0x{tlv_type:02X} at offset {value_start - 3} overruns the header by {pos - end} byte(s)")
        value = data[value_start:pos]
        if tlv_type in validators:
            validators[tlv_type](value)
        if tlv_type == 0x03:  # TLVType.CRC32C; a literal skips the enum's __eq__
            crc_offsets.append(value_start)
        tlvs.append(make(TLV, (tlv_type, value)))
    return tuple(tlvs), crc_offsets


def pack_tlvs(tlvs: Iterable[TLV], *, validate: bool = True) -> bytes:
    """Serialize TLVs in the given order, validating them like the decoder would."""
    parts = []
    for tlv_type, value in tlvs:
        if not isinstance(tlv_type, int) or not 0 <= tlv_type <= 0xFF:
            raise BadTLV(f"TLV type {tlv_type!r} is not a byte (0..255)")
        if not isinstance(value, (bytes, bytearray)):
            raise BadTLV(f"TLV 0x{tlv_type:02X} value must be bytes, not {type(value).__name__}")
        if len(value) > 0xFFFF:
            raise BadTLV(f"TLV 0x{tlv_type:02X} value is {len(value)} bytes, the length field holds 65535 at most")
        if validate and tlv_type in _VALIDATORS:
            _VALIDATORS[tlv_type](bytes(value))
        parts.append(bytes((tlv_type, len(value) >> 8, len(value) & 0xFF)))
        parts.append(bytes(value))
    return b"".join(parts)


# --- validators of spec-defined types (vendor types are deliberately absent) ---

def _check_crc32c(value: bytes) -> None:
    if len(value) != 4:
        raise BadTLV(f"CRC32C TLV value is {len(value)} bytes, must be 4")


def _check_unique_id(value: bytes) -> None:
    if len(value) > UNIQUE_ID_MAX:
        raise BadTLV(f"UNIQUE_ID TLV value is {len(value)} bytes, the limit is {UNIQUE_ID_MAX}")


def _check_utf8(name: str) -> Callable[[bytes], None]:
    def check(value: bytes) -> None:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadTLV(f"{name} TLV value is not UTF-8: {exc.reason} at byte {exc.start}") from None
    return check


def _check_ascii(name: str) -> Callable[[bytes], None]:
    def check(value: bytes) -> None:
        if not value.isascii():
            raise BadTLV(f"{name} TLV value is not US-ASCII")
    return check


def _check_ssl(value: bytes) -> None:
    # Framing only, without building SSLInfo: an IntFlag and a tuple of sub-TLVs per
    # header would double the decode time of TLS-terminating proxies' headers.
    if len(value) < 5:
        raise BadTLV(f"SSL TLV value is {len(value)} bytes, needs at least 5 (client + verify)")
    end = len(value)
    pos = 5
    while pos < end:
        if end - pos < 3:
            raise BadTLV(f"SSL sub-TLV at offset {pos} truncated: {end - pos} byte(s) left, a TLV header needs 3")
        pos += 3 + ((value[pos + 1] << 8) | value[pos + 2])
    if pos > end:
        raise BadTLV(f"last SSL sub-TLV overruns the SSL value by {pos - end} byte(s)")


_VALIDATORS: dict[int, Callable[[bytes], None]] = {
    TLVType.AUTHORITY: _check_utf8("AUTHORITY"),
    TLVType.CRC32C: _check_crc32c,
    TLVType.UNIQUE_ID: _check_unique_id,
    TLVType.SSL: _check_ssl,
    TLVType.NETNS: _check_ascii("NETNS"),
}


# --- typed value readers used by Header's accessors ---

def authority_of(value: bytes) -> str:
    return value.decode("utf-8")


def crc32c_of(value: bytes) -> int:
    return int.from_bytes(value, "big")


def netns_of(value: bytes) -> str:
    return value.decode("ascii")


def aws_vpce_id_of(value: bytes) -> str | None:
    if len(value) < 2 or value[0] != AWS_SUBTYPE_VPCE_ID or not value.isascii():
        return None
    return value[1:].decode("ascii")


def azure_link_id_of(value: bytes) -> int | None:
    if len(value) != 5 or value[0] != AZURE_SUBTYPE_LINK_ID:
        return None
    return int.from_bytes(value[1:], "little")


def gcp_psc_connection_id_of(value: bytes) -> int | None:
    return int.from_bytes(value, "big") if len(value) == 8 else None
