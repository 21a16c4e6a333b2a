"""Bytes <-> Header for PROXY protocol v2 (and v1 via :mod:`lab.ppv2.v1`).

``decode(data)`` reads one complete header from the start of ``data`` and records
in ``header.consumed`` how many bytes it used; whatever follows is payload and is
not looked at. Every failure is a :class:`ProxyProtocolError` subclass.

``encode(header)`` writes the exact inverse: ``encode(decode(b)) == b`` for every
``b`` that decodes (TLV order, duplicates, padding and the stored CRC are kept).
``encode(header, recompute_crc=True)`` refreshes every CRC32C TLV instead.

The LOCAL rule. A LOCAL header's addresses must be ignored, and AWS health checks
send ``ver_cmd=0x20, fam=0x11`` with *no* address block: TLVs start right after
``len`` (e.g. ``03 00 04 <crc> 04 00 4a 00...``, 100 bytes in all). So for LOCAL
with an address family the decoder first tries "TLVs only": it is chosen when the
first byte is a registered TLV type (0x01-0x05, 0x20, 0x30, 0xE0-0xF7) and the
whole of ``len`` parses as valid TLVs. Otherwise the address block is read, as for
PROXY. Zero padding after an address block would also parse as TLVs (type 0,
length 0), which is why the "TLVs only" reading needs a registered first type.
If that first reading does not apply, the address block is read when the rest
then parses as TLVs, and "TLVs only" is the last resort. The CRC is checked after
the choice, so a corrupted health check is rejected rather than reinterpreted.
``encode`` refuses the rare LOCAL header that this rule would read back the other
way, which keeps both ``encode(decode(b)) == b`` and ``decode(encode(h)) == h``.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import replace

import google_crc32c

from lab.ppv2.errors import (
    BadAddress,
    BadChecksum,
    BadCommand,
    BadFamily,
    BadLength,
    BadSignature,
    BadTLV,
    BadVersion,
    IncompleteHeader,
)
from lab.ppv2.header import ADDRESS_BLOCK_SIZE, Command, Family, Header, Transport
from lab.ppv2.tlv import TLV, TLVType, pack_tlvs, parse_tlvs
from lab.ppv2.v1 import V1_PREFIX, decode_v1, encode_v1, pack_ip

__all__ = [
    "SIGNATURE",
    "FIXED_SIZE",
    "MAX_V2_SIZE",
    "decode",
    "encode",
    "header_size",
    "compute_crc32c",
    "with_crc",
    "refresh_crc",
    "has_address_block",
]

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
FIXED_SIZE = 16  # signature, ver_cmd, fam, len
MAX_V2_SIZE = FIXED_SIZE + 0xFFFF
_ZERO_CRC = bytes(4)

# Enum members by nibble: a tuple index is several times cheaper than Enum(value).
_COMMANDS = (Command.LOCAL, Command.PROXY)
_FAMILIES = (Family.UNSPEC, Family.INET, Family.INET6, Family.UNIX)
_TRANSPORTS = (Transport.UNSPEC, Transport.STREAM, Transport.DGRAM)
_REGISTERED_TLV_TYPES = frozenset((*range(0x01, 0x06), 0x20, 0x30, *range(0xE0, 0xF8)))

_INET_PORTS = struct.Struct("!HH")
_crc32c = google_crc32c.value
_inet_ntoa = socket.inet_ntoa
_inet_ntop = socket.inet_ntop
_AF_INET6 = socket.AF_INET6


def header_size(data: bytes) -> int | None:
    """Total v2 header size announced by the first 16 bytes, or None if fewer are given.

    Lets a stream reader know how much to wait for without decoding anything.
    """
    if len(data) < FIXED_SIZE:
        return None
    return FIXED_SIZE + ((data[14] << 8) | data[15])


def decode(data: bytes, *, verify_crc: bool = True) -> Header:
    """Decode the v1 or v2 header at the start of ``data``.

    Raises IncompleteHeader (with ``.needed``) when ``data`` stops before the header
    ends, and other ProxyProtocolError subclasses for invalid headers.
    """
    if data.__class__ is not bytes:
        data = bytes(data)  # google_crc32c and slicing speed want immutable bytes
    if data[:12] == SIGNATURE:
        return _decode_v2(data, verify_crc)
    if data[:6] == V1_PREFIX:
        return decode_v1(data)
    if SIGNATURE.startswith(data) or V1_PREFIX.startswith(data):
        raise IncompleteHeader(f"{len(data)} byte(s) so far match a signature", needed=1)
    raise BadSignature("data starts with neither the v2 signature nor 'PROXY '")


def _decode_v2(data: bytes, verify_crc: bool) -> Header:
    size = len(data)
    if size < FIXED_SIZE:
        raise IncompleteHeader(f"v2 fixed part needs {FIXED_SIZE} bytes, have {size}", needed=FIXED_SIZE - size)
    ver_cmd = data[12]
    fam = data[13]
    end = FIXED_SIZE + ((data[14] << 8) | data[15])
    if ver_cmd >> 4 != 2:
        raise BadVersion(f"version nibble is {ver_cmd >> 4}, v2 headers need 2")
    command = ver_cmd & 0x0F
    if command > 1:
        raise BadCommand(f"command nibble 0x{command:X} is neither LOCAL (0) nor PROXY (1)")
    family = fam >> 4
    transport = fam & 0x0F
    if family > 3 or transport > 2 or (command and (family == 0) != (transport == 0)):
        raise BadFamily(f"family/transport byte 0x{fam:02X} is not an assigned value")
    if size < end:
        raise IncompleteHeader(f"header announces {end} bytes, have {size}", needed=end - size)

    src = dst = src_port = dst_port = parsed = None
    tlv_start = FIXED_SIZE
    address_size = ADDRESS_BLOCK_SIZE[family] if family else 0
    has_addresses = address_size and command
    if address_size and not command:
        has_addresses, parsed = _local_reading(data, end, address_size)  # parsed: reused below
    if has_addresses:
        if end - FIXED_SIZE < address_size:
            raise BadLength(f"len {end - FIXED_SIZE} is shorter than the {address_size}-byte address block")
        tlv_start = FIXED_SIZE + address_size
        if family == 1:
            src = _inet_ntoa(data[16:20])
            dst = _inet_ntoa(data[20:24])
            src_port, dst_port = _INET_PORTS.unpack_from(data, 24)
        elif family == 2:
            src = _inet_ntop(_AF_INET6, data[16:32])
            dst = _inet_ntop(_AF_INET6, data[32:48])
            src_port, dst_port = _INET_PORTS.unpack_from(data, 48)
        else:
            src = _unix_path(data[16:124])
            dst = _unix_path(data[124:232])

    if parsed is None:
        parsed = parse_tlvs(data, tlv_start, end) if tlv_start < end else ((), ())
    tlvs, crc_offsets = parsed
    if crc_offsets and verify_crc:
        if len(crc_offsets) == 1:  # inlined common case: a fifth of the decode time otherwise
            at = crc_offsets[0]
            if _crc32c(data[:at] + _ZERO_CRC + data[at + 4 : end]).to_bytes(4, "big") != data[at : at + 4]:
                _verify_crc(data[:end], crc_offsets)  # raises, with the message
        else:
            _verify_crc(data[:end], crc_offsets)
    return Header(
        _COMMANDS[command], _FAMILIES[family], _TRANSPORTS[transport], src, dst, src_port, dst_port, tlvs, 2, end
    )


def _local_has_address_block(data: bytes, end: int, address_size: int) -> bool:
    """The module docstring's LOCAL rule; for LOCAL with an address family only."""
    return _local_reading(data, end, address_size)[0]


