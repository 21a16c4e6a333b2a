"""Link impairments resolved against the plan: which veth ends get which qdisc parameters.

A topology names a link as `lab capture --list` shows it (`consumer-subnet/consumer-client`,
`endpoint-eni/web-endpoint@us-east-1a`, ...). Both ends of the veth are impaired, so the
link shapes each direction alike: a delay of 20 ms is 20 ms each way (a 40 ms round trip),
as a WAN link's one-way delay is usually quoted.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.plan.links import Link, links_from_plan
from lab.plan.model import Place
from lab.topology import units
from lab.topology.errors import LabInputError


@dataclass(frozen=True)
class End:
    place: Place
    ifname: str


@dataclass(frozen=True)
class LinkImpairment:
    link: str
    ends: tuple[End, End]
    rate_bps: int | None = None
    delay_us: int | None = None
    jitter_us: int | None = None
    loss_pct: float | None = None

    @property
    def needs_netem(self) -> bool:
        return self.delay_us is not None or self.loss_pct is not None

    def settings(self) -> dict[str, str]:
        """The values as a user writes them (tc's spellings), for `lab link show` and JSON."""
        out = {}
        if self.rate_bps is not None:
            out["Rate"] = _rate_text(self.rate_bps)
        if self.delay_us is not None:
            out["Delay"] = _duration_text(self.delay_us)
        if self.jitter_us is not None:
            out["Jitter"] = _duration_text(self.jitter_us)
        if self.loss_pct is not None:
            out["Loss"] = f"{self.loss_pct:g}%"
        return out


def _rate_text(bps: int) -> str:
    for unit, factor in (("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3)):
        if bps % factor == 0:
            return f"{bps // factor}{unit}"
    return f"{bps}bit"


def _duration_text(us: int) -> str:
    return f"{us // 1000}ms" if us % 1000 == 0 else f"{us}us"


def ends_of(link: Link) -> tuple[End, End]:
    return (End(Place(link.place_kind, link.place), link.ifname),
            End(Place(link.far_place_kind, link.far_place), link.far_ifname))


def find_link(links: list[Link], name: str, path: str) -> Link:
    hit = next((ln for ln in links if ln.name == name), None)
    if hit is None:
        known = ", ".join(ln.name for ln in links[:6]) + (", ..." if len(links) > 6 else "")
        raise LabInputError(path, f"{name!r} is not a link of this lab",
                            f"use a link name as `lab capture --list` shows it ({known})")
    return hit


def impairment(link: Link, rate: str | None = None, delay: str | None = None, jitter: str | None = None,
               loss: str | None = None) -> LinkImpairment:
    """Values already checked by the topology model (or the CLI); parsed here into numbers."""
    return LinkImpairment(
        link.name, ends_of(link),
        rate_bps=units.rate_bps(rate) if rate is not None else None,
        delay_us=units.duration_us(delay) if delay is not None else None,
        jitter_us=units.duration_us(jitter) if jitter is not None else None,
        loss_pct=units.percent(loss) if loss is not None else None,
    )


def resolve(plan: dict, declared: list) -> list[LinkImpairment]:
    """The topology's `impairments:` entries against the plan's links; bad names are input errors."""
    if not declared:
        return []
    links = links_from_plan(plan)
    seen: dict[str, int] = {}
    out = []
    for i, entry in enumerate(declared):
        link = find_link(links, entry.link, f"impairments[{i}].link")
        if link.name in seen:
            raise LabInputError(f"impairments[{i}].link", f"{link.name} is already impaired by "
                                f"impairments[{seen[link.name]}]", "merge the two entries into one")
        seen[link.name] = i
        out.append(impairment(link, entry.rate, entry.delay, entry.jitter, entry.loss))
    return out
