"""`lab down` and rollback: remove exactly what the journal says this lab created.

Works from the journal alone (no topology file needed), after a crash at any point, and any
number of times. Order: processes, containers, namespaces (their links go with them), files.
Each removal first checks ownership (owner token, container label, interface alias).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lab.apply import netns, processes
from lab.apply.context import Progress
from lab.state.store import LabState


@dataclass
class DownReport:
    lab: str
    found: bool
    removed: dict[str, int] = field(default_factory=dict)
    # Processes the lab did not start (a student's shell, an iperf3 server) that were still inside
    # its namespaces: never signalled, but reported, because each keeps its namespace alive.
    foreign_processes: list[dict] = field(default_factory=list)


def teardown(state: LabState, runtime, progress: Progress) -> DownReport:
    report = DownReport(state.lab, found=state.dir.exists())
    if not report.found:
        return report
    entries = list(state.journal.entries())
    by_kind: dict[str, list[dict]] = {}
    for entry in entries:
        by_kind.setdefault(entry["kind"], []).append(entry)

    tokens = [e["token"] for e in by_kind.get("process", [])]
    report.removed["processes"] = processes.stop(tokens)

    containers = [e["name"] for e in by_kind.get("container", [])]
    if containers:
        from lab.apply.nodes import LABEL_LAB  # late: nodes imports the runtime

        runtime.check()  # no silent half-cleanup: if the engine is down, say so and keep the journal
        ours = set(runtime.list_by_label(LABEL_LAB, state.lab))
        for name in containers:
            if name in ours:
                runtime.remove(name)
        report.removed["containers"] = len(ours & set(containers))
        # Security group tables (lab.apply.firewall) live in the NLB nodes' namespaces: they went with
        # their containers. The tables live at this point are those with a last-applied file.
        tables = list((state.dir / "firewall").glob("*/*.nft"))
        if tables:
            report.removed["nft-tables"] = sum(1 for t in tables if not runtime.exists(t.parent.name))

    report.foreign_processes = _processes_inside([e["name"] for e in by_kind.get("netns", [])])
    removed_ns = 0
    for entry in reversed(by_kind.get("netns", [])):
        removed_ns += netns.remove(entry["name"])
    report.removed["namespaces"] = removed_ns

    for entry in reversed(by_kind.get("path", [])):
        path = Path(entry["path"])
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    state.remove()
    progress(f"removed lab {state.lab!r}: " + ", ".join(f"{n} {k}" for k, n in report.removed.items()))
    for proc in report.foreign_processes:
        progress(f"warning: process {proc['pid']} ({proc['command']}) was not started by the lab and still runs in "
                 f"its namespace {proc['netns']}; it keeps that namespace alive until it exits (stop it yourself)")
    return report


def _processes_inside(names: list[str]) -> list[dict]:
    """Processes whose network namespace is one of these lab namespaces (after ours were stopped)."""
    inodes = {}
    for name in names:
        try:
            inodes[netns.inode(netns.netns_path(name))] = name
        except OSError:
            continue  # already gone
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ino = (entry / "ns" / "net").stat().st_ino
            if ino in inodes:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                found.append({"pid": int(entry.name), "netns": inodes[ino], "command": command[:80]})
        except OSError:
            continue  # exited meanwhile, or not ours to read
    return found


def down(name: str, progress: Progress) -> DownReport:
    """`lab down`: under the lab's lock, remove exactly what its journal records (the container
    engine only when it records containers); a lab that is not up is not an error."""
    from lab.apply.runtime import get_runtime

    state = LabState(name)
    if not state.dir.exists():
        return DownReport(name, found=False)
    state.lock()
    try:
        containers = any(e["kind"] == "container" for e in state.journal.entries())
        return teardown(state, get_runtime() if containers else None, progress)
    finally:
        state.unlock()
