"""`lab verify` from Python: capture every link, make the traffic, judge the ledger.

    report = verify("default")
    report.ok, report.text(), report.to_dict()

Order of a run: read the plan (and the topology's `verify:` section) from the lab's state,
open a capture socket on every link, send the flows (one at a time, each bounded) and the
probes (one packet each), wait for the NLB's health checks to show up on its provider legs
(bounded by the longest check interval + 1 s), stop, and evaluate the invariants.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lab.ppv2.codec import SIGNATURE
from lab.apply.live import LiveLab
from lab.state.store import LabState
from lab.topology.errors import LabInputError
from lab.verify import internet
from lab.verify import invariants as inv
from lab.verify import last
from lab.verify.hops import hops
from lab.verify.capture import Capture, Frame
from lab.verify.discover import far_macs, link_path, missing_places, unplanned_links
from lab.verify.ledger import Ledger
from lab.plan.links import Link, links_from_plan, select_links
from lab.verify.names import name_checks, run_name_flow
from lab.verify.pcapfile import write_per_link
from lab.verify.report import Report
from lab.verify.residency import residency_checks
from lab.verify.spec import VerifyPlan, build
from lab.verify.traffic import dns_query, run_flow, send_probes

PROBE_LINGER_S = 0.6  # answers to probes (and ARP that never resolves) have this long to show up
BLOCKED_FLOW_TIMEOUT_S = 1.0  # a flow the security groups drop: long enough to see no answer come
HEALTH_WAIT_CAP_S = 31.0


@dataclass
class Options:
    wait_health_checks: bool = True
    probes: bool = True
    flow_timeout_s: float = 3.0
    extra_links: list[Link] = field(default_factory=list)


def _quiet(_msg: str) -> None:
    pass


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise LabInputError(what, "needs root (it enters the lab's namespaces and captures on its links)",
                            "run it with sudo")


def declared_spec(state: LabState):
    """The topology's `verify:` section, from the copy `lab up` saved (None if there is none)."""
    if not state.topology_file.exists() or not state.topology_file.read_text().strip():
        return None
    from lab.topology.load import parse_topology

    return parse_topology(state.topology_file.read_text(), str(state.topology_file)).verify


def lab_links(plan: dict, live: LiveLab) -> list[Link]:
    return links_from_plan(plan) + unplanned_links(plan, live)


class HealthCheckWatch:
    """Notes, as frames arrive, which NLB provider legs have carried a PPv2 LOCAL header."""

    def __init__(self, links: list[Link]):
        self.legs = {ln.name for ln in links if ln.kind == "nlb-target"}
        self.seen: set[str] = set()

    def __call__(self, frame: Frame) -> None:
        if frame.link not in self.legs or frame.link in self.seen:
            return
        data = frame.data
        if len(data) < 54 or data[12:14] != b"\x08\x00" or data[23] != 6:
            return
        l4 = 14 + (data[14] & 0x0F) * 4
        payload = l4 + (struct.unpack_from("!H", data, l4 + 12)[0] >> 12) * 4
        if data[payload:payload + 12] == SIGNATURE and len(data) > payload + 12 and data[payload + 12] == 0x20:
            self.seen.add(frame.link)

    def done(self, legs: set[str]) -> bool:
        return legs <= self.seen


def verify(lab: str = "default", options: Options | None = None, progress: Callable[[str], None] = _quiet) -> Report:
    options = options or Options()
    require_root("lab verify")
    t0 = time.perf_counter()
    phases: dict[str, float] = {}
    state = LabState(lab)
    plan = state.load_plan()
    live = LiveLab(state, plan)
    missing = missing_places(plan, live)
    if missing:
        raise LabInputError("--name", f"lab {lab!r} is not fully up: missing {', '.join(missing[:4])}",
                            f"run `lab down --name {lab}` and `lab up --name {lab}` again")
    links = lab_links(plan, live) + list(options.extra_links)
    declared = declared_spec(state)
    vplan: VerifyPlan = build(plan, links, declared)
    inet_specs = internet.declared_specs(plan, links, declared)  # flows over the internet (nlb:)
    if not options.probes:
        vplan.probes = []
    macs = far_macs(links, live)
    watch = HealthCheckWatch(links)
    hc_legs = {ln.name for ln in links if ln.kind == "nlb-target" and _has_ppv2(plan, ln.owner)}
    waited = options.wait_health_checks and bool(hc_legs)
    progress(f"capturing on {len(links)} links; {len(vplan.flows)} flows, {len(vplan.dns)} DNS queries, "
             f"{len(vplan.names)} flows by name, {len(vplan.probes)} probes")
    phases["prepare"] = time.perf_counter() - t0
    cap = Capture(links, link_path(live), on_frame=watch)
    with cap:
        t1 = time.perf_counter()
        dns_runs = [dns_query(spec) for spec in vplan.dns]
        flow_runs = [run_flow(spec, options.flow_timeout_s if spec.expect == "reach" else BLOCKED_FLOW_TIMEOUT_S)
                     for spec in vplan.flows]
        name_runs = [run_name_flow(spec, options.flow_timeout_s, BLOCKED_FLOW_TIMEOUT_S) for spec in vplan.names]
        inet_runs = [internet.run(spec, options.flow_timeout_s) for spec in inet_specs]
        probe_runs = send_probes(vplan.probes)
        time.sleep(PROBE_LINGER_S if probe_runs else 0.1)
        phases["traffic"] = time.perf_counter() - t1
        if waited:
            hc_wait = _health_wait(plan)
            progress(f"waiting up to {hc_wait:.0f} s for a health check on {len(hc_legs)} NLB leg(s)")
            cap.wait_until(lambda _frames: watch.done(hc_legs), timeout=max(0.0, hc_wait - phases["traffic"]))
            phases["health-check wait"] = time.perf_counter() - t1 - phases["traffic"]
    t2 = time.perf_counter()
    window = cap.stopped_at - cap.started_at
    ledger = Ledger(links, cap.frames, cap.stats, macs)
    checks = _evaluate(plan, links, ledger, cap.truncated, flow_runs, dns_runs, probe_runs, waited, window)
    for run in name_runs:
        checks += name_checks(run, ledger)
    for run in inet_runs:
        checks += internet.checks(run, ledger)
    for run in flow_runs:
        run.path = hops(run.trace, ledger)
    checks += residency_checks(plan, declared, flow_runs, ledger)  # regions a flow may reach (lab.verify.residency)
    phases["evaluate"] = time.perf_counter() - t2
    report = Report(lab=lab, topology=plan.get("topology_path") or str(state.topology_file), checks=checks,
                    ledger=ledger, flows=flow_runs, probes=probe_runs, dns=dns_runs, names=name_runs,
                    notes=vplan.notes, internet=inet_runs, seconds=time.perf_counter() - t0, capture_seconds=window,
                    phases=phases)
    last.save(state, report.to_dict())  # for `lab graph --flows`
    return report


