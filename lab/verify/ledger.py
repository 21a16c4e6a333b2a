"""The ledger: every captured packet, by link and by connection, and how to follow one flow.

A flow is followed by *marks* it carries wherever it goes, not by addresses: consumer and
provider address spaces overlap (in basic.yaml the client's own address is a target's), and a
leak may translate addresses on the way. The marks are a token in the payload (the HTTP request
carries one; the NLB passes it on to the target), the initial sequence number of a probe's SYN
(which NAT leaves alone), and the 5-tuples the client's own socket used. A connection seen on a
link belongs to the flow when any of its packets there carries a mark.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from lab.ppv2.codec import SIGNATURE
from lab.verify.capture import Frame, LinkStats
from lab.plan.links import Link
from lab.verify.packets import TCP, ConnKey, Packet, conn_text, parse

SHOW_PACKETS = 12  # packets printed per link when a report shows a flow's traffic


@dataclass(frozen=True)
class Marks:
    tokens: tuple[bytes, ...] = ()
    syn_seqs: frozenset[int] = frozenset()
    conns: frozenset[ConnKey] = frozenset()

    def matches(self, conn: ConnKey, packets: list[Packet]) -> bool:
        if conn in self.conns:
            return True
        for p in packets:
            if p.proto == TCP and self.syn_seqs:
                if p.is_syn and p.seq in self.syn_seqs:
                    return True
                if (p.is_synack or p.is_rst) and (p.ack - 1) % (1 << 32) in self.syn_seqs:
                    return True
            if p.payload and any(t in p.payload for t in self.tokens):
                return True
        return False


@dataclass
class LinkLedger:
    link: Link
    packets: list[Packet] = field(default_factory=list)
    conns: dict[ConnKey, list[Packet]] = field(default_factory=lambda: defaultdict(list))
    flooded: dict[ConnKey, list[Packet]] = field(default_factory=lambda: defaultdict(list))
    stats: LinkStats = field(default_factory=LinkStats)

    @property
    def bytes(self) -> int:
        return sum(p.length for p in self.packets)

    @property
    def arp(self) -> int:
        return sum(p.arp is not None for p in self.packets)

    @property
    def flooded_count(self) -> int:
        return sum(p.flooded for p in self.packets)


@dataclass(frozen=True)
class ConnStart:
    """How a TCP connection seen on one link began: who sent the SYN, what its first bytes were."""

    conn: ConnKey
    client: tuple[str, int]
    server: tuple[str, int]
    first_payload: bytes  # the client's first segment (empty if none was captured)

    @property
    def starts_with_ppv2(self) -> bool:
        return bool(self.first_payload) and SIGNATURE.startswith(self.first_payload[:12])


@dataclass
class Trace:
    """One flow's packets, link by link."""

    links: dict[str, list[Packet]] = field(default_factory=dict)
    conns: dict[str, set[ConnKey]] = field(default_factory=dict)
    flooded: dict[str, list[Packet]] = field(default_factory=dict)  # bridge-flooded copies, kept apart

    @property
    def link_names(self) -> set[str]:
        return set(self.links)

    def packets(self) -> list[Packet]:
        return sorted((p for ps in self.links.values() for p in ps), key=lambda p: p.ts)

    def text(self, ledger: Ledger | None = None, limit: int = SHOW_PACKETS) -> str:
        lines = []
        # In the order the flow reached them: the path reads from the client outwards.
        for name in sorted(self.links, key=lambda n: (self.links[n][0].ts if self.links[n] else 0.0, n)):
            pkts = self.links[name]
            kind = f" ({ledger.links[name].kind})" if ledger and name in ledger.links else ""
            lines.append(f"  {name}{kind}: {len(pkts)} packets")
            lines += [f"    {p.summary()}" for p in pkts[:limit]]
            if len(pkts) > limit:
                lines.append(f"    ... {len(pkts) - limit} more")
        return "\n".join(lines) if lines else "  (no packet of this flow was captured on any link)"