_Parsed = tuple[tuple[TLV, ...], list[int]]


def _local_reading(data: bytes, end: int, address_size: int) -> tuple[bool, _Parsed | None]:
    """(address block present?, the TLV parse of the chosen reading when already done)."""
    if end - FIXED_SIZE < address_size:
        return False, None  # too short to hold addresses: TLVs only (or nothing)
    tlvs_only = _try_parse(data, FIXED_SIZE, end)
    if tlvs_only is not None and data[FIXED_SIZE] in _REGISTERED_TLV_TYPES:
        return False, tlvs_only
    after_addresses = _try_parse(data, FIXED_SIZE + address_size, end)
    if after_addresses is not None:
        return True, after_addresses
    # Neither reading parses: the address reading runs again and reports its error.
    return tlvs_only is None, tlvs_only


def _try_parse(data: bytes, start: int, end: int) -> _Parsed | None:
    try:
        return parse_tlvs(data, start, end)
    except BadTLV:
        return None


def _unix_path(field: bytes) -> str:
    # Trailing NULs are padding; anything before them (even an inner NUL) is kept.
    return field.rstrip(b"\0").decode("utf-8", "surrogateescape")


def compute_crc32c(header: bytes, crc_offsets: list[int] | tuple[int, ...]) -> int:
    """CRC32C of ``header`` with each CRC32C value (4 bytes at each offset) zeroed."""
    if len(crc_offsets) == 1:  # the common case: concatenation beats a bytearray copy
        offset = crc_offsets[0]
        return google_crc32c.value(header[:offset] + _ZERO_CRC + header[offset + 4 :])
    zeroed = bytearray(header)
    for offset in crc_offsets:
        zeroed[offset : offset + 4] = _ZERO_CRC
    return google_crc32c.value(bytes(zeroed))


