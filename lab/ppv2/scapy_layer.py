"""A scapy layer for PROXY protocol v2, so captures dissect readably.

``PPv2(raw).show()`` prints the fixed part, the address block and each TLV
(CRC32C, AWS VPC endpoint ID, SSL with its sub-TLVs, Azure, GCP decoded; other
types as raw values). Built packets fill ``length`` and, when a CRC32C TLV's
``crc`` is left as ``None``, the checksum.

This is the only module of ``lab.ppv2`` that imports scapy: the codec must stay
importable (and fast) in the lab's target services. Which bytes form the address
block of a LOCAL header is decided by the codec's rule (see :mod:`lab.ppv2.codec`),
so the dissection and ``decode`` never disagree.
"""

from __future__ import annotations

from typing import Any

from scapy.fields import (
    BitEnumField,
    BitField,
    ByteEnumField,
    ConditionalField,
    FieldLenField,
    FlagsField,
    IntField,
    IP6Field,
    IPField,
    LEIntField,
    LongField,
    MultipleTypeField,
    PacketListField,
    ShortField,
    StrFixedLenField,
    StrLenField,
    XIntField,
    XStrFixedLenField,
)
from scapy.packet import Packet

from lab.ppv2.codec import SIGNATURE, has_address_block, refresh_crc
from lab.ppv2.errors import ProxyProtocolError
from lab.ppv2.header import ADDRESS_BLOCK_SIZE, Command, Family, Transport
from lab.ppv2.tlv import SSLSubType, TLVType, parse_tlvs

__all__ = ["PPv2", "PPv2TLV", "PPv2SSLSubTLV", "PPv2CRC32C", "PPv2AWS", "PPv2SSL", "PPv2Azure", "PPv2GCP"]

_TLV_NAMES = {member.value: member.name for member in TLVType}
_SSL_SUB_NAMES = {member.value: member.name for member in SSLSubType}


class PPv2SSLSubTLV(Packet):
    name = "PPv2 SSL sub-TLV"
    fields_desc = [
        ByteEnumField("type", SSLSubType.VERSION, _SSL_SUB_NAMES),
        FieldLenField("length", None, length_of="value", fmt="!H"),
        StrLenField("value", b"", length_from=lambda pkt: pkt.length),
    ]

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s  # the rest belongs to the next sub-TLV, not to a payload


class PPv2TLV(Packet):
    """Generic TLV; ``dispatch_hook`` picks a typed subclass when the value has its shape."""

    name = "PPv2 TLV"
    fields_desc = [
        ByteEnumField("type", TLVType.NOOP, _TLV_NAMES),
        FieldLenField("length", None, length_of="value", fmt="!H"),
        StrLenField("value", b"", length_from=lambda pkt: pkt.length),
    ]

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s

    @classmethod
    def dispatch_hook(cls, _pkt: bytes | None = None, *args: Any, **kargs: Any) -> type[Packet]:
        if _pkt and len(_pkt) >= 3:
            typed = _TYPED_TLVS.get(_pkt[0])
            length = (_pkt[1] << 8) | _pkt[2]
            if typed is not None and typed.fits(_pkt[3 : 3 + length], length):
                return typed
        return cls


class PPv2CRC32C(PPv2TLV):
    name = "PPv2 TLV CRC32C"
    fields_desc = [
        ByteEnumField("type", TLVType.CRC32C, _TLV_NAMES),
        ShortField("length", 4),
        XIntField("crc", None),  # None: PPv2.post_build computes it
    ]

    @staticmethod
    def fits(value: bytes, length: int) -> bool:
        return length == 4 and len(value) == 4


class PPv2AWS(PPv2TLV):
    name = "PPv2 TLV AWS"
    fields_desc = [
        ByteEnumField("type", TLVType.AWS, _TLV_NAMES),
        FieldLenField("length", None, length_of="vpce_id", fmt="!H", adjust=lambda pkt, x: x + 1),
        ByteEnumField("subtype", 0x01, {0x01: "VPCE_ID"}),
        StrLenField("vpce_id", b"", length_from=lambda pkt: pkt.length - 1),
    ]

    @staticmethod
    def fits(value: bytes, length: int) -> bool:
        return length >= 1 and len(value) == length


class PPv2SSL(PPv2TLV):
    name = "PPv2 TLV SSL"
    fields_desc = [
        ByteEnumField("type", TLVType.SSL, _TLV_NAMES),
        FieldLenField("length", None, length_of="tlvs", fmt="!H", adjust=lambda pkt, x: x + 5),
        FlagsField("client", 0, 8, ["SSL", "CERT_CONN", "CERT_SESS"]),
        IntField("verify", 0),
        PacketListField("tlvs", [], PPv2SSLSubTLV, length_from=lambda pkt: pkt.length - 5),
    ]

    @staticmethod
    def fits(value: bytes, length: int) -> bool:
        if length < 5 or len(value) != length:
            return False
        try:
            parse_tlvs(value, 5, length, validate=False)
        except ProxyProtocolError:
            return False  # broken sub-TLV framing: show the raw value instead
        return True


