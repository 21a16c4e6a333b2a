"""Headers shaped exactly like the ones an AWS Network Load Balancer sends.

Public captures and AWS's own compatibility test show one fixed layout: CRC32C TLV
first, then TLV 0xEA (subtype 0x01 + the VPC endpoint ID), then a NOOP TLV whose
zeros pad the whole header to 100 bytes. Health checks use the LOCAL command with
family byte 0x11 but no address block, a CRC32C TLV and the same NOOP padding
(capture in kubernetes/kubernetes#57250). Reproducing the layout byte for byte
lets the lab's NLB be compared with captures from the real one.
"""

from __future__ import annotations

from dataclasses import replace

from lab.ppv2.codec import encode, with_crc
from lab.ppv2.header import Command, Family, Header, Transport
from lab.ppv2.tlv import TLV, TLVType

__all__ = ["AWS_HEADER_SIZE", "aws_nlb_header", "aws_health_check_header", "differences_from_aws", "pad_to"]

AWS_HEADER_SIZE = 100
_NOOP_OVERHEAD = 3  # a TLV's type + length bytes


def pad_to(header: Header, size: int) -> Header:
    """Append a NOOP TLV so the encoded header is ``size`` bytes.

    If fewer than 3 bytes are missing no TLV fits, so the header is left as it is
    (an IPv6 header with a long endpoint ID can exceed 100 bytes; AWS's behaviour
    there is undocumented and the lab simply does not pad).
    """
    missing = size - len(encode(header))
    if missing < _NOOP_OVERHEAD:
        return header
    return replace(header, tlvs=(*header.tlvs, TLV.noop(missing - _NOOP_OVERHEAD)))


def aws_nlb_header(src_addr: str, src_port: int, dst_addr: str, dst_port: int, vpce_id: str) -> Header:
    """The header an NLB behind PrivateLink prepends: client -> endpoint ENI, plus the endpoint ID.

    ``encode(aws_nlb_header("172.31.7.113", 51442, "172.31.10.31", 80,
    "vpce-08d2bf15fac5001c9"))`` is AWS's 100-byte test vector.
    """
    family = Family.INET6 if ":" in src_addr else Family.INET
    header = Header(
        Command.PROXY,
        family,
        Transport.STREAM,
        src_addr,
        dst_addr,
        src_port,
        dst_port,
        (TLV.crc32c(), TLV.aws_vpce_id(vpce_id)),
    )
    return with_crc(pad_to(header, AWS_HEADER_SIZE))


def aws_health_check_header() -> Header:
    """The NLB health-check header: LOCAL, fam 0x11, no addresses, CRC32C, NOOP to 100 bytes."""
    header = Header(Command.LOCAL, Family.INET, Transport.STREAM, tlvs=(TLV.crc32c(),))
    return with_crc(pad_to(header, AWS_HEADER_SIZE))


def differences_from_aws(header: Header) -> list[str]:
    """How ``header``'s layout differs from what an AWS NLB would send in its place (empty: none).

    Only the layout is compared (TLV order, padding, the LOCAL family byte); the values are the
    caller's to judge. HAProxy, the lab's NLB, puts the CRC32C TLV last and does not pad, so
    `lab verify` shows these as notes instead of hiding them.
    """
    types = [tlv.type for tlv in header.tlvs]
    notes = []
    if TLVType.CRC32C not in types:
        notes.append("no CRC32C TLV (AWS sends one first)")
    elif types[0] != TLVType.CRC32C:
        notes.append("CRC32C TLV is not first (AWS puts it first)")
    if header.command is Command.LOCAL:
        if TLVType.AWS in types:
            notes.append("a LOCAL header carries TLV 0xEA (AWS's health checks carry none)")
        if header.family != Family.INET:
            notes.append(f"LOCAL family {Family(header.family).name} (AWS writes INET, byte 0x11, with no addresses)")
    elif TLVType.AWS not in types:
        notes.append("no TLV 0xEA (AWS sends the endpoint ID on every PROXY header)")
    size = len(encode(header))
    if types[-1:] != [TLVType.NOOP] and size < AWS_HEADER_SIZE:
        notes.append(f"{size} bytes, not padded with NOOP to {AWS_HEADER_SIZE} (AWS pads)")
    return notes
