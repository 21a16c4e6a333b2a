"""`lab up`, `lab down`, `lab status`, `lab list`."""

from __future__ import annotations

import os
import time

import click

from lab.cli.output import emit_json, format_option, name_option, progress, stdout, table
from lab.topology.errors import LabInputError


def _runtime():
    from lab.apply.runtime.docker import DockerRuntime

    runtime = DockerRuntime()
    runtime.check()
    return runtime


@click.command()
@click.option("-t", "--topology", "topology_ref", metavar="FILE", default=None,
              help="Topology YAML file, or the name of a built-in one (default: basic).")
@name_option
@format_option
def up(topology_ref: str | None, lab: str, fmt: str) -> None:
    """Bring up a lab: VPC namespaces, subnets, instances, NLB node containers and endpoints."""
    from lab.apply.bringup import bring_up, preflight
    from lab.image import ensure_image
    from lab.plan.build import build_plan
    from lab.state.store import LabState
    from lab.topology.load import load_topology, resolve_topology_path

    t0 = time.perf_counter()
    path = resolve_topology_path(topology_ref)
    topo = load_topology(path)
    plan = build_plan(topo, lab)
    preflight(plan)
    state = LabState(lab)
    if state.exists():
        state.create()  # raises the "already exists" input error, before any work
    runtime = _runtime()
    image = ensure_image(runtime.client, progress=progress) if plan.nodes else None
    if image is not None:
        progress(f"NLB image {image.tag}: HAProxy {image.haproxy_version} ({image.source})")
    progress(f"bringing up lab {lab!r} from {path}")
    timings = bring_up(plan, state, runtime, image.tag if image else "", progress, path.read_text())
    total = time.perf_counter() - t0
    summary = {"lab": lab, "topology": str(path), "seconds": round(total, 3),
               "steps_ms": {k: round(v * 1000, 1) for k, v in timings.items()},
               "endpoints": [_endpoint_summary(ep) for ep in plan.to_dict()["endpoints"]]}
    if fmt == "json":
        emit_json(summary)
        return
    stdout.print(f"lab {lab!r} is up in {total:.2f} s")
    for ep in summary["endpoints"]:
        stdout.print(f"  endpoint {ep['id']} ({ep['state']}) ENIs: {', '.join(ep['enis'])}")
    client = next((i for i in plan.inventory.get("instances", []) if not i.get("App")), None)
    eni = next((e for ep in summary["endpoints"] for e in ep["enis"]), None)
    if client and eni:
        stdout.print(f"try: sudo lab exec {client['Name']}{_name_flag(lab)} -- curl -s http://{eni.split()[0]}/")


def _name_flag(lab: str) -> str:
    return "" if lab == "default" else f" --name {lab}"


def _endpoint_summary(ep: dict) -> dict:
    return {"id": ep["id"], "name": ep["name"], "state": ep["state"],
            "enis": [f"{e['ip']} ({e['az']})" for e in ep["enis"]]}


@click.command()
@name_option
@format_option
def down(lab: str, fmt: str) -> None:
    """Remove exactly what a lab created (safe to repeat; works after a crash)."""
    from lab.apply.teardown import teardown
    from lab.state.store import LabState

    if os.geteuid() != 0:
        raise LabInputError("lab down", "needs root", "run it with sudo")
    state = LabState(lab)
    t0 = time.perf_counter()
    if not state.dir.exists():
        report = {"lab": lab, "found": False, "removed": {}}
        msg = f"lab {lab!r} is not up; nothing to remove"
    else:
        state.lock()
        containers = any(e["kind"] == "container" for e in state.journal.entries())
        runtime = _runtime() if containers else None
        result = teardown(state, runtime, progress=progress)
        report = {"lab": lab, "found": True, "removed": result.removed}
        msg = f"lab {lab!r} is down"
    report["seconds"] = round(time.perf_counter() - t0, 3)
    if fmt == "json":
        emit_json(report)
    else:
        stdout.print(f"{msg} ({report['seconds']:.2f} s)")


@click.command("list")
@format_option
def list_labs(fmt: str) -> None:
    """List the labs that are up on this machine."""
    from lab.state.store import list_labs as labs

    names = labs()
    if fmt == "json":
        emit_json(names)
    else:
        stdout.print("\n".join(names) if names else "no labs are up")


@click.command()
@name_option
@format_option
def status(lab: str, fmt: str) -> None:
    """Show a lab's VPCs, instances, endpoint ENIs, NLB nodes and target health."""
    from lab.cli.status_view import collect, render

    data = collect(lab)
    if fmt == "json":
        emit_json(data)
    else:
        render(data)