def _verify_crc(header: bytes, crc_offsets: list[int]) -> None:
    expected = compute_crc32c(header, crc_offsets)
    for offset in crc_offsets:
        stored = int.from_bytes(header[offset : offset + 4], "big")
        if stored != expected:
            raise BadChecksum(f"CRC32C TLV says {stored:08x}, header computes to {expected:08x}")


def encode(header: Header, *, recompute_crc: bool = False) -> bytes:
    """Serialize ``header``; keep stored CRC32C values unless ``recompute_crc``."""
    if header.version == 1:
        return encode_v1(header)
    if header.version != 2:
        raise BadVersion(f"version {header.version!r} is neither 1 nor 2")
    command, family, transport = header.command, header.family, header.transport
    if command not in (0, 1):
        raise BadCommand(f"command {command!r} is neither LOCAL nor PROXY")
    if family not in (0, 1, 2, 3) or transport not in (0, 1, 2) or (command and (family == 0) != (transport == 0)):
        raise BadFamily(f"family {family!r} with transport {transport!r} is not an assigned combination")
    addresses = _pack_addresses(header)
    tlvs = pack_tlvs(header.tlvs)
    length = len(addresses) + len(tlvs)
    if length > 0xFFFF:
        raise BadLength(f"addresses + TLVs are {length} bytes, len holds 65535 at most")
    fixed = SIGNATURE + bytes((0x20 | command, (family << 4) | transport)) + length.to_bytes(2, "big")
    out = fixed + addresses + tlvs
    if not command and family:
        _refuse_ambiguous_local(out, ADDRESS_BLOCK_SIZE[family], has_addresses=bool(addresses))
    if recompute_crc:
        out = _refresh_crc(out, FIXED_SIZE + len(addresses))
    return out


def _refuse_ambiguous_local(out: bytes, address_size: int, *, has_addresses: bool) -> None:
    """Refuse rather than emit a LOCAL header that decode() would read the other way."""
    if _local_has_address_block(out, len(out), address_size) != has_addresses:
        misread = "address block would be read as TLVs" if has_addresses else "TLVs would be read as an address block"
        raise BadAddress(
            f"ambiguous LOCAL header: its {misread}; use family UNSPEC or start the TLVs with a registered type"
        )


