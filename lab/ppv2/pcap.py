"""Find the PROXY protocol header of every TCP connection in a capture.

``find_headers(source)`` takes a pcap/pcapng path or an iterable of scapy packets
(e.g. ``sniff()`` results) and yields one :class:`FlowHeader` per connection whose
client-to-server stream starts with a PROXY protocol signature (v2 or v1).

The header is read from the reassembled byte stream, not from the first segment:
segments may arrive out of order, be retransmitted or overlap, and a header may be
split over many segments (AWS sends it with the first payload, but any middlebox
may re-segment). The client direction is the one that sent the SYN; when the
handshake is not in the capture, each direction whose bytes start with a signature
counts as a client.

Memory stays bounded: a direction stops buffering once its header is found, once
its stream is known not to start with a signature, or at 64 KiB + 16 bytes (the
largest possible header).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.packet import Packet, Padding
from scapy.utils import PcapReader

from lab.ppv2.codec import MAX_V2_SIZE, SIGNATURE, decode
from lab.ppv2.errors import IncompleteHeader, ProxyProtocolError
from lab.ppv2.header import Header
from lab.ppv2.v1 import V1_PREFIX

__all__ = ["Flow", "FlowHeader", "find_headers"]

_SEQ_SPACE = 1 << 32
_SYN, _ACK, _RST = 0x02, 0x10, 0x04


@dataclass(frozen=True, slots=True)
class Flow:
    """One direction of a TCP connection: client address/port -> server address/port."""

    src: str
    sport: int
    dst: str
    dport: int

    def reversed(self) -> Flow:
        return Flow(self.dst, self.dport, self.src, self.sport)

    def __str__(self) -> str:
        def endpoint(addr: str, port: int) -> str:
            return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"

        return f"{endpoint(self.src, self.sport)} -> {endpoint(self.dst, self.dport)}"


@dataclass(frozen=True, slots=True)
class FlowHeader:
    """The outcome for one connection: a header, or the error that stopped decoding."""

    flow: Flow
    header: Header | None
    error: ProxyProtocolError | None = None


def _looks_like_proxy_protocol(prefix: bytes) -> bool:
    probe = prefix[:12]
    return SIGNATURE.startswith(probe) or V1_PREFIX.startswith(probe[:6])


def _seq_diff(a: int, b: int) -> int:
    """a - b in TCP sequence space, as a signed value (handles wrap-around)."""
    diff = (a - b) % _SEQ_SPACE
    return diff - _SEQ_SPACE if diff >= _SEQ_SPACE // 2 else diff


@dataclass(slots=True)
class _Direction:
    """Reassembles the start of one direction's byte stream."""

    base: int | None = None  # sequence number of the stream's first byte
    base_from_syn: bool = False
    segments: dict[int, bytes] = field(default_factory=dict)  # offset from base -> payload
    buffered: int = 0
    stream: bytearray = field(default_factory=bytearray)  # contiguous bytes from base
    wanted: int = 1  # stream size at which a decode attempt can progress
    finished: bool = False

    def add(self, seq: int, payload: bytes) -> None:
        if self.base is None:
            self.base = seq
        elif not self.base_from_syn and _seq_diff(seq, self.base) < 0:
            self._rebase(seq)  # an earlier segment showed up: the stream starts sooner
        offset = _seq_diff(seq, self.base)
        if offset < 0:  # retransmitted SYN-era bytes before the stream start
            payload, offset = payload[-offset:], 0
        if not payload or offset >= MAX_V2_SIZE or self.buffered >= MAX_V2_SIZE:
            return
        if len(payload) > len(self.segments.get(offset, b"")):
            self.segments[offset] = payload
            self.buffered += len(payload)
        self._extend_stream()

    def anchor(self, base: int) -> None:
        """The SYN arrived after some data: its ISN + 1 is the certain stream start."""
        if self.base is not None and not self.finished:
            self._rebase(base)
            # Bytes before the start belonged to the SYN: trim them off.
            self.segments = {
                max(offset, 0): data[max(-offset, 0) :]
                for offset, data in self.segments.items()
                if offset + len(data) > 0
            }
            self._extend_stream()
        self.base, self.base_from_syn = base, True

    def _rebase(self, seq: int) -> None:
        shift = _seq_diff(self.base, seq)
        self.segments = {offset + shift: data for offset, data in self.segments.items()}
        self.base = seq
        self.stream.clear()
        self.wanted = 1

    def _extend_stream(self) -> None:
        # Append every stored segment that overlaps or touches the contiguous end.
        stream = self.stream
        for offset in sorted(self.segments):
            end = len(stream)
            if offset > end:
                break
            data = self.segments[offset]
            if offset + len(data) > end:
                stream += data[end - offset :]


