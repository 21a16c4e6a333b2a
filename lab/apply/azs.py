"""`lab az fail|recover`: an Availability Zone goes down and comes back, as the ELB user guide says
NLBs and endpoints behave (docs/availability-zones.md has the quotes and where they are from).

Failing an AZ stops what the lab runs there and nothing else:
- its targets: the app processes of the target instances in that AZ, signalled by the owner tokens
  `lab up` journaled (lab.apply.processes), and restarted under the same tokens on recovery;
- unless `targets_only`, its NLB nodes: each reloads with its leg-less boot config, so nothing
  listens on its ENIs any more (a client gets a connection refused at once, never a hang), and the
  container is then paused (`docker pause`): no worker, no health check runs there. The node's
  namespace and legs stay, so recovery is unpause, real config, reload, wait until it listens.

DNS follows health, as on AWS: an endpoint's regional name (and every CNAME to it) stops answering
the ENI of a node that cannot serve, i.e. a failed node, or a node left without a healthy target
in some target group (its own AZ's targets with cross-zone off, any AZ's with it on). When no node
of an NLB can serve, the name fails open and keeps every ENI. Zonal names never change: a client
that asked for a failed AZ's zonal name reaches its ENI and is refused. With only targets failed,
the name changes once the nodes' health checks have seen the targets down (interval x unhealthy
threshold), as AWS's DNS failover follows its health checks.

State: `azs.json` in the lab's state folder ({az: {"targets_only": bool}}). Control-plane changes
(`lab endpoint ...`, `lab service cross-zone`) re-plan DNS without it, and would reload a paused
node: recover the AZ first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Iterator

from lab.apply import apps, dns, nodes, processes
from lab.apply.context import ApplyContext
from lab.apply.dnsquery import ask
from lab.apply.live import LiveLab
from lab.plan.model import NlbNode, Plan
from lab.state.store import LabState
from lab.topology.errors import LabInputError

STATE_FILE = "azs.json"
RELEASE_TIMEOUT_S = 10.0
DNS_TIMEOUT_S = 5.0


def _quiet(_msg: str) -> None:
    pass


def failed_azs(state: LabState) -> dict[str, dict]:
    path = state.dir / STATE_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def _save(state: LabState, failed: dict[str, dict]) -> None:
    tmp = state.dir / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(failed, indent=2, sort_keys=True))
    tmp.replace(state.dir / STATE_FILE)


def check_az(saved: dict, lab: str, az: str) -> None:
    """Bad input, before anything is touched: an AZ the lab does not have, or one without an NLB node."""
    azs = sorted({s["AvailabilityZone"] for s in saved["inventory"].get("subnets", [])})
    if az not in azs:
        raise LabInputError("AZ", f"lab {lab!r} has no AZ {az!r}", f"use one of: {', '.join(azs) or '(none)'}")
    with_nodes = sorted({n["az"] for n in saved["nodes"]})
    if az not in with_nodes:
        raise LabInputError("AZ", f"no NLB node runs in {az} in lab {lab!r}",
                            f"fail an AZ that holds one: {', '.join(with_nodes) or '(none: the lab has no NLB)'}")


def check_request(lab: str, az: str, action: str) -> None:
    """Every input check of `fail` / `recover`, for callers that want them before reaching the engine."""
    state = LabState(lab)
    check_az(state.load_plan(), lab, az)
    _check_state(lab, az, action, failed_azs(state))


def _check_state(lab: str, az: str, action: str, failed: dict) -> None:
    if action == "fail" and az in failed:
        raise LabInputError("AZ", f"{az} is already failed in lab {lab!r}", f"run `lab az recover --name {lab} {az}` first")
    if action == "recover" and az not in failed:
        raise LabInputError("AZ", f"{az} is not failed in lab {lab!r}",
                            f"fail it first with `lab az fail --name {lab} {az}`; failed now: {', '.join(failed) or 'none'}")


def _live_plan(state: LabState, saved: dict) -> Plan:
    from lab.plan.build import build_plan
    from lab.topology.load import parse_topology

    topo = parse_topology(state.topology_file.read_text(), str(state.topology_file))
    return build_plan(topo, state.lab, previous=saved)


def _targets_in(plan: Plan, az: str) -> list:
    """The apps of target instances in `az`: instances some target group sends to."""
    targets = {s.name for n in plan.nodes for b in n.backends for s in b.servers}
    return [a for a in plan.apps if a.az == az and a.instance in targets]


def _tokens(state: LabState) -> dict[str, str]:
    return {e["instance"]: e["token"] for e in state.journal.entries() if e["kind"] == "process" and e.get("instance")}


def serving_nodes(plan: Plan, failed: dict[str, dict]) -> set[str]:
    """Nodes that can serve: not failed, and with a target outside the failed AZs in every target group."""
    az_of = {i["Name"]: i["AvailabilityZone"] for i in plan.inventory.get("instances", [])}
    out = set()
    for node in plan.nodes:
        if node.az in failed and not failed[node.az].get("targets_only"):
            continue
        if all(any(az_of.get(s.name) not in failed for s in b.servers) for b in node.backends):
            out.add(node.container)
    return out


def dns_failover(plan: Plan, failed: dict[str, dict]) -> tuple[Plan, dict[str, tuple[str, ...]]]:
    """The plan with each regional name holding only the ENIs of nodes that serve (fail-open when none
    would be left); and {regional name: its addresses now}."""
    serving = serving_nodes(plan, failed)
    keep: dict[str, tuple[str, ...]] = {}
    for ep in plan.endpoints:
        healthy = tuple(e.ip for e in ep.enis if e.node in serving)
        keep[ep.name] = healthy or tuple(e.ip for e in ep.enis)  # fail open: no node serves
    resolvers, names = [], {}
    for resolver in plan.resolvers:
        records = []
        for r in resolver.records:
            if r.origin == "regional" and r.endpoint in keep:
                r = dataclasses.replace(r, values=tuple(ip for ip in r.values if ip in keep[r.endpoint]) or r.values)
                names[r.name] = r.values
            records.append(r)
        resolvers.append(dataclasses.replace(resolver, records=tuple(records)))
    new = dataclasses.replace(plan)
    new.resolvers = resolvers
    return new, names


def _wait_dns(plan: Plan, names: dict[str, tuple[str, ...]]) -> float:
    """Seconds until every resolver answers each regional name with the expected number of addresses."""
    from lab.apply import netns

    t0 = time.monotonic()
    pending = [(r, rec.name, len(names[rec.name])) for r in plan.resolvers if r.enabled
               for rec in r.records if rec.name in names]
    while pending and time.monotonic() - t0 < DNS_TIMEOUT_S:
        left = []
        for resolver, name, count in pending:
            try:
                got = ask(netns.netns_path(resolver.netns), resolver.ip, dns.DNS_PORT, name)
            except OSError:
                got = -1
            if got != count:
                left.append((resolver, name, count))
        pending = left
        if pending:
            time.sleep(0.01)
    return time.monotonic() - t0


def _ctx(state: LabState, plan: Plan, runtime, progress) -> ApplyContext:
    """A context on the live lab, each running node's PID found now (lab.apply.live; a paused node
    keeps its PID)."""
    live = LiveLab(state, runtime=runtime)
    for node in plan.nodes:
        live.node_pid(node.container)
    return ApplyContext(plan=plan, state=state, progress=progress, runtime=runtime, live=live)


def _stop_node(ctx: ApplyContext, node: NlbNode) -> None:
    nodes.write_config(ctx, node, boot=True)
    ctx.runtime.reload(node.container)
    nodes.wait_released(ctx, node, [(fe.ip, fe.port) for fe in node.frontends], RELEASE_TIMEOUT_S)
    ctx.runtime.pause(node.container)


def _wait_targets_down(ctx: ApplyContext, plan: Plan, down: set[str], timeout: float) -> float:
    """Seconds until every live node that sends to one of `down` reports it DOWN (its health checks)."""
    t0 = time.monotonic()
    watch = [n for n in plan.nodes if any(s.name in down for b in n.backends for s in b.servers)
             and n.container in ctx.container_pids]
    while watch and time.monotonic() - t0 < timeout:
        left = []
        for node in watch:
            try:
                rows = nodes.server_states(ctx.container_pids[node.container])
            except OSError:
                continue  # paused or reloading: it sends nothing anyway
            if any(r["svname"] in down and not r.get("status", "").startswith("DOWN") for r in rows):
                left.append(node)
        watch = left
        if watch:
            time.sleep(0.1)
    return time.monotonic() - t0


@dataclasses.dataclass
class _Change:
    """What `fail` and `recover` both start from: the lab locked, its live plan and context, the AZs
    failed so far, and the target apps of `az` with their owner tokens."""
    state: LabState
    plan: Plan
    ctx: ApplyContext
    failed: dict[str, dict]
    targets: list
    tokens: dict[str, str]
    started: float


@contextlib.contextmanager
def _change(lab: str, az: str, action: str, runtime, progress) -> Iterator[_Change]:
    state = LabState(lab)
    saved = state.load_plan()
    check_az(saved, lab, az)
    failed = failed_azs(state)
    _check_state(lab, az, action, failed)
    state.lock()
    try:
        t0 = time.monotonic()
        plan = _live_plan(state, saved)
        ctx = _ctx(state, plan, runtime, progress)
        yield _Change(state, plan, ctx, failed, _targets_in(plan, az), _tokens(state), t0)
        ctx.close()
    finally:
        state.unlock()


def fail(lab: str, az: str, targets_only: bool = False, runtime=None,
         progress: Callable[[str], None] = _quiet) -> dict:
    with _change(lab, az, "fail", runtime, progress) as c:
        processes.stop([c.tokens[a.instance] for a in c.targets if a.instance in c.tokens])
        progress(f"{az}: stopped {len(c.targets)} target(s): {', '.join(a.instance for a in c.targets) or 'none'}")
        stopped = []
        if not targets_only:
            for node in (n for n in c.plan.nodes if n.az == az):
                _stop_node(c.ctx, node)
                stopped.append(node.container)
            progress(f"{az}: stopped NLB node(s) {', '.join(stopped)} (listeners closed, container paused)")
        c.failed[az] = {"targets_only": targets_only}
        _save(c.state, c.failed)
        detected = 0.0
        if targets_only:
            hc = max((b.interval_s * b.fall for n in c.plan.nodes for b in n.backends), default=0)
            detected = _wait_targets_down(c.ctx, c.plan, {a.instance for a in c.targets}, hc + 3)
            progress(f"{az}: health checks saw the targets down after {detected:.1f} s")
        t_dns = time.monotonic()
        result = _sync_dns(c.ctx, c.plan, c.failed)
        return {"AvailabilityZone": az, "State": "failed", "TargetsOnly": targets_only, "NlbNodes": stopped,
                "Targets": [a.instance for a in c.targets], "HealthCheckDetectionSeconds": round(detected, 3),
                "RegionalNames": result["names"], "DnsFailoverSeconds": round(time.monotonic() - t_dns, 3),
                "Seconds": round(time.monotonic() - c.started, 3), "FailedAvailabilityZones": sorted(c.failed)}


def recover(lab: str, az: str, runtime=None, progress: Callable[[str], None] = _quiet) -> dict:
    with _change(lab, az, "recover", runtime, progress) as c:
        apps.start(c.ctx, [(a, c.tokens[a.instance]) for a in c.targets if a.instance in c.tokens])
        progress(f"{az}: restarted {len(c.targets)} target(s)")
        started = []
        if not c.failed[az].get("targets_only"):
            for node in (n for n in c.plan.nodes if n.az == az):
                runtime.unpause(node.container)
                started.append(node.container)
        # Every node that sends to a restarted target reloads: a fresh worker takes targets as up at
        # once, instead of after `healthy_threshold` passing checks (AWS takes that long too).
        names = {a.instance for a in c.targets}
        for node in c.plan.nodes:
            if node.container in started or any(s.name in names for b in node.backends for s in b.servers):
                if c.failed.get(node.az, {}).get("targets_only", True) or node.container in started:
                    nodes.configure(c.ctx, [node])
        del c.failed[az]
        _save(c.state, c.failed)
        t_dns = time.monotonic()
        result = _sync_dns(c.ctx, c.plan, c.failed)
        return {"AvailabilityZone": az, "State": "recovered", "NlbNodes": started, "Targets": sorted(names),
                "RegionalNames": result["names"], "DnsFailoverSeconds": round(time.monotonic() - t_dns, 3),
                "Seconds": round(time.monotonic() - c.started, 3), "FailedAvailabilityZones": sorted(c.failed)}


def _sync_dns(ctx: ApplyContext, plan: Plan, failed: dict[str, dict]) -> dict:
    new, names = dns_failover(plan, failed)
    ctx.plan = new
    dns.sync(ctx)
    _wait_dns(new, names)
    return {"names": {name: list(ips) for name, ips in sorted(names.items())}}
