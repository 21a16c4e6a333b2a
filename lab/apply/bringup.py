"""`lab up`: make a plan real, step by step, journaling each object before creating it.

Steps run in dependency order. Anything that fails rolls the whole lab back through the same
code `lab down` uses, so a failed bring-up leaves exactly nothing.

Ctrl-C (SIGINT): during the steps it rolls the lab back and raises BringUpInterrupted ("interrupted
at step 'nodes'; rolled back", exit 130). A second Ctrl-C during that rollback is only counted (see
lab.interrupts), so the rollback finishes; if the process is killed instead, the journal still
lists what is left and `lab down` removes it. Once the last step is done and the plan saved, the lab
is up: a Ctrl-C from then on is counted, never undoes it, and `lab up` reports the lab as up (exit 0).

Test-only hooks, both read from the environment (never set them outside tests):
  LAB_FAULT_STEP=<step>         kill the process (SIGKILL) as that step begins (crash safety);
  LAB_TEST_SIGINT_AT=<m>[,<m>]  send this process SIGINT at each moment m: 'start' (the name is
                                claimed), a step's name (as it begins), 'up' (the lab is up, before
                                subscribers are told), 'returned' (lab.api.up is about to
                                return), 'rollback' (a rollback begins).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from lab.apply import apps, dns, firewall, idle, impair, internet, links, netns, nodes, processes, rstcount
from lab.apply.context import ApplyContext, Progress
from lab.interrupts import sigint_guard
from lab.apply.teardown import teardown
from lab.plan.model import Place, Plan
from lab.state.store import LabState
from lab.topology.errors import LabInputError, LabSystemError

# Links inside or between VPCs (and on-premises ones, lab.plan.onprem), made before any NLB node.
VPC_LINK_ROLES = ("instance", "peering", "onprem-instance", "dx")
# Links of the networks around the VPCs, made (with their routes) in the same step.
VPC_LINK_ROLES += ("igw", "internet", "internet-host", "nat-gateway")  # lab.plan.internet
# dns: each VPC's resolver and names; firewall: security groups on the ENI legs, in place before any listener.
# dx: Direct Connect's BGP sessions (BIRD) and the on-premises resolvers (lab.apply.bgp, lab.apply.onprem_dns).
STEPS = ("namespaces", "bridges", "instances", "internet", "targets", "dns", "dx", "nodes", "legs", "firewall",
         "impair", "config")
APP_MODULES = apps.APP_MODULES  # the program behind each `app:` (lab.apply.apps starts them)


class BringUpError(LabSystemError, RuntimeError):
    """Bring-up failed and was rolled back; the message says where and why."""


class BringUpInterrupted(BringUpError, KeyboardInterrupt):
    """Ctrl-C during bring-up; rolled back. Still a KeyboardInterrupt, so that whoever stops on one
    (pytest, a script's caller) still stops; the CLI prints its message and exits 130."""

    exit_code = 130  # 128 + SIGINT, as shells report an interrupted command


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


TEST_SIGINT_ENV = "LAB_TEST_SIGINT_AT"


def sigint_hook(moment: str) -> None:
    """Test-only (see the module's docstring): SIGINT to ourselves at a named moment."""
    if moment in os.environ.get(TEST_SIGINT_ENV, "").split(","):
        os.kill(os.getpid(), signal.SIGINT)


def bring_up(plan: Plan, state: LabState, runtime, image: str, progress: Progress,
             topology_text: str = "") -> dict[str, float]:
    """Create everything; returns seconds per step. On failure: rollback, then BringUpError; on
    Ctrl-C before the lab is up: rollback, then BringUpInterrupted. The lab is up, and unlocked,
    when it returns, with Ctrl-C only counted: the control plane announces it (lab.api.up)."""
    with sigint_guard() as guard:
        guard.disarm()  # not while claiming the name: a Ctrl-C here is raised by arm_once() below, and rolled back
        state.create()
        state.lock()  # outside the rollback: if another command holds the lab, it is theirs, not ours to remove
        ctx = ApplyContext(plan=plan, state=state, progress=progress, runtime=runtime)
        timings: dict[str, float] = {}
        step = "start"
        try:
            guard.arm_once()  # the first Ctrl-C raises (and rolls back); any later one is only counted
            sigint_hook("start")
            state.save(plan.to_dict(), topology_text)
            actions = _actions(image)
            for i, step in enumerate(STEPS, 1):
                _fault(step)
                sigint_hook(step)
                t0 = time.perf_counter()
                actions[step](ctx)
                timings[step] = time.perf_counter() - t0
                progress(f"[{i}/{len(STEPS)}] {step:<10} {_describe(plan, step)} ({timings[step] * 1000:.0f} ms)")
            step = "up"  # the last step is done: from here on the lab stays up, whatever happens
            guard.disarm()
            ctx.close()
            progress(ctx.gso.summary())
            ctx.live.save()  # the nodes' PIDs, beside the plan
        except BaseException as err:
            guard.disarm()
            ctx.close()
            _roll_back(state, runtime, progress, err, step)
        finally:
            state.unlock()
        return timings


def _guard_and_count(ctx: ApplyContext) -> None:
    firewall.sync(ctx)
    rstcount.sync(ctx)  # the ENI legs' reset counters (CloudWatch's Rst metrics)
    idle.sync(ctx)  # the listeners' idle timeouts, before any listener answers


def _actions(image: str) -> dict[str, Callable[[ApplyContext], None]]:
    return {
        "namespaces": _namespaces, "bridges": _bridges, "instances": _instances, "targets": _targets,
        "nodes": lambda c: nodes.start(c, image), "legs": _legs, "config": nodes.configure,
        "dns": dns.sync, "firewall": _guard_and_count, "impair": _impair, "dx": _dx, "internet": internet.sync,
    }


def _roll_back(state: LabState, runtime, progress: Progress, err: BaseException, step: str) -> None:
    """Remove what the journal lists, then raise what the caller should hear. Runs with Ctrl-C only
    counted (the guard disarmed), so a second one never cuts it short."""
    interrupted = isinstance(err, KeyboardInterrupt)
    lab = state.lab
    if interrupted:
        progress(f"interrupted at step '{step}'; rolling back (Ctrl-C again waits for it; if this process is "
                 f"killed, `lab down --name {lab}` finishes the job)")
    else:
        progress(f"bring-up failed at step '{step}': {_reason(err)}; rolling back")
    sigint_hook("rollback")
    try:
        teardown(state, runtime, progress=lambda _msg: None)
    except Exception as undo:
        what = "interrupted" if interrupted else f"failed ({_reason(err)})"
        raise BringUpError(f"bring-up {what} at step '{step}', and its rollback failed: {_reason(undo)}",
                           fix=f"run `lab down --name {lab}`: the journal still lists what is left") from undo
    if interrupted:
        raise BringUpInterrupted(f"interrupted at step '{step}'; rolled back: nothing of lab {lab!r} is left") from None
    if not isinstance(err, Exception):
        raise err  # SystemExit and the like: rolled back, passed on as they are
    raise BringUpError(f"bring-up failed at step '{step}': {_reason(err)} (rolled back: nothing of the lab is left)",
                       fix=getattr(err, "fix", None)) from err


def _reason(err: BaseException) -> str:
    return str(err) or type(err).__name__


def _impair(ctx: ApplyContext) -> None:
    for imp in ctx.plan.impairments:
        impair.apply(imp, ctx.ns_path)
    if ctx.plan.impairments:
        impair.LiveImpairments(ctx.state.dir).save({imp.link: imp.settings() for imp in ctx.plan.impairments})
    from lab.apply.regions import apply_backbone  # cross-region labs: the backbone's delay, or why not

    apply_backbone(ctx)


def _dx(ctx: ApplyContext) -> None:
    from lab.apply import bgp, onprem_dns

    bgp.start(ctx)
    onprem_dns.start(ctx)


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
        "dx": f"{len(plan.direct_connect)} Direct Connect BGP sessions Established, "
              f"{len(plan.onprem_resolvers)} on-premises resolvers",
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
        started.append((app, token))
    apps.start(ctx, started)


def _legs(ctx: ApplyContext) -> None:
    for pair in ctx.plan.veths:
        if pair.role not in VPC_LINK_ROLES:
            links.create_veth(ctx, pair)
    for route in ctx.plan.routes:
        if route.place.kind == "container":
            links.add_route(ctx, route)
    for rule in ctx.plan.rules:
        links.add_rule(ctx, rule)