def _pack_addresses(header: Header) -> bytes:
    family = header.family
    if header.src_addr is None and header.dst_addr is None:
        if family and header.command == Command.PROXY:
            raise BadAddress(f"a PROXY header of family {Family(family).name} needs addresses")
        return b""
    if family == Family.UNSPEC:
        raise BadAddress("family UNSPEC carries no addresses")
    if family == Family.UNIX:
        return _pack_unix(header.src_addr) + _pack_unix(header.dst_addr)
    for port in (header.src_port, header.dst_port):
        if not isinstance(port, int) or not 0 <= port <= 0xFFFF:
            raise BadAddress(f"port {port!r} is not 0..65535")
    af = socket.AF_INET if family == Family.INET else socket.AF_INET6
    return (
        pack_ip(af, header.src_addr)
        + pack_ip(af, header.dst_addr)
        + _INET_PORTS.pack(header.src_port, header.dst_port)
    )


def _pack_unix(path: object) -> bytes:
    if not isinstance(path, str):
        raise BadAddress(f"UNIX address {path!r} must be a str")
    try:
        raw = path.encode("utf-8", "surrogateescape")  # the inverse of _unix_path
    except UnicodeEncodeError:
        raise BadAddress(f"UNIX address {path!r} cannot be encoded as bytes") from None
    if raw.decode("utf-8", "surrogateescape") != path:
        # Escaped bytes that happen to form valid UTF-8 would decode to other text.
        raise BadAddress(f"UNIX address {path!r} is not in the form decode() produces")
    if len(raw) > 108 or raw.endswith(b"\0"):
        raise BadAddress(f"UNIX address {path!r} must be at most 108 bytes and not end in NUL (NUL is padding)")
    return raw.ljust(108, b"\0")


def _refresh_crc(out: bytes, tlv_start: int) -> bytes:
    _, crc_offsets = parse_tlvs(out, tlv_start, len(out))
    return refresh_crc(out, crc_offsets)


def refresh_crc(header: bytes, crc_offsets: list[int]) -> bytes:
    """``header`` with the right checksum written at each CRC32C value offset."""
    if not crc_offsets:
        return header
    crc = compute_crc32c(header, crc_offsets).to_bytes(4, "big")
    refreshed = bytearray(header)
    for offset in crc_offsets:
        refreshed[offset : offset + 4] = crc
    return bytes(refreshed)


def has_address_block(data: bytes) -> bool:
    """Whether the v2 header at the start of ``data`` carries an address block.

    The same decision ``decode`` makes (see the LOCAL rule above), exposed for
    dissectors; tolerant of truncated or invalid input (it answers, never raises).
    """
    if len(data) < FIXED_SIZE:
        return False
    family = data[13] >> 4
    if not 1 <= family <= 3:
        return False
    address_size = ADDRESS_BLOCK_SIZE[family]
    end = min(header_size(data) or FIXED_SIZE, len(data))
    if data[12] & 0x0F:
        return True
    return _local_has_address_block(bytes(data), end, address_size)


def with_crc(header: Header) -> Header:
    """A copy of ``header`` whose CRC32C TLVs hold the right checksum.

    The checksum is defined over the header with its CRC fields zeroed, so encoding
    a copy with zeroed CRC TLVs and hashing it gives the value directly.
    """
    if header.version != 2 or not any(tlv.type == TLVType.CRC32C for tlv in header.tlvs):
        return replace(header, consumed=None)
    if any(tlv.type == TLVType.CRC32C and len(tlv.value) != 4 for tlv in header.tlvs):
        raise BadTLV("a CRC32C TLV value must be 4 bytes before it can be filled in")
    zero = TLV(TLVType.CRC32C, _ZERO_CRC)
    zeroed = replace(header, tlvs=tuple(zero if tlv.type == TLVType.CRC32C else tlv for tlv in header.tlvs))
    sealed = TLV.crc32c(google_crc32c.value(encode(zeroed)))
    tlvs = tuple(sealed if tlv.type == TLVType.CRC32C else tlv for tlv in zeroed.tlvs)
    return replace(zeroed, tlvs=tlvs, consumed=None)
