"""The lab's lifecycle as Python calls: what `lab up` / `lab down` do, for tests, the pytest
plugin and benchmarks. The CLI is a thin layer over these."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from lab.apply.context import Progress
from lab.apply.teardown import DownReport, teardown
from lab.plan.model import Plan
from lab.state.store import LabState


def _quiet(_msg: str) -> None:
    pass


def runtime():
    from lab.apply.runtime.docker import DockerRuntime

    rt = DockerRuntime()
    rt.check()
    return rt


@dataclass
class UpResult:
    lab: str
    topology: Path
    plan: Plan
    seconds: float
    steps_s: dict[str, float] = field(default_factory=dict)
    image_source: str | None = None
    interrupted: int = 0  # Ctrl-Cs that came once the lab was up: counted, and the lab left up


def up(topology: str | Path | None = None, name: str = "default", progress: Progress = _quiet) -> UpResult:
    """Validate, plan, preflight, make sure the NLB image exists, and bring the lab up.

    Raises LabInputError (bad input; nothing created), BringUpError (rolled back; on Ctrl-C
    BringUpInterrupted, also a KeyboardInterrupt), or the runtime's and image builder's errors.
    A Ctrl-C after the lab is up leaves it up and is counted in `UpResult.interrupted`.
    """
    from lab.apply.bringup import sigint_hook
    from lab.interrupts import sigint_guard

    with sigint_guard() as guard:  # the CLI's, when it installed one around the whole command
        result = _up(topology, name, progress)
        sigint_hook("returned")
    result.interrupted = guard.pending
    return result


def _up(topology: str | Path | None, name: str, progress: Progress) -> UpResult:
    # Imported here, not at the top: `lab down` and `lab status` need none of the bring-up machinery
    # (pydantic models, DNS, firewall), and it is a third of their start-up time.
    from lab.apply.bringup import bring_up, preflight
    from lab.image import ensure_image
    from lab.plan.build import build_plan
    from lab.topology.load import parse_topology, read_topology_text, resolve_topology_path

    t0 = time.perf_counter()
    path = resolve_topology_path(str(topology) if topology is not None else None)
    text = read_topology_text(path)  # once: `-t /dev/stdin` or `-t <(...)` cannot be read again
    plan = build_plan(parse_topology(text, source=str(path)), name)
    state = LabState(name)
    if state.exists():
        # Before preflight: the namespaces it would find are this lab's own, and its advice
        # (`ip netns del`) would be wrong for a lab that is simply up.
        state.create()  # raises the "already exists" input error before any work
    preflight(plan)
    rt = runtime()
    image = ensure_image(rt.client, progress=progress) if plan.nodes else None
    if image is not None:
        progress(f"NLB image {image.tag}: HAProxy {image.haproxy_version} ({image.source})")
    progress(f"bringing up lab {name!r} from {path}")
    steps = bring_up(plan, state, rt, image.tag if image else "", progress, text)
    return UpResult(name, path, plan, time.perf_counter() - t0, steps, image.source if image else None)


def down(name: str = "default", progress: Progress = _quiet) -> DownReport:
    """Remove exactly what the lab created; a lab that is not up is not an error."""
    state = LabState(name)
    if not state.dir.exists():
        return DownReport(name, found=False)
    state.lock()
    try:
        containers = any(e["kind"] == "container" for e in state.journal.entries())
        return teardown(state, runtime() if containers else None, progress)
    finally:
        state.unlock()


def load_plan(name: str = "default") -> dict:
    return LabState(name).load_plan()
