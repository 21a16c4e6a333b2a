"""The decoded form of a PROXY protocol header (v1 or v2).

``Header`` is a plain record; the codec turns bytes into it and back. Addresses
are text: IPv4/IPv6 in ``inet_ntop`` form, UNIX paths as UTF-8 with
``surrogateescape`` (so any path bytes survive a round trip). ``src_addr is None``
means "no address block on the wire" (UNSPEC, or a LOCAL header that AWS sends
without one).

It is a mutable slots dataclass rather than a frozen one on purpose: a frozen
dataclass costs ~1 µs more per construction, a fifth of the whole decode budget.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from lab.ppv2 import tlv as _tlv
from lab.ppv2.tlv import TLV, SSLInfo, TLVType

__all__ = ["Command", "Family", "Transport", "Header", "ADDRESS_BLOCK_SIZE"]


class Command(enum.IntEnum):
    LOCAL = 0x0  # health checks and other connections the proxy opens itself
    PROXY = 0x1  # relayed connection: the addresses are the client's


class Family(enum.IntEnum):
    UNSPEC = 0x0
    INET = 0x1
    INET6 = 0x2
    UNIX = 0x3


class Transport(enum.IntEnum):
    UNSPEC = 0x0
    STREAM = 0x1
    DGRAM = 0x2


# Bytes of the v2 address block per family: two addresses, then two ports (none for UNIX).
ADDRESS_BLOCK_SIZE: dict[Family, int] = {
    Family.UNSPEC: 0,
    Family.INET: 4 + 4 + 2 + 2,
    Family.INET6: 16 + 16 + 2 + 2,
    Family.UNIX: 108 + 108,
}


@dataclass(slots=True)
class Header:
    """A PROXY protocol header. ``consumed`` is set by ``decode`` only."""

    command: Command = Command.PROXY
    family: Family = Family.UNSPEC
    transport: Transport = Transport.UNSPEC
    src_addr: str | None = None
    dst_addr: str | None = None
    src_port: int | None = None
    dst_port: int | None = None
    tlvs: tuple[TLV, ...] = ()
    version: int = 2
    # Bytes the header occupied in the decoded buffer; payload starts right after.
    consumed: int | None = field(default=None, compare=False, repr=False)

    @property
    def length(self) -> int:
        """Size of the header on the wire (what ``decode`` consumed, else the encoded size)."""
        if self.consumed is not None:
            return self.consumed
        from lab.ppv2.codec import encode  # codec imports this module

        return len(encode(self))

    @property
    def has_addresses(self) -> bool:
        return self.src_addr is not None

    # --- TLV lookup ---

    def find(self, tlv_type: int) -> TLV | None:
        """First TLV of that type (the specification leaves duplicates to the receiver)."""
        for tlv in self.tlvs:
            if tlv.type == tlv_type:
                return tlv
        return None

    def find_all(self, tlv_type: int) -> list[TLV]:
        return [tlv for tlv in self.tlvs if tlv.type == tlv_type]

    def _value(self, tlv_type: int) -> bytes | None:
        found = self.find(tlv_type)
        return None if found is None else found.value

    # --- typed accessors: None when the TLV is absent (or, for vendor TLVs, malformed) ---

    @property
    def alpn(self) -> bytes | None:
        return self._value(TLVType.ALPN)

    @property
    def authority(self) -> str | None:
        value = self._value(TLVType.AUTHORITY)
        return None if value is None else _tlv.authority_of(value)

    @property
    def crc32c(self) -> int | None:
        value = self._value(TLVType.CRC32C)
        return None if value is None else _tlv.crc32c_of(value)

    @property
    def unique_id(self) -> bytes | None:
        return self._value(TLVType.UNIQUE_ID)

    @property
    def ssl(self) -> SSLInfo | None:
        value = self._value(TLVType.SSL)
        return None if value is None else SSLInfo.from_value(value)

    @property
    def netns(self) -> str | None:
        value = self._value(TLVType.NETNS)
        return None if value is None else _tlv.netns_of(value)

    @property
    def aws_vpce_id(self) -> str | None:
        """The VPC endpoint ID AWS puts in TLV 0xEA (subtype 0x01), e.g. ``vpce-08d2bf15fac5001c9``."""
        for tlv in self.tlvs:
            if tlv.type == TLVType.AWS:
                vpce_id = _tlv.aws_vpce_id_of(tlv.value)
                if vpce_id is not None:
                    return vpce_id
        return None

    @property
    def azure_link_id(self) -> int | None:
        """Azure Private Link LINKID: TLV 0xEE, subtype 0x01, u32 little-endian."""
        value = self._value(TLVType.AZURE)
        return None if value is None else _tlv.azure_link_id_of(value)

    @property
    def gcp_psc_connection_id(self) -> int | None:
        """Google Private Service Connect connection ID: TLV 0xE0, u64 big-endian."""
        value = self._value(TLVType.GCP)
        return None if value is None else _tlv.gcp_psc_connection_id_of(value)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly view (used by the CLI); TLV values as hex."""
        out: dict[str, object] = {
            "version": self.version,
            "command": Command(self.command).name,
            "family": Family(self.family).name,
            "transport": Transport(self.transport).name,
            "src_addr": self.src_addr,
            "src_port": self.src_port,
            "dst_addr": self.dst_addr,
            "dst_port": self.dst_port,
            "length": self.length,
            "tlvs": [{"type": tlv.type, "name": tlv.name, "value": tlv.value.hex()} for tlv in self.tlvs],
        }
        extras = {
            "aws_vpce_id": self.aws_vpce_id,
            "authority": self.authority,
            "alpn": None if self.alpn is None else self.alpn.decode("utf-8", "replace"),
            "crc32c": None if self.crc32c is None else f"{self.crc32c:08x}",
            "unique_id": None if self.unique_id is None else self.unique_id.hex(),
            "netns": self.netns,
            "azure_link_id": self.azure_link_id,
            "gcp_psc_connection_id": self.gcp_psc_connection_id,
        }
        out.update({key: value for key, value in extras.items() if value is not None})
        ssl = self.ssl
        if ssl is not None:
            out["ssl"] = {
                "client": int(ssl.client),
                "verify": ssl.verify,
                "version": ssl.version,
                "cn": ssl.cn,
                "cipher": ssl.cipher,
                "sig_alg": ssl.sig_alg,
                "key_alg": ssl.key_alg,
            }
        return out