def _health_wait(plan: dict) -> float:
    """Long enough for every NLB node to run one health check: the longest interval + 1 s."""
    intervals = [b["interval_s"] for n in plan["nodes"] for b in n["backends"]]
    return min(HEALTH_WAIT_CAP_S, 1.0 + max(intervals, default=0))


def _evaluate(plan, links, ledger, truncated, flow_runs, dns_runs, probe_runs, waited, window) -> list:
    checks = inv.capture_checks(ledger, truncated)
    for run in flow_runs:
        run.trace, run.ledger = ledger.trace(run.marks), ledger
        checks += inv.flow_checks(run, run.trace, ledger)
    for run in dns_runs:
        run.trace, run.ledger = ledger.trace(run.marks), ledger
        checks.append(inv.dns_check(run, run.trace, ledger))
    checks += inv.node_ppv2_checks(ledger, plan, waited, window)
    checks += inv.snat_checks(ledger, plan)
    for run in probe_runs:
        run.trace, run.ledger = ledger.trace(run.marks), ledger
        checks.append(inv.probe_checks(run, run.trace, ledger))
    checks.append(inv.cross_side_check(ledger))
    checks += inv.between_checks(ledger)
    for link in links:
        if link.kind == "unplanned":
            checks.append(inv.Check("links", link.name, inv.WARN, f"{link.far} is not part of the lab's plan; "
                                    "it was captured like every other link"))
    return checks


def _has_ppv2(plan: dict, container: str) -> bool:
    return any(b["proxy_protocol_v2"] and b["servers"] for n in plan["nodes"] if n["container"] == container
               for b in n["backends"])


# -- lab capture ------------------------------------------------------------------------------------

def capture_links(lab: str, patterns: list[str]) -> list[Link]:
    """The lab's links (planned and unplanned) that match `patterns` (all of them for none)."""
    require_root("lab capture")
    return _select(lab, LiveLab(LabState(lab)), patterns)


def _select(lab: str, live: LiveLab, patterns: list[str]) -> list[Link]:
    every = lab_links(live.plan, live)
    try:
        return select_links(every, patterns)
    except KeyError as err:
        raise LabInputError("LINK", f"no link, kind or owner matches {err.args[0]!r} in lab {lab!r}",
                            f"use one of: {', '.join(ln.name for ln in every)}") from None


def capture(lab: str, patterns: list[str], seconds: float, out_dir: Path,
            progress: Callable[[str], None] = _quiet) -> dict:
    """Capture the chosen links for `seconds` (Ctrl-C stops early; what was captured is still
    written), one pcap per link in `out_dir`; returns what was written."""
    require_root("lab capture")
    live = LiveLab(LabState(lab))
    chosen = _select(lab, live, patterns)
    cap = Capture(chosen, link_path(live), max_seconds=seconds + 5)
    progress(f"capturing {len(chosen)} link(s) for {seconds:g} s into {out_dir}")
    cap.start()
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    except KeyboardInterrupt:
        pass
    finally:
        cap.stop(linger=0.0)
    written = write_per_link(out_dir, cap.frames, {ln.name: ln.file_stem for ln in chosen})
    return {"lab": lab, "seconds": round(cap.stopped_at - cap.started_at, 3), "truncated": cap.truncated,
            "pcaps": [{"link": name, "kind": next(ln.kind for ln in chosen if ln.name == name), "file": str(path),
                       "frames": count, "kernel_drops": cap.stats[name].kernel_drops}
                      for name, (path, count) in written.items()]}


def write_pcaps(report: Report, directory: Path) -> dict[str, tuple[Path, int]]:
    """A verify run's capture, one pcap per link."""
    return write_per_link(directory, report.ledger.frames(), {n: ln.file_stem for n, ln in report.ledger.links.items()})
