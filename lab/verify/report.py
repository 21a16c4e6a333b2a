"""A verify run's result: the verdict, every check, the ledger of links, as text or JSON."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from lab.verify.invariants import FAIL, PASS, SKIP, WARN, Check

MARK = {PASS: "PASS", FAIL: "FAIL", WARN: "WARN", SKIP: "SKIP"}
EVIDENCE_BLOCKS = 4  # failures whose packets are printed in full in the text report


@dataclass
class Report:
    lab: str
    topology: str
    checks: list[Check]
    ledger: object  # lab.verify.ledger.Ledger
    flows: list = field(default_factory=list)  # FlowRun
    probes: list = field(default_factory=list)  # ProbeRun
    dns: list = field(default_factory=list)  # DnsRun
    names: list = field(default_factory=list)  # lab.verify.names.NameFlowRun
    internet: list = field(default_factory=list)  # lab.verify.internet.InternetFlowRun
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    capture_seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase of the run

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    def counts(self) -> dict[str, int]:
        out = {PASS: 0, FAIL: 0, WARN: 0, SKIP: 0}
        for c in self.checks:
            out[c.status] += 1
        return out

    def verdict(self) -> str:
        n = self.counts()
        word = "PASSED" if self.ok else "FAILED"
        return (f"{word}: {n[PASS]} passed, {n[FAIL]} failed, {n[WARN]} warnings, {n[SKIP]} skipped "
                f"({self.seconds:.1f} s; {self.capture_seconds:.1f} s of capture on {len(self.ledger.links)} links)")

    def leaking_links(self) -> list[str]:
        """Links named by failed checks: links between VPCs (peerings, unplanned) first, as they are
        where a leak leaves; then the others in order of first mention."""
        seen: dict[str, None] = {}
        for c in self.failures:
            if not c.leak:
                continue  # a check that failed for want of an answer names links too, but nothing leaked there
            for name in c.links:
                seen.setdefault(name, None)
        links = self.ledger.links

        def between(name: str) -> int:
            return 0 if name in links and links[name].side in ("between", "other", "public") else 1

        return sorted(seen, key=between)

    # -- text ----------------------------------------------------------------------------------
    def headline(self) -> str:
        text = f"lab verify: lab {self.lab!r} -- {self.verdict()}"
        if not self.ok and self.leaking_links():
            text += "\nleaking link(s): " + ", ".join(
                f"{n} ({self.ledger.links[n].kind})" if n in self.ledger.links else n for n in self.leaking_links())
        return text

    def text(self, ledger: bool = True) -> str:
        out = [self.headline(), ""]
        if ledger:
            out += ["Links (each captured on its router end; a veth's two ends carry the same frames)",
                    self.ledger.text(), ""]
        out += self._flows_text() + self._names_text() + self._internet_text() + self._az_text() + self._dns_text() \
            + self._probes_text() + self._other_text()
        if self.notes:
            out += ["Notes"] + [f"  {n}" for n in self.notes] + [""]
        out += self._failures_text()
        out.append(self.headline().replace("lab verify: ", "verdict: ", 1))
        return "\n".join(out)

    def _failures_text(self, max_evidence: int = EVIDENCE_BLOCKS) -> list[str]:
        """Failures grouped by the links at fault (groups that cross a link between VPCs first), one
        line each; the offending packets of each group's first failure."""
        if not self.failures:
            return []
        groups: dict[tuple[str, tuple[str, ...]], list[Check]] = defaultdict(list)
        for c in self.failures:
            groups[(c.category, tuple(c.links))].append(c)
        rank = {name: i for i, name in enumerate(self.leaking_links())}
        order = sorted(groups, key=lambda k: min((rank.get(n, 99) for n in k[1]), default=99))
        order = sorted(order, key=lambda k: not any(c.leak for c in groups[k]))  # leaks first, stable otherwise
        out = [f"Failures ({len(self.failures)})"]
        for shown, key in enumerate(order):
            category, links = key
            checks = groups[key]
            out.append(f"  {category}: {len(checks)} failure(s)" +
                       (f", links at fault: {', '.join(links)}" if links else ""))
            out += [f"    FAIL {c.subject}: {c.message}" for c in checks]
            evidence = next((c for c in checks if c.evidence), None)
            if evidence is not None and shown < max_evidence:
                out.append(f"    packets of the first ({evidence.subject}), in the order the links saw them:")
                out += [f"    {line}" for line in evidence.evidence.splitlines()]
        if len(order) > max_evidence:
            out.append("  (packets of the other groups are left out; `--format json` has them all)")
        return out + [""]

    def _flows_text(self) -> list[str]:
        if not self.flows:
            return []
        out = [f"Flows through the endpoint ({len(self.flows)})"]
        for run in self.flows:
            out.append(f"  {run.spec.name}: {run.describe()}")
            out += _hops_line(getattr(run, "path", None))
            for c in self.checks:
                if c.subject == run.spec.name or c.subject.startswith(run.spec.name + " ("):
                    label = c.category + (" (target's view)" if c.subject.endswith("(target's view)") else "")
                    out.append(f"    {MARK[c.status]} {label:<22} {c.message}")
        return out + [""]

    def _names_text(self) -> list[str]:
        """Per flow by name: the name, what it resolved to, the request; then its checks."""
        if not self.names:
            return []
        out = [f"Flows by DNS name, resolved inside the client by its VPC's resolver ({len(self.names)})"]
        for run in self.names:
            s = run.spec
            if s.skip:
                got = "not asked"
            else:
                got = f"{s.resolver} -> {', '.join(run.answers) or 'nothing'}; " + (
                    run.flow.describe() if run.flow else f"no request ({run.problem or 'a stray address'})")
            out.append(f"  {s.name} [{s.endpoint}]: {got}")
            out += _hops_line(run.path)
            for c in self.checks:
                if c.subject == s.name or c.subject == s.name + " (target's view)":
                    label = c.category + (" (target's view)" if c.subject.endswith("(target's view)") else "")
                    out.append(f"    {MARK[c.status]} {label:<22} {c.message}")
        return out + [""]

    def _az_text(self) -> list[str]:
        """How many flows stayed in their client's AZ (lab.verify.azpath), and which crossed where."""
        rows = [c for c in self.checks if c.category == "az"]
        crossed = [c for c in rows if "crossed AZs" in c.message]
        if not rows:
            return []
        out = [f"AZ crossings: {len(crossed)} of {len(rows)} flows left their client's AZ"]
        out += [f"  {c.subject}: {c.message}" for c in crossed[:20]]
        return out + [""]

    def _dns_text(self) -> list[str]:
        rows = [c for c in self.checks if c.category == "dns"]
        if not rows:
            return []
        return [f"Endpoint names, asked from inside the consumer VPC ({len(rows)})"] + \
            [f"  {MARK[c.status]} {c.subject}: {c.message}" for c in rows] + [""]

    def _probes_text(self) -> list[str]:
        if not self.probes:
            return []
        by_subject = {c.subject: c for c in self.checks if c.category == "isolation"}
        groups: dict[tuple[str, str, str], list] = defaultdict(list)
        for run in self.probes:
            groups[(run.spec.client, run.spec.what, run.spec.dst_ip)].append(run)
        clients = len({r.spec.client for r in self.probes})
        out = [f"Isolation probes ({len(self.probes)} packets from {clients} consumer instance(s); "
               "judged by where they were captured, not by what answered)"]
        for (client, what, ip), runs in groups.items():
            statuses = [by_subject[r.spec.name].status for r in runs if r.spec.name in by_subject]
            worst = FAIL if FAIL in statuses else WARN if WARN in statuses else PASS
            parts = [f"{'icmp' if r.spec.proto == 'icmp' else 'tcp/' + str(r.spec.port)} {r.answer}" for r in runs]
            out.append(f"  {MARK[worst]} {client} -> {what} {ip}: {', '.join(parts)}")
            own = sorted({n for r in runs for n in r.links} - {n for r in runs for n in r.extra_links})
            others = [n for n in own if self.ledger.links[n].owner != client]
            at_eni = any(r.spec.at_eni for r in runs)
            if worst == PASS and others and not at_eni and any(r.answer != "silent" for r in runs):
                out.append(f"       answered inside the consumer's own VPC, on {', '.join(others)} "
                           "(overlapping addresses); no provider link saw it")
            for r in runs:
                c = by_subject.get(r.spec.name)
                if c is not None and c.status in (FAIL, WARN):
                    what = "icmp" if r.spec.proto == "icmp" else r.spec.port
                    out.append(f"       {MARK[c.status]} {what}: {c.message}")
        return out + [""]

    def _other_text(self) -> list[str]:
        flow_names = {r.spec.name for r in self.flows} | {r.spec.name for r in self.names}
        rest = [c for c in self.checks if c.category not in ("isolation", "dns", "name")
                and c.subject not in flow_names and not any(c.subject.startswith(n + " (") for n in flow_names)]
        if not rest:
            return []
        out = ["NLB legs, targets, sides and capture"]
        out += [f"  {MARK[c.status]} {c.category:<10} {c.subject}: {c.message}" for c in rest]
        return out + [""]

    def _internet_text(self) -> list[str]:
        if not self.internet:
            return []
        out = [f"Flows over the internet, to internet-facing load balancers ({len(self.internet)})"]
        for run in self.internet:
            out.append(f"  {run.spec.name} [exposure: {run.spec.exposure}]: {run.flow.describe()}")
            out += _hops_line(run.path)
            for c in self.checks:
                if c.subject == run.spec.name:
                    out.append(f"    {MARK[c.status]} {c.category:<22} {c.message}")
        return out + [""]

    # -- JSON ----------------------------------------------------------------------------------
    def _worst(self, subject: str) -> str:
        mine = [c.status for c in self.checks if c.subject in (subject, subject + " (target's view)")]
        return next((st for st in (FAIL, WARN, SKIP) if st in mine), PASS if mine else SKIP)

    def _flow_detail(self, run) -> dict:
        """Per link: packets, bytes and the 5-tuples the flow used there; the PPv2 headers seen."""
        from lab.verify.packets import conn_text

        if run.trace is None:
            return {}
        per_link = {name: {"packets": len(pkts), "bytes": sum(p.length for p in pkts),
                           "conns": sorted(conn_text(k) for k in run.trace.conns.get(name, ()))}
                    for name, pkts in run.trace.links.items()}
        headers = []
        for name in run.trace.links:
            if self.ledger.links[name].kind != "nlb-target":
                continue
            found = self.ledger.ppv2(name)
            for conn in run.trace.conns.get(name, ()):
                _, a, b = conn
                for key in ((*a, *b), (*b, *a)):
                    fh = found.get(key)
                    if fh is not None:
                        headers.append({"link": name, "header": fh.header.to_dict() if fh.header else None,
                                        "error": str(fh.error) if fh.error else None})
        return {"per_link": per_link, "ppv2": headers}

    def to_dict(self) -> dict:
        return {
            "lab": self.lab,
            "ok": self.ok,
            "verdict": self.verdict(),
            "counts": self.counts(),
            "seconds": round(self.seconds, 3),
            "capture_seconds": round(self.capture_seconds, 3),
            "phases_s": {k: round(v, 3) for k, v in self.phases.items()},
            "leaking_links": self.leaking_links(),
            "checks": [c.to_dict() for c in self.checks],
            "flows": [{"name": r.spec.name, "client": r.spec.client, "endpoint": r.spec.endpoint_id,
                       "eni": r.spec.eni_ip, "port": r.spec.port, "expect": r.spec.expect,
                       "local": list(r.local) if r.local else None, "status": r.status, "error": r.error,
                       "token": r.token, "links": sorted(r.trace.link_names) if r.trace else [],
                       "az_path": getattr(r, "az_path", None),
                       "hops": _hops_json(getattr(r, "path", None)), **self._flow_detail(r)} for r in self.flows],
            "internet_flows": [{"name": r.spec.name, "client": r.spec.client, "nlb": r.spec.nlb,
                                "public_ip": r.spec.public_ip, "port": r.spec.port, "exposure": r.spec.exposure,
                                "status": r.flow.status, "error": r.flow.error, "hops": _hops_json(r.path),
                                "verdict": self._worst(r.spec.name)} for r in self.internet],
            "probes": [{"name": r.spec.name, "proto": r.spec.proto, "port": r.spec.port, "answer": r.answer,
                        "extra_links": r.extra_links} for r in self.probes],
            "name_flows": [{"name": r.spec.name, "client": r.spec.client, "qname": r.spec.qname,
                            "origin": r.spec.origin, "endpoint": r.spec.endpoint, "port": r.spec.port,
                            "resolver": r.spec.resolver, "expected": list(r.spec.expected),
                            "answers": list(r.answers), "chosen": r.chosen, "skip": r.spec.skip or None,
                            "problem": r.problem, "status": r.flow.status if r.flow else None,
                            "local": list(r.flow.local) if r.flow and r.flow.local else None,
                            "links": sorted(r.flow.trace.link_names) if r.flow and r.flow.trace else [],
                            "az_path": getattr(r.flow, "az_path", None) if r.flow else None,
                            "hops": _hops_json(r.path), "public": r.public,
                            "verdict": self._worst(r.spec.name)} for r in self.names],
            "dns": [{"name": r.spec.name, "qname": r.spec.qname, "answers": list(r.answers), "error": r.error}
                    for r in self.dns],
            "links": self.ledger.to_dict(),
            "notes": self.notes,
        }


def _hops_line(path) -> list[str]:
    if path is None:
        return []
    from lab.verify.hops import text

    return [f"    hops: {text(path)}"]


def _hops_json(path) -> list[dict]:
    return [h.to_dict() for h in path] if path else []
