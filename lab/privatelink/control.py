"""The control plane's commands, each one transaction on a live lab.

The lab's stored topology (the copy `lab up` made) is the desired state. A command, under the lab
lock: reads it, checks who acts and whether the workflow allows the move, edits the plain YAML,
validates the result with the topology loader (so every rule of a topology file applies), re-plans
it with the live plan as `previous` (existing ENIs keep their addresses and tables), reconciles the
data plane, then saves topology + plan, records the endpoints' history and appends the events.
After the unlock it hands the events to the service's subscribers (a subscriber may call `lab`
itself, e.g. to accept, and needs the lock free).

Accepting is the one move whose data plane can fail (e.g. an interface name is taken): the
endpoint is then `failed`, its legs are rolled back, and the command reports it (exit 1).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pydantic import ValidationError

from lab.apply.context import ApplyContext, Progress
from lab.apply.live import LiveLab
from lab.apply.runtime import LazyRuntime
from lab.plan.build import build_plan
from lab.privatelink import choose, edit, notify, shapes, workflow
from lab.privatelink.principals import (
    Account,
    normalize_principal,
    require_endpoint_owner,
    require_may_create,
    require_service_owner,
    resolve_account,
)
from lab.privatelink.records import EventLog, Record, timestamp
from lab.state.store import LabState
from lab.topology.errors import LabInputError, LabSystemError
from lab.topology.load import parse_topology
from lab.topology.model import Endpoint, EndpointService, Topology, Vpc
from lab.topology.rules import check_rules

LOCK_WAIT_S = 60.0  # a subscriber's nested `lab endpoint accept` waits for the command that notified it


class ControlPlaneError(LabSystemError, RuntimeError):
    """The data plane could not follow a change (exit 1); the message says what was rolled back."""


def _quiet(_msg: str) -> None:
    pass


@dataclass
class Change:
    """What one command did: the endpoints it touched (as DescribeVpcEndpoints shows them after),
    the events it published and how their delivery went."""

    action: str
    endpoints: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    deliveries: list[dict] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    principals: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    view: shapes.LabView | None = field(default=None, repr=False)  # the lab after the change, for delivery
    state: LabState | None = field(default=None, repr=False)  # the transaction's, for delivery
    timings: dict[str, float] = field(default_factory=dict)


@contextmanager
def locked(state: LabState, wait_s: float = LOCK_WAIT_S) -> Iterator[dict]:
    """The lab lock, waiting (bounded) for another command to finish rather than failing at once.
    Yields the plan as it is once the lock is held."""
    state.load_plan()  # a clear "no lab named X is up" before anything else
    deadline = time.monotonic() + wait_s
    while True:
        try:
            state.lock()
            break
        except LabInputError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        yield state.load_plan()  # the lab may have gone down while we waited
    finally:
        state.unlock()


@contextmanager
def transaction(lab: str | LabState, progress: Progress = _quiet) -> Iterator[Transaction]:
    """One control-plane command's work: the lock, then a Transaction on the lab as it is."""
    state = lab if isinstance(lab, LabState) else LabState(lab)
    with locked(state) as plan:
        yield Transaction(state, plan, progress)


def read_view(lab: str) -> shapes.LabView:
    """The lab as it is now (no lock: every file is replaced atomically)."""
    state = LabState(lab)
    plan = state.load_plan()
    return _view(state, plan, edit.load(state.topology_file.read_text()))


def _view(state: LabState, plan: dict, raw: dict) -> shapes.LabView:
    return shapes.LabView(state.lab, _validated(raw, lambda: edit.dump(raw), str(state.topology_file)), plan,
                          Record(state))


def _validated(raw: dict, text, source: str) -> Topology:
    """The topology of `raw`, checked by the schema and every rule. The fast path validates the data
    directly; only a failure goes through the file loader, for its exact path-and-fix message."""
    try:
        topo = Topology.model_validate(raw)
    except ValidationError:
        parse_topology(text(), source=source)
        raise  # the loader found it too; unreachable in practice
    check_rules(topo)
    return topo