class Ledger:
    def __init__(self, links: Iterable[Link], frames: Iterable[Frame], stats: dict[str, LinkStats] | None = None,
                 far_macs: dict[str, str] | None = None):
        self.links: dict[str, Link] = {ln.name: ln for ln in links}
        self._order = {name: i for i, name in enumerate(self.links)}
        self.by_link: dict[str, LinkLedger] = {name: LinkLedger(ln) for name, ln in self.links.items()}
        for name, st in (stats or {}).items():
            if name in self.by_link:
                self.by_link[name].stats = st
        self._frames: dict[str, list[Frame]] = defaultdict(list)
        for frame in sorted(frames, key=lambda f: f.ts):
            entry = self.by_link.get(frame.link)
            if entry is None:
                continue
            packet = parse(frame.link, frame.ts, frame.outgoing, frame.data)
            far = (far_macs or {}).get(frame.link)
            if far and packet.outgoing and packet.unicast_dst and packet.eth_dst != far:
                packet = replace(packet, flooded=True)
            entry.packets.append(packet)
            self._frames[frame.link].append(frame)
            key = packet.conn
            if key is not None:
                (entry.flooded if packet.flooded else entry.conns)[key].append(packet)
        self._ppv2: dict[str, list] = {}

    def frames(self) -> list[Frame]:
        """Every captured frame, link by link (for writing pcaps)."""
        return [f for frames in self._frames.values() for f in frames]

    def order(self, name: str) -> int:
        return self._order.get(name, len(self._order))

    def trace(self, marks: Marks) -> Trace:
        trace = Trace()
        for name, entry in self.by_link.items():
            for key, packets in entry.conns.items():
                if marks.matches(key, packets):
                    trace.links.setdefault(name, []).extend(packets)
                    trace.conns.setdefault(name, set()).add(key)
            for key, packets in entry.flooded.items():
                if marks.matches(key, packets):
                    trace.flooded.setdefault(name, []).extend(packets)
        for packets in trace.links.values():
            packets.sort(key=lambda p: p.ts)
        return trace

    def conns_on(self, kinds: Iterable[str]) -> dict[ConnKey, set[str]]:
        """Connection -> the links (of these kinds) it was seen on."""
        kinds = set(kinds)
        out: dict[ConnKey, set[str]] = defaultdict(set)
        for name, entry in self.by_link.items():
            if entry.link.kind in kinds:
                for key in entry.conns:
                    out[key].add(name)
        return out

    def tcp_starts(self, link: str) -> list[ConnStart]:
        """Every TCP connection whose SYN was captured on the link, with the client's first bytes."""
        starts = []
        for key, packets in self.by_link[link].conns.items():
            if key[0] != TCP:
                continue
            syn = next((p for p in packets if p.is_syn), None)
            if syn is None:
                continue  # began before the capture: its start is unknown
            first = next((p.payload for p in packets
                          if p.src == syn.src and p.sport == syn.sport and p.payload
                          and p.seq == (syn.seq + 1) % (1 << 32)), b"")
            starts.append(ConnStart(key, (syn.src, syn.sport), (syn.dst, syn.dport), first))
        return starts

    def ppv2(self, link: str) -> dict[tuple[str, int, str, int], object]:
        """(client ip, port, server ip, port) -> lab.ppv2.pcap.FlowHeader, for the link's TCP streams."""
        if link not in self._ppv2:
            from scapy.layers.l2 import Ether

            from lab.ppv2.pcap import find_headers

            frames = [f for f, p in zip(self._frames[link], self.by_link[link].packets, strict=True)
                      if p.proto == TCP]
            found = find_headers((Ether(f.data) for f in frames), verify_crc=True)
            self._ppv2[link] = {(fh.flow.src, fh.flow.sport, fh.flow.dst, fh.flow.dport): fh for fh in found}
        return self._ppv2[link]

    def text(self) -> str:
        """The ledger of links: what every link carried during the capture."""
        rows = [("link", "kind", "packets", "bytes", "conns", "arp", "flooded", "captured on")]
        for name, entry in self.by_link.items():
            ln = entry.link
            drops = f" DROPPED {entry.stats.kernel_drops}" if entry.stats.kernel_drops else ""
            rows.append((name, ln.kind, str(len(entry.packets)), str(entry.bytes), str(len(entry.conns)),
                         str(entry.arp), str(entry.flooded_count), f"{ln.place} {ln.ifname}{drops}"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)

    def to_dict(self) -> dict:
        return {name: {"kind": e.link.kind, "side": e.link.side, "place": e.link.place, "ifname": e.link.ifname,
                       "far": e.link.far, "packets": len(e.packets), "bytes": e.bytes, "arp": e.arp,
                       "flooded": e.flooded_count,
                       "kernel_drops": e.stats.kernel_drops,
                       "conns": sorted(conn_text(k) for k in e.conns)}
                for name, e in self.by_link.items()}