class PPv2Azure(PPv2TLV):
    name = "PPv2 TLV Azure"
    fields_desc = [
        ByteEnumField("type", TLVType.AZURE, _TLV_NAMES),
        ShortField("length", 5),
        ByteEnumField("subtype", 0x01, {0x01: "LINKID"}),
        LEIntField("link_id", 0),
    ]

    @staticmethod
    def fits(value: bytes, length: int) -> bool:
        return length == 5 and len(value) == 5 and value[0] == 0x01


class PPv2GCP(PPv2TLV):
    name = "PPv2 TLV GCP"
    fields_desc = [
        ByteEnumField("type", TLVType.GCP, _TLV_NAMES),
        ShortField("length", 8),
        LongField("psc_connection_id", 0),
    ]

    @staticmethod
    def fits(value: bytes, length: int) -> bool:
        return length == 8 and len(value) == 8


_TYPED_TLVS: dict[int, Any] = {
    TLVType.CRC32C: PPv2CRC32C,
    TLVType.AWS: PPv2AWS,
    TLVType.SSL: PPv2SSL,
    TLVType.AZURE: PPv2Azure,
    TLVType.GCP: PPv2GCP,
}


def _inet(pkt: Packet) -> bool:
    return pkt.family in (Family.INET, Family.INET6) and pkt.carries_addresses()


def _address_field(name: str) -> ConditionalField:
    return ConditionalField(
        MultipleTypeField(
            [
                (IP6Field(name, "::"), lambda pkt: pkt.family == Family.INET6),
                (StrFixedLenField(name, b"", 108), lambda pkt: pkt.family == Family.UNIX),
            ],
            IPField(name, "0.0.0.0"),
        ),
        lambda pkt: pkt.carries_addresses(),
    )


class PPv2(Packet):
    name = "PROXY protocol v2"
    # "cmd", not "command": Packet.command() is a scapy method the field would hide behind.
    # Set while dissecting, from the codec's LOCAL rule; None when building.
    __slots__ = ["wire_has_addresses"]
    fields_desc = [
        XStrFixedLenField("signature", SIGNATURE, 12),
        BitField("version", 2, 4),
        BitEnumField("cmd", Command.PROXY, 4, {m.value: m.name for m in Command}),
        BitEnumField("family", Family.INET, 4, {m.value: m.name for m in Family}),
        BitEnumField("transport", Transport.STREAM, 4, {m.value: m.name for m in Transport}),
        ShortField("length", None),  # None: post_build counts addresses + TLVs
        _address_field("src"),
        _address_field("dst"),
        ConditionalField(ShortField("sport", 0), _inet),
        ConditionalField(ShortField("dport", 0), _inet),
        PacketListField("tlvs", [], PPv2TLV, length_from=lambda pkt: pkt.length - pkt.address_block_size()),
    ]

    def __init__(self, *args: Any, **kargs: Any) -> None:
        self.wire_has_addresses = None
        super().__init__(*args, **kargs)

    def carries_addresses(self) -> bool:
        if self.wire_has_addresses is not None:
            return self.wire_has_addresses
        # Built packets follow the senders: LOCAL (like AWS health checks) without addresses.
        return self.family != Family.UNSPEC and self.cmd == Command.PROXY

    def address_block_size(self) -> int:
        return ADDRESS_BLOCK_SIZE.get(self.family, 0) if self.carries_addresses() else 0

    def pre_dissect(self, s: bytes) -> bytes:
        self.wire_has_addresses = has_address_block(s)
        return s

    def copy(self) -> PPv2:
        clone = super().copy()
        clone.wire_has_addresses = self.wire_has_addresses
        return clone

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.length is None:
            length = len(pkt) - 16
            pkt = pkt[:14] + length.to_bytes(2, "big") + pkt[16:]
        pending = [tlv for tlv in self.tlvs if isinstance(tlv, PPv2CRC32C) and tlv.crc is None]
        if pending:
            pkt = _fill_crc(pkt, self.address_block_size())
        return pkt + pay

    def mysummary(self) -> str:
        return self.sprintf("PPv2 %cmd% %family% %src%:%sport% > %dst%:%dport%")


def _fill_crc(pkt: bytes, address_size: int) -> bytes:
    # CRC fields left at None were built as zeros; the checksum is defined with all
    # CRC fields zeroed, so zero them all, hash, and write the value into each.
    _, crc_offsets = parse_tlvs(pkt, 16 + address_size, len(pkt), validate=False)
    return refresh_crc(pkt, crc_offsets)