class Transaction:
    """One command's work on the lab, between taking and releasing the lock: it owns the lab's state
    (one LabState, the stored topology parsed once, the plan read once under the lock) and saves
    topology and plan together."""

    def __init__(self, state: LabState, plan: dict, progress: Progress = _quiet):
        self.lab, self.state, self.progress = state.lab, state, progress
        self.raw = edit.load(state.topology_file.read_text())
        self.view = _view(state, plan, self.raw)
        self.record = self.view.record
        self.now = timestamp()
        self.live = LiveLab(state, plan, LazyRuntime())  # the nodes, reached without the engine when it can
        self.timings: dict[str, float] = {}  # seconds per reconcile phase (cut, stop, clear, wire, guard, start, dns)

    # -- lookups (every miss is bad input naming what exists) -----------------------------------
    def account(self, ref: str) -> Account:
        return resolve_account(self.view.topo, ref)

    def endpoint(self, ref: str) -> Endpoint:
        for ep in self.view.topo.endpoints:
            planned = self.view.endpoint_plan(ep.name)
            if ref == ep.name or (planned and ref == planned["id"]):
                return ep
        gone = next((d for n, d in self.record.data["deleted"].items() if ref in (n, d["VpcEndpointId"])), None)
        if gone:
            raise workflow.WorkflowError(ref, f"endpoint {gone['VpcEndpointId']} is deleted", "nothing left to do")
        known = ", ".join(f"{(self.view.endpoint_plan(e.name) or {}).get('id')} ({e.name})"
                          for e in self.view.topo.endpoints) or "none"
        raise LabInputError("VPC_ENDPOINT_ID", f"no endpoint {ref!r} in lab {self.lab!r}", f"use one of: {known}")

    def service(self, ref: str) -> EndpointService:
        for svc in self.view.topo.endpoint_services:
            if ref in (svc.name, self.view.service_id(svc), self.view.service_name(svc)):
                return svc
        known = ", ".join(s.name for s in self.view.topo.endpoint_services) or "none"
        raise LabInputError("--service", f"no endpoint service {ref!r} in lab {self.lab!r}", f"use one of: {known}")

    def vpc(self, ref: str) -> Vpc:
        for vpc in self.view.topo.vpcs:
            if ref in (vpc.name, self.view.vpc_id(vpc.name)):
                return vpc
        raise LabInputError("--vpc", f"no VPC {ref!r} in lab {self.lab!r}",
                            f"use one of: {', '.join(v.name for v in self.view.topo.vpcs)}")

    def state_of(self, ep: Endpoint) -> str:
        return self.view.endpoint_plan(ep.name)["state"]

    # -- the change itself -------------------------------------------------------------------------
    def apply(self, new_raw: dict, action: str, becoming_live: set[str]) -> dict[str, str]:
        """Validate, plan, reconcile and save `new_raw`; returns {endpoint: error} for those whose data
        plane failed (they are saved as `failed`, with nothing of them left in the data plane)."""
        from lab.apply.reconcile import reconcile

        topo, plan = self.validate(new_raw, action)
        ctx = self.context(plan)
        failed: dict[str, str] = {}
        try:
            try:
                self.timings.update(reconcile(ctx, self.view.plan).seconds)
            except LabInputError:
                raise
            except Exception as err:  # noqa: BLE001 - any failure of the data plane is reported, then rolled back
                if not becoming_live:
                    raise ControlPlaneError(f"{action}: the data plane could not follow: {err}") from err
                failed = {name: str(err) for name in sorted(becoming_live)}
                self.progress(f"{action}: data plane failed ({err}); marking {', '.join(failed)} failed, rolling back")
                new_raw = edit.set_states(new_raw, dict.fromkeys(failed, "failed"))
                attempted = plan.to_dict()
                topo, plan = self.validate(new_raw, action)
                ctx.plan = plan
                try:
                    reconcile(ctx, attempted)
                except Exception as undo_err:  # noqa: BLE001
                    raise ControlPlaneError(f"{action}: the data plane failed ({err}) and so did its rollback "
                                            f"({undo_err}); `lab down` removes everything") from undo_err
            self.save(new_raw, topo, plan)
        finally:
            ctx.close()
        return failed

    def context(self, plan) -> ApplyContext:
        """What lab.apply needs to make `plan` real on this lab (close it after)."""
        return ApplyContext(plan=plan, state=self.state, progress=self.progress, runtime=self.live.runtime,
                            live=self.live)

    def validate(self, raw: dict, action: str):
        """The topology and plan of an edited `raw` (bad input if it breaks a rule); the live plan is
        `previous`, so existing ENIs keep their addresses and tables."""
        topo = _validated(raw, lambda: edit.dump(raw), f"lab {self.lab!r} after {action}")
        return topo, build_plan(topo, self.lab, previous=self.view.plan)

    def save(self, raw: dict, topo: Topology, plan) -> None:
        """Topology and plan together (lab.state), the nodes' PIDs beside them; the view follows."""
        saved = plan.to_dict()
        self.state.save(saved, edit.dump(raw))
        self.live.save()
        self.raw = raw
        self.view = shapes.LabView(self.lab, topo, saved, self.record)

    def publish(self, change: Change, events: list[dict]) -> None:
        self.record.save()
        change.events = EventLog(self.state).append(events)
        change.view, change.state = self.view, self.state
        change.timings = dict(self.timings)

    def event(self, ep: Endpoint, name: str, state: str, actor: Account, vpce_id: str | None = None) -> dict:
        return shapes.event(self.view, ep, name, state, actor.arn, self.now, vpce_id)

    def describe(self, ep: Endpoint) -> dict:
        return shapes.endpoint(self.view, ep)


