"""`lab up`: make a plan real, step by step, journaling each object before creating it.

Steps run in dependency order. Anything that fails rolls the whole lab back through the same
code `lab down` uses, so a failed bring-up leaves exactly nothing. For crash testing, the
environment variable LAB_FAULT_STEP=<step> kills the process (SIGKILL) as that step begins.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lab.apply import dns, firewall, impair, internet, links, netns, nodes, processes
from lab.apply.context import ApplyContext, Progress
from lab.apply.teardown import teardown
from lab.plan.model import Place, Plan
from lab.state.store import LabState
from lab.topology.errors import LabInputError

VPC_LINK_ROLES = ("instance", "peering")  # links inside or between VPCs, made before any NLB node
# Links of the networks around the VPCs, made (with their routes) in the same step.
VPC_LINK_ROLES += ("igw", "internet", "internet-host", "nat-gateway")  # lab.plan.internet
# dns: each VPC's resolver and names; firewall: security groups on the ENI legs, in place before any listener.
STEPS = ("namespaces", "bridges", "instances", "internet", "targets", "dns", "nodes", "legs", "firewall", "impair", "config")
# The program behind each `app:` an instance may run (started in its namespace by _targets).
APP_MODULES = {"demo-target": "lab.apps.target", "webhook-receiver": "lab.privatelink.receiver"}


class BringUpError(RuntimeError):
    """Bring-up failed and was rolled back; the message says where and why."""


def preflight(plan: Plan) -> None:
    """Refuse, before creating anything, when a name we need is taken by something not ours."""
    if os.geteuid() != 0:
        raise LabInputError("lab up", "needs root (namespaces, veths and Docker)", "run it with sudo")
    impair.require_netem(plan.impairments, "impairments")  # delay or loss on a kernel without netem
    for ns in plan.namespaces:
        if netns.exists(ns.name):
            raise LabInputError("--name", f"network namespace {ns.name} already exists and this lab does not own it",
                                f"pick another --name, or remove it if it is a leftover (`ip netns del {ns.name}`)")


def _fault(step: str) -> None:
    if os.environ.get("LAB_FAULT_STEP") == step:
        os.kill(os.getpid(), signal.SIGKILL)


def bring_up(plan: Plan, state: LabState, runtime, image: str, progress: Progress,
             topology_text: str = "") -> dict[str, float]:
    """Create everything; returns seconds per step. On failure: rollback, then BringUpError."""
    state.create()
    state.lock()
    state.topology_file.write_text(topology_text)
    state.save_plan(plan.to_dict())
    ctx = ApplyContext(plan=plan, state=state, progress=progress, runtime=runtime)
    timings: dict[str, float] = {}
    actions: dict[str, Callable[[ApplyContext], None]] = {
        "namespaces": _namespaces, "bridges": _bridges, "instances": _instances, "targets": _targets,
        "nodes": lambda c: nodes.start(c, image), "legs": _legs, "config": nodes.configure,
        "dns": dns.sync, "firewall": firewall.sync, "impair": _impair, "internet": internet.sync,
    }
    step = "start"
    try:
        for i, step in enumerate(STEPS, 1):
            _fault(step)
            t0 = time.perf_counter()
            actions[step](ctx)
            timings[step] = time.perf_counter() - t0
            progress(f"[{i}/{len(STEPS)}] {step:<10} {_describe(plan, step)} ({timings[step] * 1000:.0f} ms)")
    except BaseException as err:
        ctx.close()
        progress(f"bring-up failed at step '{step}': {err}; rolling back")
        teardown(state, runtime, progress=lambda _msg: None)
        if isinstance(err, (KeyboardInterrupt, SystemExit)):
            raise
        raise BringUpError(f"bring-up failed at step '{step}': {err} (rolled back: nothing of the lab is left)") from err
    finally:
        state.unlock()
    ctx.close()
    progress(ctx.gso.summary())
    state.save_plan({**plan.to_dict(), "container_pids": ctx.container_pids})
    _announce(state, progress)
    return timings


def _announce(state: LabState, progress: Progress) -> None:
    """The lab is up: the control plane records its endpoints and notifies the services' subscribers
    (Connect, then Accept or Reject as the file decided). After the unlock, because a subscriber may
    act on the lab at once (the auto-accept example runs `lab endpoint accept`)."""
    from lab.privatelink.lifecycle import lab_is_up

    lab_is_up(state, progress)


def _impair(ctx: ApplyContext) -> None:
    for imp in ctx.plan.impairments:
        impair.apply(imp, ctx.ns_path)
    if ctx.plan.impairments:
        impair.LiveImpairments(ctx.state.dir).save({imp.link: imp.settings() for imp in ctx.plan.impairments})


def _describe(plan: Plan, step: str) -> str:
    count = {
        "namespaces": f"{len(plan.namespaces)} network namespaces",
        "bridges": f"{len(plan.bridges)} subnet bridges",
        "instances": f"{sum(v.role in VPC_LINK_ROLES for v in plan.veths)} instance and peering links",
        "targets": f"{len(plan.apps)} demo targets",
        "nodes": f"{len(plan.nodes)} NLB node containers",
        "legs": f"{sum(v.role not in VPC_LINK_ROLES for v in plan.veths)} NLB legs (provider + endpoint ENIs)",
        "config": f"{sum(len(n.frontends) for n in plan.nodes)} endpoint listeners live",
        "dns": f"{sum(r.enabled for r in plan.resolvers)} VPC resolvers, {sum(len(r.records) for r in plan.resolvers)} names",
        "firewall": f"{len(plan.eni_guards)} ENIs guarded by security groups",
        "impair": f"{len(plan.impairments)} links impaired (tbf, netem)",
        "internet": internet.describe(plan),
    }
    return count[step]


def _namespaces(ctx: ApplyContext) -> None:
    for ns in ctx.plan.namespaces:
        ctx.state.journal.record("netns", name=ns.name)
        netns.create(ns.name)
        netns.write_sysctls(netns.netns_path(ns.name), ns.sysctls)
        links.loopback_up(ctx.netlink(Place("netns", ns.name)))


def _bridges(ctx: ApplyContext) -> None:
    for bridge in ctx.plan.bridges:
        links.create_bridge(ctx, bridge)


def _instances(ctx: ApplyContext) -> None:
    for pair in ctx.plan.veths:
        if pair.role in VPC_LINK_ROLES:
            links.create_veth(ctx, pair)
    for route in ctx.plan.routes:
        if route.place.kind == "netns":
            links.add_route(ctx, route)


def _targets(ctx: ApplyContext) -> None:
    """Start the demo targets before the NLB nodes, so the first health check finds them up."""
    started = []
    for app in ctx.plan.apps:
        token = processes.new_token(ctx.plan.lab, f"target:{app.instance}")
        ctx.state.journal.record("process", token=token, instance=app.instance)
        argv = [sys.executable, "-m", APP_MODULES[app.kind], "--name", app.instance, "--az", app.az,
                "--port", str(app.port), "--owner-token", token]
        pid = processes.spawn(argv, netns.netns_path(app.netns), ctx.state.log_dir() / f"{app.instance}.log")
        started.append((pid, app))
    deadline = time.monotonic() + 10
    for pid, app in started:
        while not processes.listening(f"/proc/{pid}", None, app.port):
            if time.monotonic() > deadline or not Path(f"/proc/{pid}").exists():
                log = (ctx.state.log_dir() / f"{app.instance}.log").read_text()[-2000:]
                raise RuntimeError(f"demo target on {app.instance} did not start listening on :{app.port}:\n{log}")
            time.sleep(0.01)


def _legs(ctx: ApplyContext) -> None:
    for pair in ctx.plan.veths:
        if pair.role not in VPC_LINK_ROLES:
            links.create_veth(ctx, pair)
    for route in ctx.plan.routes:
        if route.place.kind == "container":
            links.add_route(ctx, route)
    for rule in ctx.plan.rules:
        links.add_rule(ctx, rule)
