"""`lab link set|clear|show`: change a live lab's link impairments, and read them back from the kernel."""

from __future__ import annotations

from lab.apply import impair
from lab.apply.context import ApplyContext
from lab.apply.live import LiveLab
from lab.plan.impair import LinkImpairment, ends_of, find_link, impairment
from lab.plan.links import Link, links_from_plan
from lab.state.store import LabState
from lab.topology import units
from lab.topology.errors import LabInputError

_OPTIONS = (("rate", "--rate", units.rate_bps), ("delay", "--delay", units.duration_us),
            ("jitter", "--jitter", units.duration_us), ("loss", "--loss", units.percent))


def _checked(values: dict[str, str | None]) -> dict[str, str]:
    given = {k: v for k, v in values.items() if v is not None}
    if not given:
        raise LabInputError("lab link set", "sets nothing", "give at least one of --rate, --delay or --loss "
                            "(`lab link clear LINK` removes an impairment)")
    for key, option, parse in _OPTIONS:
        if key in given:
            try:
                parse(given[key])
            except ValueError as err:
                problem, _, fix = str(err).partition("; fix: ")
                raise LabInputError(option, problem, fix or None) from None
    if "jitter" in given and "delay" not in given:
        raise LabInputError("--jitter", "jitter needs a delay to vary", "add --delay (e.g. --delay 20ms)")
    return given


class _Live:
    """One command's view of a live lab: its plan's links, the state lock, and where their ends are
    (lab.apply.live: the container engine is reached only when a node's recorded PID is stale)."""

    def __init__(self, lab: str):
        self.state = LabState(lab)
        self.plan = self.state.load_plan()  # "no lab named ... is up" for a typo
        self.links = links_from_plan(self.plan)
        self._ctx: ApplyContext | None = None

    def link(self, name: str) -> Link:
        return find_link(self.links, name, "LINK")

    @property
    def ctx(self) -> ApplyContext:
        if self._ctx is None:
            self._ctx = ApplyContext(plan=None, state=self.state, progress=lambda _m: None,
                                     live=LiveLab(self.state, self.plan))
        return self._ctx


def set_link(lab: str, link: str, rate: str | None = None, delay: str | None = None, jitter: str | None = None,
             loss: str | None = None) -> dict:
    """Replace one link's impairment (both ends); refused whole, before any change, when netem is missing."""
    given = _checked({"rate": rate, "delay": delay, "jitter": jitter, "loss": loss})
    live = _Live(lab)
    chosen = live.link(link)
    imp: LinkImpairment = impairment(chosen, **given)
    impair.require_netem([imp], "--delay" if "delay" in given else "--loss")
    live.state.lock()
    try:
        impair.apply(imp, live.ctx.ns_path)
        store = impair.LiveImpairments(live.state.dir)
        current = store.load()
        current[chosen.name] = imp.settings()
        store.save(current)
    finally:
        live.state.unlock()
        live.ctx.close()
    return _row(chosen, imp.settings(), impair.read(imp.ends, live.ctx.ns_path))


def clear_links(lab: str, link: str | None = None) -> list[str]:
    """Remove one link's impairment, or (no LINK) every one; the names of the links cleared."""
    live = _Live(lab)
    store = impair.LiveImpairments(live.state.dir)
    current = store.load()
    names = [live.link(link).name] if link else sorted(current)
    live.state.lock()
    try:
        for name in names:
            ln = live.link(name)
            impair.clear(LinkImpairment(name, ends_of(ln)), live.ctx.ns_path)
            current.pop(name, None)
        store.save(current)
    finally:
        live.state.unlock()
        live.ctx.close()
    return names


def show_links(lab: str, link: str | None = None) -> list[dict]:
    """Every impaired link (or one link, impaired or not) with its settings and the qdiscs read back."""
    live = _Live(lab)
    current = impair.LiveImpairments(live.state.dir).load()
    chosen = [live.link(link)] if link else [ln for ln in live.links if ln.name in current]
    try:
        return [_row(ln, current.get(ln.name, {}), impair.read(ends_of(ln), live.ctx.ns_path)) for ln in chosen]
    finally:
        live.ctx.close()


def _row(link: Link, settings: dict[str, str], qdiscs: list[list[str]]) -> dict:
    ends = ends_of(link)
    return {"Link": link.name, "Kind": link.kind, **settings,
            "Ends": [{"Place": f"{e.place.kind} {e.place.name}", "Interface": e.ifname, "Qdiscs": q}
                     for e, q in zip(ends, qdiscs, strict=True)]}