def _deliver(change: Change, lab: str, progress: Progress, t0: float) -> Change:
    """Hand the events to the subscribers (after the unlock), then report a failed data plane (exit 1)."""
    change.deliveries = notify.deliver(change.state or LabState(lab), change.view or read_view(lab), change.events, progress)
    change.seconds = time.perf_counter() - t0
    if change.failed:
        raise ControlPlaneError(f"{change.action}: the data plane of {', '.join(change.failed)} could not be made "
                                f"({next(iter(change.failed.values()))}); marked failed, its legs rolled back")
    return change


# -- consumer: create and delete -----------------------------------------------------------------

def create_endpoint(lab: str, account: str, vpc: str, service: str, subnets: list[str] | None = None,
                    name: str | None = None, private_dns: bool = False, progress: Progress = _quiet,
                    security_groups: list[str] | None = None) -> Change:
    """CreateVpcEndpoint (type Interface): pendingAcceptance, or available if the service auto-accepts."""
    t0 = time.perf_counter()
    change = Change("create")
    with transaction(lab, progress) as txn:
        actor, svc, the_vpc = txn.account(account), txn.service(service), txn.vpc(vpc)
        require_may_create(txn.view.topo, actor, the_vpc, svc)
        chosen = choose.subnets(txn, the_vpc, svc, subnets)
        name = choose.endpoint_name(txn, the_vpc, svc, name)
        first = workflow.initial_state(svc.acceptance_required)
        new_raw = edit.add_endpoint(txn.raw, name=name, vpc=the_vpc.name, service=svc.name, subnets=chosen,
                                    state=first, private_dns=private_dns, security_groups=security_groups)
        live = workflow.is_live(first)
        change.failed = txn.apply(new_raw, "create", {name} if live else set())
        done_at = timestamp()
        ep = txn.endpoint(name)
        # Auto-accepted: pending while the data plane is made, then available (as AWS shows it).
        txn.record.created(name, txn.view.endpoint_plan(name)["id"], txn.now, "pending" if live else first, actor.arn)
        if change.failed:
            txn.record.transition(name, "failed", done_at, actor.arn, change.failed[name])
        elif live:
            txn.record.transition(name, first, done_at, actor.arn)
        events = [txn.event(ep, "Connect", txn.state_of(ep), actor)]
        if workflow.is_live(txn.state_of(ep)):
            accept = txn.event(ep, "Accept", "available", actor)  # auto-accepted by the service
            accept["Lab"]["StateTransitions"] = [{"State": "pending", "Time": txn.now},
                                                 {"State": "available", "Time": done_at}]
            events.append(accept)
        change.endpoints = [txn.describe(ep)]
        txn.publish(change, events)
    return _deliver(change, lab, progress, t0)


