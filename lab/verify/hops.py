"""A flow's path as hops in order: links and namespaces as seen in capture.

Like the path components of AWS's Reachability Analyzer, but observed on packets rather than
inferred from configuration: a hop is a link the flow's packets were captured on, ordered by the
first of them, with the namespaces it joined in the direction that first packet went (a veth is
captured on its b end, so a frame leaving that end goes b -> a, one arriving goes a -> b).

General over link kinds: whatever lab.plan.links names (VPC links, internet, IGW, and the kinds
other networks add) is a hop; its side comes from SIDE_OF_KIND.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from lab.plan.links import is_public


@dataclass(frozen=True)
class Hop:
    link: str
    kind: str
    side: str
    src: str  # the namespace (or container) the flow came from on this link
    dst: str  # ... and the one it went to
    packets: int
    first_ts: float

    def to_dict(self) -> dict:
        return asdict(self)


def _short(place: str) -> str:
    return place.removeprefix("pl-").split(".", 1)[-1] if place else "?"


def hops(trace, ledger) -> list[Hop]:
    """The hops of a traced flow (lab.verify.ledger.Trace), first one first."""
    out = []
    for name, packets in trace.links.items():
        if not packets or name not in ledger.links:
            continue
        link = ledger.links[name]
        first = min(packets, key=lambda p: p.ts)
        near, far = link.place, link.far_place or "?"
        src, dst = (near, far) if first.outgoing else (far, near)
        out.append(Hop(name, link.kind, link.side, src, dst, len(packets), first.ts))
    return sorted(out, key=lambda h: (h.first_ts, ledger.order(h.link)))


def first_hop(path: list[Hop], breaks: Callable[[Hop], bool]) -> Hop | None:
    return next((h for h in path if breaks(h)), None)


def first_public(path: list[Hop]) -> Hop | None:
    """The first hop on the internet's side: where a must-stay-private flow broke its rule."""
    return first_hop(path, lambda h: is_public(h.kind))


def text(path: list[Hop]) -> str:
    """`consumer-client > consumer-subnet/consumer-client > consumer > igw/consumer (public) > ...`"""
    if not path:
        return "(no hop captured)"
    parts = [_short(path[0].src)]
    for hop in path:
        label = hop.link + (f" ({hop.side})" if is_public(hop.kind) else "")
        parts += [label, _short(hop.dst)]
    return " > ".join(parts)
