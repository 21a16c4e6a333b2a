"""PROXY protocol (v2 and v1) in pure Python: decode, encode, stream reading, AWS layouts.

    from lab.ppv2 import decode, encode, StreamReader, aws_nlb_header

    header = decode(data)              # Header; header.consumed bytes were the header
    header.aws_vpce_id                 # "vpce-..." from TLV 0xEA, or None
    encode(header) == data[:header.consumed]

    reader = StreamReader()            # for sockets: feed chunks of any size
    result = reader.feed(chunk)        # None while it needs more, else (header, rest)

Everything wrong with the input raises a ``ProxyProtocolError`` subclass. Importing
this package does not import scapy (target services stay light); the scapy layer
and the capture reader load on first use of ``PPv2`` / ``find_headers``, or import
``lab.ppv2.scapy_layer`` / ``lab.ppv2.pcap`` directly.

May import: nothing of the lab but its own modules (a pure library), so that anything may use it.
"""

from __future__ import annotations

from typing import Any

from lab.ppv2.aws import AWS_HEADER_SIZE, aws_health_check_header, aws_nlb_header, pad_to
from lab.ppv2.codec import (
    MAX_V2_SIZE,
    SIGNATURE,
    compute_crc32c,
    decode,
    encode,
    has_address_block,
    header_size,
    with_crc,
)
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
    ProxyProtocolError,
    ReaderFinished,
)
from lab.ppv2.header import ADDRESS_BLOCK_SIZE, Command, Family, Header, Transport
from lab.ppv2.stream import StreamReader, read_header, read_header_async
from lab.ppv2.tlv import TLV, SSLClient, SSLInfo, SSLSubType, TLVType

TruncatedHeader = IncompleteHeader  # the name the issue uses for "incomplete"

__all__ = [
    "ADDRESS_BLOCK_SIZE",
    "AWS_HEADER_SIZE",
    "MAX_V2_SIZE",
    "SIGNATURE",
    "BadAddress",
    "BadChecksum",
    "BadCommand",
    "BadFamily",
    "BadLength",
    "BadSignature",
    "BadTLV",
    "BadVersion",
    "Command",
    "Family",
    "Flow",
    "FlowHeader",
    "Header",
    "IncompleteHeader",
    "PPv2",
    "ProxyProtocolError",
    "ReaderFinished",
    "SSLClient",
    "SSLInfo",
    "SSLSubType",
    "StreamReader",
    "TLV",
    "TLVType",
    "Transport",
    "TruncatedHeader",
    "aws_health_check_header",
    "aws_nlb_header",
    "compute_crc32c",
    "decode",
    "encode",
    "find_headers",
    "has_address_block",
    "header_size",
    "pad_to",
    "read_header",
    "read_header_async",
    "with_crc",
]

# Names whose modules import scapy: resolved on first access only.
_LAZY = {
    "PPv2": "lab.ppv2.scapy_layer",
    "find_headers": "lab.ppv2.pcap",
    "Flow": "lab.ppv2.pcap",
    "FlowHeader": "lab.ppv2.pcap",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lab.ppv2' has no attribute {name!r}")