class _Assembler:
    def __init__(self, verify_crc: bool) -> None:
        self.verify_crc = verify_crc
        self.directions: dict[Flow, _Direction] = {}
        self.servers: set[Flow] = set()  # directions known to be server -> client

    def packet(self, pkt: Packet) -> FlowHeader | None:
        ip = pkt.getlayer(IP)
        if ip is None:
            ip = pkt.getlayer(IPv6)
        tcp = pkt.getlayer(TCP)
        if ip is None or tcp is None:
            return None
        flow = Flow(ip.src, tcp.sport, ip.dst, tcp.dport)
        flags = int(tcp.flags)
        if flags & _SYN:
            self._handshake(flow, tcp.seq, client=not flags & _ACK)
            known = self.directions.get(flow)
            if known is None or known.finished or flow in self.servers:
                return None
            return self._try_decode(flow, known)  # data seen before the SYN may now line up
        if flow in self.servers:
            return None
        direction = self.directions.setdefault(flow, _Direction())
        payload = _tcp_payload(tcp)
        if direction.finished or not payload:
            return None
        direction.add(tcp.seq, payload)
        return self._try_decode(flow, direction)

    def _handshake(self, flow: Flow, seq: int, *, client: bool) -> None:
        if not client:
            self.servers.add(flow)
            return
        base = (seq + 1) % _SEQ_SPACE
        known = self.directions.get(flow)
        if known is not None and not known.base_from_syn:
            known.anchor(base)  # data was captured before its SYN
        elif known is None or known.base != base:
            # New connection (or a reused 4-tuple): start over, the data begins after the SYN.
            self.directions[flow] = _Direction(base=base, base_from_syn=True)
        self.servers.discard(flow)
        self.servers.add(flow.reversed())

    def _try_decode(self, flow: Flow, direction: _Direction) -> FlowHeader | None:
        stream = direction.stream
        if not stream or len(stream) < direction.wanted:
            return None
        if not _looks_like_proxy_protocol(bytes(stream[:12])):
            # Final only when the stream start is certain; otherwise an earlier segment may come.
            direction.finished = direction.base_from_syn
            return None
        try:
            header = decode(bytes(stream), verify_crc=self.verify_crc)
        except IncompleteHeader as incomplete:
            direction.wanted = len(stream) + incomplete.needed
            return None
        except ProxyProtocolError as error:
            direction.finished = True
            return FlowHeader(flow, None, error)
        direction.finished = True
        direction.segments.clear()
        return FlowHeader(flow, header)

    def leftovers(self) -> Iterator[FlowHeader]:
        """Streams that started like a header but ended (in the capture) before it did."""
        for flow, direction in self.directions.items():
            if direction.finished or flow in self.servers or not direction.stream:
                continue
            if _looks_like_proxy_protocol(bytes(direction.stream[:12])):
                missing = max(direction.wanted - len(direction.stream), 1)
                yield FlowHeader(flow, None, IncompleteHeader("capture ends before the header does", missing))


def _tcp_payload(tcp: Packet) -> bytes:
    payload = bytes(tcp.payload)
    padding = tcp.getlayer(Padding)
    return payload[: -len(padding.load)] if padding is not None and padding.load else payload


def find_headers(
    source: str | os.PathLike[str] | Iterable[Packet], *, verify_crc: bool = True
) -> Iterator[FlowHeader]:
    """Yield a FlowHeader per connection that starts with a PROXY protocol header.

    Results come as soon as a header is complete; connections whose header is cut
    off by the end of the capture come last, with an IncompleteHeader error.
    """
    assembler = _Assembler(verify_crc)
    reader = PcapReader(os.fspath(source)) if isinstance(source, (str, os.PathLike)) else None
    try:
        for pkt in reader if reader is not None else source:
            found = assembler.packet(pkt)
            if found is not None:
                yield found
    finally:
        if reader is not None:
            reader.close()
    yield from assembler.leftovers()
