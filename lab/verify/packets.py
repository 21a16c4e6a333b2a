"""Captured frames -> the few header fields verification reasons about.

Parsing is done by hand with `struct` rather than by scapy: a verify run reads every frame of
every link, and the fields needed (Ethernet, ARP, IPv4, TCP, UDP, ICMP and the packet inside an
ICMP error) are a few fixed offsets. Scapy is used where a real dissector pays off (PPv2
reassembly in `lab.ppv2.pcap`, building probes).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

ETH_IPV4, ETH_ARP, ETH_IPV6 = 0x0800, 0x0806, 0x86DD
TCP, UDP, ICMP = 6, 17, 1
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
ICMP_ECHO_REPLY, ICMP_UNREACH, ICMP_ECHO, ICMP_TIME_EXCEEDED = 0, 3, 8, 11
ICMP_ERRORS = (ICMP_UNREACH, 4, 5, ICMP_TIME_EXCEEDED, 12)
PROTO_NAMES = {TCP: "tcp", UDP: "udp", ICMP: "icmp"}

# (proto, (addr, port), (addr, port)) with the two ends sorted: both directions share one key.
ConnKey = tuple[int, tuple[str, int], tuple[str, int]]


def conn_key(proto: int, src: str, sport: int, dst: str, dport: int) -> ConnKey:
    a, b = (src, sport), (dst, dport)
    return (proto, a, b) if a <= b else (proto, b, a)


def conn_text(key: ConnKey) -> str:
    proto, (a, ap), (b, bp) = key
    if proto == ICMP:
        return f"icmp {a} <-> {b} id {ap}"
    return f"{PROTO_NAMES.get(proto, proto)} {a}:{ap} <-> {b}:{bp}"


def _mac(raw: bytes) -> str:
    return raw.hex(":")


@dataclass(frozen=True, slots=True)
class Packet:
    """One captured frame on one link. `outgoing`: it left the router end, towards the far end."""

    link: str
    ts: float
    outgoing: bool
    length: int
    eth_src: str
    eth_dst: str
    ethertype: int
    proto: int | None = None
    src: str | None = None
    dst: str | None = None
    sport: int = 0
    dport: int = 0
    flags: int = 0  # TCP flags
    seq: int = 0
    ack: int = 0
    icmp_type: int | None = None
    icmp_code: int | None = None
    payload: bytes = b""
    inner: ConnKey | None = None  # the connection an ICMP error is about
    arp: tuple[int, str, str] | None = None  # (op, sender IP, target IP)
    flooded: bool = False  # a bridge's flooded copy, not addressed to this link's far end

    @property
    def unicast_dst(self) -> bool:
        return bool(self.eth_dst) and not int(self.eth_dst[:2], 16) & 1

    @property
    def conn(self) -> ConnKey | None:
        """The connection this packet belongs to (an ICMP error belongs to the one it reports on)."""
        if self.inner is not None:
            return self.inner
        if self.proto is None or self.src is None:
            return None
        if self.proto == ICMP:
            return conn_key(ICMP, self.src, self.sport, self.dst, self.sport)
        return conn_key(self.proto, self.src, self.sport, self.dst, self.dport)

    @property
    def is_syn(self) -> bool:
        return self.proto == TCP and bool(self.flags & SYN) and not self.flags & ACK

    @property
    def is_synack(self) -> bool:
        return self.proto == TCP and self.flags & (SYN | ACK) == SYN | ACK

    @property
    def is_rst(self) -> bool:
        return self.proto == TCP and bool(self.flags & RST)

    def summary(self) -> str:
        """One tcpdump-like line."""
        arrow = "->" if self.outgoing else "<-"
        where = f"{self.ts:.6f} {self.link} {arrow}" + (" (flooded copy)" if self.flooded else "")
        if self.arp is not None:
            op, spa, tpa = self.arp
            return f"{where} ARP {'who-has ' + tpa + ' tell ' + spa if op == 1 else spa + ' is-at ' + self.eth_src}"
        if self.proto == TCP:
            flags = "".join(c for bit, c in ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"), (ACK, "."))
                            if self.flags & bit)
            text = f"{where} TCP {self.src}:{self.sport} > {self.dst}:{self.dport} [{flags}] seq {self.seq}"
            if self.flags & ACK:
                text += f" ack {self.ack}"
            return text + f" len {len(self.payload)}"
        if self.proto == UDP:
            return f"{where} UDP {self.src}:{self.sport} > {self.dst}:{self.dport} len {len(self.payload)}"
        if self.proto == ICMP:
            text = f"{where} ICMP {self.src} > {self.dst} type {self.icmp_type} code {self.icmp_code}"
            if self.icmp_type in (ICMP_ECHO, ICMP_ECHO_REPLY):
                text += f" id {self.sport} seq {self.dport}"
            elif self.inner is not None:
                text += f" about {conn_text(self.inner)}"
            return text
        if self.proto is not None:
            return f"{where} IP {self.src} > {self.dst} proto {self.proto}"
        return f"{where} ethertype 0x{self.ethertype:04x} {self.eth_src} > {self.eth_dst} len {self.length}"


def _ip_header(data: bytes, off: int) -> tuple[int, str, str, int, int] | None:
    """(proto, src, dst, transport offset, end of the IP packet) or None when truncated."""
    if len(data) < off + 20 or data[off] >> 4 != 4:
        return None
    ihl = (data[off] & 0x0F) * 4
    total = struct.unpack_from("!H", data, off + 2)[0]
    proto = data[off + 9]
    src, dst = socket.inet_ntoa(data[off + 12:off + 16]), socket.inet_ntoa(data[off + 16:off + 20])
    end = min(len(data), off + total) if total else len(data)
    return proto, src, dst, off + ihl, end


def _ports(data: bytes, off: int) -> tuple[int, int]:
    if len(data) < off + 4:
        return 0, 0
    return struct.unpack_from("!HH", data, off)


def parse(link: str, ts: float, outgoing: bool, data: bytes, length: int | None = None) -> Packet:
    length = len(data) if length is None else length
    if len(data) < 14:
        return Packet(link, ts, outgoing, length, "", "", 0)
    eth_dst, eth_src = _mac(data[0:6]), _mac(data[6:12])
    ethertype = struct.unpack_from("!H", data, 12)[0]
    base = Packet(link, ts, outgoing, length, eth_src, eth_dst, ethertype)
    if ethertype == ETH_ARP and len(data) >= 42:
        op = struct.unpack_from("!H", data, 20)[0]
        return _replace(base, arp=(op, socket.inet_ntoa(data[28:32]), socket.inet_ntoa(data[38:42])))
    if ethertype != ETH_IPV4:
        return base
    ip = _ip_header(data, 14)
    if ip is None:
        return base
    proto, src, dst, l4, end = ip
    fields: dict = {"proto": proto, "src": src, "dst": dst}
    if proto == TCP and end >= l4 + 20:
        sport, dport, seq, ack, off_flags = struct.unpack_from("!HHIIH", data, l4)
        hlen = (off_flags >> 12) * 4
        fields.update(sport=sport, dport=dport, seq=seq, ack=ack, flags=off_flags & 0x3F, payload=data[l4 + hlen:end])
    elif proto == UDP and end >= l4 + 8:
        sport, dport = _ports(data, l4)
        fields.update(sport=sport, dport=dport, payload=data[l4 + 8:end])
    elif proto == ICMP and end >= l4 + 8:
        icmp_type, code = data[l4], data[l4 + 1]
        fields.update(icmp_type=icmp_type, icmp_code=code, payload=data[l4 + 8:end])
        if icmp_type in (ICMP_ECHO, ICMP_ECHO_REPLY):
            ident, seq = struct.unpack_from("!HH", data, l4 + 4)
            # An echo's identifier plays the part of both ports: request and reply share one key.
            fields.update(sport=ident, dport=seq)
        elif icmp_type in ICMP_ERRORS:
            inner = _ip_header(data, l4 + 8)
            if inner is not None:
                iproto, isrc, idst, il4, _ = inner
                if iproto == ICMP:  # an error about an echo: keyed by the echo's identifier
                    ident = _ports(data, il4 + 2)[1]
                    fields["inner"] = echo_key(isrc, idst, ident)
                else:
                    isport, idport = _ports(data, il4)
                    fields["inner"] = conn_key(iproto, isrc, isport, idst, idport)
    return _replace(base, **fields)


def _replace(packet: Packet, **fields) -> Packet:
    from dataclasses import replace

    return replace(packet, **fields)


def echo_key(src: str, dst: str, ident: int) -> ConnKey:
    """The key of an ICMP echo exchange (the identifier stands in for both ports)."""
    return conn_key(ICMP, src, ident, dst, ident)
