"""`lab up` as one use case: validate and plan the topology, preflight, make sure the NLB image
exists, make the plan real (lab.apply.bringup), then let the control plane announce the lab's
endpoints (lab.privatelink.lifecycle) once it is up and unlocked, with Ctrl-C only counted, and
start its metrics sampler (lab.usecases.sampler)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Progress = Callable[[str], None]


@dataclass
class UpResult:
    lab: str
    topology: Path
    plan: object  # lab.plan.model.Plan
    seconds: float
    steps_s: dict[str, float] = field(default_factory=dict)
    image_source: str | None = None
    interrupted: int = 0  # Ctrl-Cs that came once the lab was up: counted, and the lab left up


def up(topology: str | Path | None, name: str, progress: Progress) -> UpResult:
    """lab.api.up: the bring-up under the Ctrl-C guard (a Ctrl-C once the lab is up is counted)."""
    from lab.apply.bringup import sigint_hook
    from lab.interrupts import sigint_guard

    with sigint_guard() as guard:  # the CLI's, when it installed one around the whole command
        result = _up(topology, name, progress)
        sigint_hook("returned")
    result.interrupted = guard.pending
    return result


def _up(topology: str | Path | None, name: str, progress: Progress) -> UpResult:
    from lab.apply import bringup
    from lab.apply.runtime import get_runtime
    from lab.image import ensure_image
    from lab.plan.build import build_plan
    from lab.privatelink.lifecycle import lab_is_up
    from lab.state.store import LabState
    from lab.usecases.sampler import start as start_sampler
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
    bringup.preflight(plan)
    rt = get_runtime()
    image = ensure_image(rt.client, progress=progress) if plan.nodes else None
    if image is not None:
        progress(f"NLB image {image.tag}: HAProxy {image.haproxy_version} ({image.source})")
    progress(f"bringing up lab {name!r} from {path}")
    steps = bringup.bring_up(plan, state, rt, image.tag if image else "", progress, text)
    # The lab is up and unlocked, Ctrl-C only counted: a subscriber may act on it at once (the
    # auto-accept example accepts), and an interrupt can no longer undo it.
    bringup.sigint_hook("up")
    lab_is_up(state, progress)
    if plan.nodes:  # CloudWatch's series exist where an NLB does
        start_sampler(state)
    return UpResult(name, path, plan, time.perf_counter() - t0, steps, image.source if image else None)
