"""PROXY protocol version 1: the human-readable line.

``PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\\r\\n`` (also ``TCP6``, and ``UNKNOWN``
followed by anything). Decoded into the same :class:`Header` as v2, with
``version=1``. Addresses are kept exactly as written (after validation), so a
TCP4/TCP6 line round-trips byte for byte; ``UNKNOWN``'s ignored tail does not
survive (the specification says receivers must ignore it).
"""

from __future__ import annotations

import socket

from lab.ppv2.errors import BadAddress, BadLength, BadSignature, IncompleteHeader
from lab.ppv2.header import Command, Family, Header, Transport

__all__ = ["V1_PREFIX", "V1_MAX_LENGTH", "decode_v1", "encode_v1", "pack_ip"]

V1_PREFIX = b"PROXY "
V1_MAX_LENGTH = 107  # the worst case TCP6 line, CRLF included, per the specification

_PROTOCOLS = {"TCP4": (Family.INET, socket.AF_INET), "TCP6": (Family.INET6, socket.AF_INET6)}
_PROTOCOL_OF_FAMILY = {Family.INET: "TCP4", Family.INET6: "TCP6"}


def pack_ip(af: socket.AddressFamily, text: object) -> bytes:
    """``inet_pton`` that only raises BadAddress (it raises four kinds of error otherwise)."""
    try:
        return socket.inet_pton(af, text)  # type: ignore[arg-type]
    except (OSError, ValueError, TypeError):
        kind = "IPv4" if af == socket.AF_INET else "IPv6"
        raise BadAddress(f"{text!r} is not an {kind} address") from None


def _port(text: str) -> int:
    # Decimal without sign or leading zero, so the text maps back to itself.
    if not (text.isdigit() and text.isascii() and len(text) <= 5) or (text[0] == "0" and text != "0"):
        raise BadAddress(f"v1 port {text!r} is not a decimal 0..65535")
    port = int(text)
    if port > 0xFFFF:
        raise BadAddress(f"v1 port {port} is above 65535")
    return port


def decode_v1(data: bytes) -> Header:
    """Decode a v1 line at the start of ``data`` (which starts with ``PROXY ``)."""
    end = data.find(b"\r\n", 0, V1_MAX_LENGTH)
    if end < 0:
        if len(data) >= V1_MAX_LENGTH:
            raise BadLength(f"v1 line has no CRLF within {V1_MAX_LENGTH} bytes")
        raise IncompleteHeader("v1 line not terminated by CRLF yet", needed=1)
    line = data[len(V1_PREFIX):end]
    if not line.isascii() or b"\n" in line or b"\r" in line:
        raise BadAddress("v1 line contains non-ASCII bytes or a stray CR/LF")
    words = line.decode("ascii").split(" ")
    if words[0] == "UNKNOWN":
        return Header(Command.PROXY, Family.UNSPEC, Transport.UNSPEC, version=1, consumed=end + 2)
    if words[0] not in _PROTOCOLS:
        raise BadSignature(f"v1 protocol {words[0]!r} is not TCP4, TCP6 or UNKNOWN")
    if len(words) != 5:
        raise BadAddress(f"v1 {words[0]} line needs 4 fields after the protocol, got {len(words) - 1}")
    family, af = _PROTOCOLS[words[0]]
    _, src, dst, sport, dport = words
    pack_ip(af, src)
    pack_ip(af, dst)
    return Header(
        Command.PROXY, family, Transport.STREAM, src, dst, _port(sport), _port(dport), version=1, consumed=end + 2
    )


def encode_v1(header: Header) -> bytes:
    if header.tlvs:
        raise BadAddress("v1 headers cannot carry TLVs")
    if header.command != Command.PROXY:
        raise BadAddress("v1 has no LOCAL command (use UNKNOWN: family UNSPEC)")
    if header.family == Family.UNSPEC:
        return b"PROXY UNKNOWN\r\n"
    protocol = _PROTOCOL_OF_FAMILY.get(header.family)
    if protocol is None:
        raise BadAddress(f"v1 cannot carry family {Family(header.family).name}")
    af = _PROTOCOLS[protocol][1]
    pack_ip(af, header.src_addr)
    pack_ip(af, header.dst_addr)
    for port in (header.src_port, header.dst_port):
        if not isinstance(port, int) or not 0 <= port <= 0xFFFF:
            raise BadAddress(f"port {port!r} is not 0..65535")
    line = f"PROXY {protocol} {header.src_addr} {header.dst_addr} {header.src_port} {header.dst_port}\r\n"
    return line.encode("ascii")