def delete_endpoints(lab: str, account: str, refs: list[str], progress: Progress = _quiet) -> Change:
    """DeleteVpcEndpoints: deleting -> deleted; the data plane goes first (no listener, then no leg)."""
    t0 = time.perf_counter()
    change = Change("delete")
    with transaction(lab, progress) as txn:
        actor = txn.account(account)
        eps = choose.endpoints(txn, refs)
        for ep in eps:
            planned = txn.view.endpoint_plan(ep.name)
            require_endpoint_owner(txn.view.topo, actor, txn.view.vpc(ep.vpc), planned["id"])
            workflow.check("delete", planned["state"], planned["id"])
        before = {ep.name: txn.describe(ep) for ep in eps}
        events = [txn.event(ep, "Delete", "deleted", actor, before[ep.name]["VpcEndpointId"]) for ep in eps]
        txn.apply(edit.remove_endpoints(txn.raw, {ep.name for ep in eps}), "delete", set())
        for ep in eps:
            txn.record.deleted(ep.name, before[ep.name], txn.now, actor.arn)
            txn.record.keep_subscribers(ep.name, [s.model_dump(by_alias=True) for s in ep.notifications])
            change.endpoints.append({**before[ep.name], "State": "deleted", "NetworkInterfaceIds": []})
        txn.publish(change, events)
    return _deliver(change, lab, progress, t0)


# -- provider: accept, reject, allow, revoke ------------------------------------------------------

def accept_connections(lab: str, account: str, refs: list[str], progress: Progress = _quiet) -> Change:
    """AcceptVpcEndpointConnections: pendingAcceptance -> pending -> available (or failed)."""
    return _decide(lab, account, refs, "accept", progress)


def reject_connections(lab: str, account: str, refs: list[str], progress: Progress = _quiet) -> Change:
    """RejectVpcEndpointConnections: pendingAcceptance or available -> rejected; traffic stops at once."""
    return _decide(lab, account, refs, "reject", progress)


def _decide(lab: str, account: str, refs: list[str], action: str, progress: Progress) -> Change:
    t0 = time.perf_counter()
    change = Change(action)
    with transaction(lab, progress) as txn:
        actor = txn.account(account)
        eps = choose.endpoints(txn, refs)
        targets = {}
        for ep in eps:
            planned = txn.view.endpoint_plan(ep.name)
            require_service_owner(txn.view.topo, actor, txn.view.service_of(ep), f"{action} connections")
            targets[ep.name] = workflow.check(action, planned["state"], planned["id"])
        # AWS's sequence after acceptance: pendingAcceptance -> pending (while the data plane is made)
        # -> available, each step timestamped when it happens.
        pending_at = timestamp()
        if action == "accept":
            for ep in eps:
                txn.record.transition(ep.name, "pending", pending_at, actor.arn)
        change.failed = txn.apply(edit.set_states(txn.raw, targets), action,
                                  {n for n, s in targets.items() if workflow.is_live(s)})
        done_at = timestamp() if action == "accept" else txn.now
        events = []
        for ep in eps:
            state = txn.state_of(ep)
            txn.record.transition(ep.name, state, done_at, actor.arn, change.failed.get(ep.name))
            if ep.name not in change.failed:
                event = txn.event(ep, workflow.EVENT_OF[action], state, actor)
                if action == "accept":
                    event["Lab"]["StateTransitions"] = [{"State": "pending", "Time": pending_at},
                                                        {"State": state, "Time": done_at}]
                events.append(event)
            change.endpoints.append(txn.describe(ep))
        txn.publish(change, events)
    return _deliver(change, lab, progress, t0)


def allow_principals(lab: str, account: str, service: str, principals: list[str], progress: Progress = _quiet) -> Change:
    """ModifyVpcEndpointServicePermissions --add-allowed-principals."""
    return _permissions(lab, account, service, principals, add=True, progress=progress)


def revoke_principals(lab: str, account: str, service: str, principals: list[str], progress: Progress = _quiet) -> Change:
    """ModifyVpcEndpointServicePermissions --remove-allowed-principals (existing endpoints stay, as on AWS)."""
    return _permissions(lab, account, service, principals, add=False, progress=progress)


def _permissions(lab: str, account: str, service: str, principals: list[str], add: bool, progress: Progress) -> Change:
    t0 = time.perf_counter()
    change = Change("allow" if add else "revoke")
    with transaction(lab, progress) as txn:
        actor, svc = txn.account(account), txn.service(service)
        require_service_owner(txn.view.topo, actor, svc, "change who may connect")
        wanted = [normalize_principal(txn.view.topo, p) for p in principals]
        current = list(svc.allowed_principals)
        if add:
            current += [p for p in dict.fromkeys(wanted) if p not in current]
        else:
            missing = [p for p in wanted if p not in current]
            if missing:
                raise LabInputError("--principal", f"{missing[0]} is not an allowed principal of {svc.name!r}",
                                    f"revoke one of: {', '.join(current) or '(none are allowed)'}")
            current = [p for p in current if p not in wanted]
        txn.apply(edit.set_principals(txn.raw, svc.name, current), change.action, set())
        change.principals = shapes.permissions(txn.view, txn.service(svc.name))
    change.seconds = time.perf_counter() - t0
    return change


# -- provider: service and NLB attributes ----------------------------------------------------------

def set_acceptance(lab: str, account: str, service: str, required: bool, progress: Progress = _quiet) -> Change:
    """ModifyVpcEndpointServiceConfiguration --[no-]acceptance-required: applies to endpoints created
    from now on (existing connections keep their state, as on AWS)."""
    t0 = time.perf_counter()
    change = Change("acceptance")
    with transaction(lab, progress) as txn:
        actor, svc = txn.account(account), txn.service(service)
        require_service_owner(txn.view.topo, actor, svc, "change its configuration")
        # An endpoint whose stored state is unset takes it from the service's acceptance_required:
        # pin the state it has now, or flipping the flag would move (and cut) existing connections.
        pinned = {ep.name: txn.state_of(ep) for ep in txn.view.topo.endpoints if ep.service == svc.name and ep.state is None}
        raw = edit.set_states(txn.raw, pinned) if pinned else txn.raw
        txn.apply(edit.set_service_key(raw, svc.name, "acceptance_required", required), change.action, set())
    change.seconds = time.perf_counter() - t0
    return change


def set_cross_zone(lab: str, account: str, service: str, enabled: bool, progress: Progress = _quiet) -> Change:
    """ModifyLoadBalancerAttributes load_balancing.cross_zone.enabled on the service's NLB: live, by a
    seamless reload of its nodes (each node's backend then lists every AZ's targets, or only its own)."""
    t0 = time.perf_counter()
    change = Change("cross-zone")
    with transaction(lab, progress) as txn:
        actor, svc = txn.account(account), txn.service(service)
        require_service_owner(txn.view.topo, actor, svc, "change its load balancer")
        txn.apply(edit.set_cross_zone(txn.raw, svc.nlb, enabled), change.action, set())
    change.seconds = time.perf_counter() - t0
    return change
