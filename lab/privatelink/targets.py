"""Targets that come and go: RegisterTargets, DeregisterTargets and DescribeTargetHealth on a live lab.

Registration is a control-plane transaction like `lab endpoint accept` (lab.privatelink.control):
under the lab lock the stored topology's target group is edited, validated, re-planned and
reconciled (each NLB node's HAProxy reloads seamlessly with the new server list), then saved.

Deregistration applies the target group's deregistration delay (AWS's
`deregistration_delay.timeout_seconds`, default 300 s): the target moves from `targets` to
`draining` with the time its delay ends. While it drains its server stays in the nodes' configs in
maintenance (`disabled`): HAProxy sends it no new connection, and the connections it has go on
(they live in the worker that accepted them; a seamless reload leaves them there). Once the delay has
passed the target is no longer registered (DescribeTargetHealth leaves it out, or calls it `unused`
/ Target.NotRegistered when asked by name); the next target command, or `deregister --wait`,
removes its draining entry and server line. As on AWS with connection termination off (the
default), an open connection is not cut when the delay ends.

Health is AWS's TargetHealth, read from the nodes' HAProxy stats: initial (no check done yet),
healthy, unhealthy (failed checks), draining, unused (not registered, or in an AZ without a node).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

from lab.apply.context import Progress
from lab.plan.ids import digest
from lab.privatelink.control import transaction
from lab.privatelink.principals import Account, require_owner
from lab.privatelink.records import timestamp
from lab.state.store import LabState
from lab.topology.errors import LabInputError

TARGET_ARG = "TARGET"
GROUP_FLAG = "--target-group"
MAX_WAIT_S = 3600.0 + 30.0  # the longest delay AWS allows, and a margin for the final reload


def _quiet(_msg: str) -> None:
    pass


@dataclass
class TargetChange:
    """What `lab target register|deregister` did: the group, the targets' health after, how long."""

    action: str
    target_group_arn: str = ""
    descriptions: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    reconcile_seconds: dict[str, float] = field(default_factory=dict)


def target_group_arn(lab: str, region: str, account_id: str, name: str) -> str:
    return f"arn:aws:elasticloadbalancing:{region}:{account_id}:targetgroup/{name}/{digest('tg', lab, name)[:16]}"


# -- finding things in the stored topology (plain YAML data) ------------------------------------

def _groups(raw: dict) -> list[tuple[dict, dict]]:
    return [(nlb, tg) for nlb in raw.get("nlbs") or [] for tg in nlb.get("target_groups") or []]


def _find_group(raw: dict, plan: dict, lab: str, ref: str) -> tuple[dict, dict]:
    region = plan.get("region", "")
    for nlb, tg in _groups(raw):
        account_id = _owner_id(raw, nlb)
        if ref in (tg["name"], target_group_arn(lab, region, account_id, tg["name"])):
            return nlb, tg
    known = ", ".join(tg["name"] for _, tg in _groups(raw)) or "none"
    raise LabInputError(GROUP_FLAG, f"no target group {ref!r} in lab {lab!r}", f"use one of: {known}")


def _owner_id(raw: dict, nlb: dict) -> str:
    vpc = next(v for v in raw.get("vpcs") or [] if v["name"] == nlb["vpc"])
    return str(raw["accounts"][vpc["account"]])


def _instances(plan: dict, vpc: str) -> list[dict]:
    vpc_id = next((v["VpcId"] for v in plan["inventory"].get("vpcs", []) if v["Name"] == vpc), None)
    return [i for i in plan["inventory"].get("instances", []) if i.get("VpcId") == vpc_id]


def _resolve_target(plan: dict, nlb: dict, ref: str) -> str:
    """An instance of the NLB's VPC by name, instance ID or private IP -> its name."""
    found = _instances(plan, nlb["vpc"])
    for inst in found:
        if ref in (inst["Name"], inst["InstanceId"], inst.get("PrivateIpAddress")):
            return inst["Name"]
    raise LabInputError(TARGET_ARG, f"no instance {ref!r} in VPC {nlb['vpc']!r} of load balancer {nlb['name']!r}",
                        f"use one of: {', '.join(sorted(i['Name'] for i in found)) or '(none)'}")


def _drop_expired(tg: dict, now: float) -> list[str]:
    """Remove draining entries whose delay has passed; the names removed."""
    kept, gone = [], []
    for d in tg.get("draining") or []:
        (kept if float(d["until"]) > now else gone).append(d)
    if gone:
        tg["draining"] = kept
    return [d["target"] for d in gone]


def _check_port(tg: dict, port: int | None) -> None:
    if port is not None and port != int(tg["port"]):
        raise LabInputError("--port", f"port {port} is not target group {tg['name']!r}'s port {tg['port']}",
                            f"omit --port or use {tg['port']} (the lab's targets listen on their group's port)")


def _actor(raw: dict, nlb: dict, txn, account: str | None) -> None:
    if account is None:
        return
    actor = txn.account(account)
    vpc = next(v for v in raw.get("vpcs") or [] if v["name"] == nlb["vpc"])
    require_owner(actor, Account(vpc["account"], str(raw["accounts"][vpc["account"]])),
                  f"change the targets of load balancer {nlb['name']!r}")


# -- the commands ---------------------------------------------------------------------------------

def register(lab: str, group: str, refs: list[str], port: int | None = None, account: str | None = None,
             progress: Progress = _quiet) -> TargetChange:
    """RegisterTargets: each target joins the group (a draining one is registered again at once)."""
    return _change(lab, group, refs, port, account, progress, "register")


def deregister(lab: str, group: str, refs: list[str], port: int | None = None, account: str | None = None,
               progress: Progress = _quiet) -> TargetChange:
    """DeregisterTargets: each target drains for the group's deregistration delay, then is gone."""
    return _change(lab, group, refs, port, account, progress, "deregister")


def _change(lab: str, group: str, refs: list[str], port: int | None, account: str | None, progress: Progress,
            action: str) -> TargetChange:
    t0 = time.perf_counter()
    change = TargetChange(action)
    if not refs:
        raise LabInputError(TARGET_ARG, f"lab target {action}: names no target", "give one or more instances")
    with transaction(lab, progress) as txn:
        raw = copy.deepcopy(txn.raw)
        nlb, tg = _find_group(raw, txn.view.plan, lab, group)
        _actor(raw, nlb, txn, account)
        _check_port(tg, port)
        now = time.time()
        _drop_expired(tg, now)
        names = list(dict.fromkeys(_resolve_target(txn.view.plan, nlb, ref) for ref in refs))
        targets, draining = list(tg.get("targets") or []), list(tg.get("draining") or [])
        delay = int(tg.get("deregistration_delay", 300))
        for name in names:
            if action == "register":
                if name in targets:
                    raise LabInputError(TARGET_ARG, f"{name} is already registered in target group {tg['name']!r}",
                                        f"`lab target health --target-group {tg['name']}` shows its state")
                draining = [d for d in draining if d["target"] != name]
                targets.append(name)
                continue
            if name not in targets:
                busy = next((d for d in draining if d["target"] == name), None)
                if busy:
                    raise LabInputError(TARGET_ARG, f"{name} is already deregistering from target group "
                                        f"{tg['name']!r} (draining until {timestamp(float(busy['until']))})",
                                        "wait for its deregistration delay to end, or register it again")
                raise LabInputError(TARGET_ARG, f"{name} is not registered in target group {tg['name']!r}",
                                    f"deregister one of: {', '.join(targets) or '(none are registered)'}")
            targets.remove(name)
            if delay:
                draining.append({"target": name, "until": round(now + delay, 3)})
        tg["targets"] = targets
        if draining or "draining" in tg:
            tg["draining"] = draining
        txn.apply(raw, f"{action} targets", set())
        change.reconcile_seconds = dict(txn.timings)
        change.target_group_arn = target_group_arn(lab, txn.view.plan.get("region", ""), _owner_id(raw, nlb),
                                                   tg["name"])
        change.descriptions = describe_health(lab, tg["name"], names, plan=txn.view.plan, raw=txn.raw,
                                              assume=action)
    change.seconds = time.perf_counter() - t0
    return change


def set_deregistration_delay(lab: str, group: str, seconds: int, account: str | None = None,
                             progress: Progress = _quiet) -> dict:
    """ModifyTargetGroupAttributes deregistration_delay.timeout_seconds: for deregistrations from now
    on (a target already draining keeps the end it was given, as on AWS). -> the group's attributes."""
    if not 0 <= seconds <= 3600:
        raise LabInputError("--deregistration-delay", f"{seconds} s is out of range", "use 0-3600 seconds (AWS's range)")
    with transaction(lab, progress) as txn:
        raw = copy.deepcopy(txn.raw)
        nlb, tg = _find_group(raw, txn.view.plan, lab, group)
        _actor(raw, nlb, txn, account)
        tg["deregistration_delay"] = seconds
        topo, plan = txn.validate(raw, "set deregistration delay")  # the delay is not in the data plane:
        txn.save(raw, topo, plan)  # nothing live changes, so there is nothing to reconcile
        arn = target_group_arn(lab, txn.view.plan.get("region", ""), _owner_id(raw, nlb), tg["name"])
    return {"TargetGroupArn": arn, "Attributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": str(seconds)}]}


def finish_draining(lab: str, group: str | None = None, progress: Progress = _quiet) -> list[str]:
    """Remove the draining entries (and server lines) whose delay has passed; the targets removed."""
    with transaction(lab, progress) as txn:
        raw = copy.deepcopy(txn.raw)
        now = time.time()
        done = []
        for _, tg in _groups(raw):
            if group in (None, tg["name"]):
                done += _drop_expired(tg, now)
        if done:
            txn.apply(raw, "finish draining", set())
    return done


def wait_drained(lab: str, group: str, names: list[str], progress: Progress = _quiet) -> list[str]:
    """Wait (bounded by the longest delay AWS allows) until `names` have drained, then remove them."""
    state = LabState(lab)
    from lab.privatelink.edit import load

    raw = load(state.topology_file.read_text())
    _, tg = _find_group(raw, state.load_plan(), lab, group)
    until = max((float(d["until"]) for d in tg.get("draining") or [] if d["target"] in names), default=0.0)
    deadline = time.monotonic() + min(MAX_WAIT_S, max(0.0, until - time.time()))
    while (left := deadline - time.monotonic()) > 0:
        progress(f"draining {', '.join(names)}: {left:.0f} s left of the deregistration delay")
        time.sleep(min(left, 5.0))
    return finish_draining(lab, group, progress)


# -- DescribeTargetHealth -------------------------------------------------------------------------

REASONS = {
    "initial": ("Elb.RegistrationInProgress", "Target registration is in progress"),
    "unhealthy": ("Target.FailedHealthChecks", "Health checks failed"),
    "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
    "unused-az": ("Target.NotInUse", "Target is in an Availability Zone that is not enabled for the load balancer"),
    "unused": ("Target.NotRegistered", "Target is not registered to the target group"),
}


def describe_health(lab: str, group: str | None = None, names: list[str] | None = None, *, plan: dict | None = None,
                    raw: dict | None = None, rows: list[dict] | None = None, assume: str | None = None) -> list[dict]:
    """TargetHealthDescriptions of a group (every group when None), each with a lab-only `Lab` object
    (the group, the instance's name, what each node's HAProxy says). `names` asks for those targets,
    registered or not. `assume` (register | deregister) is the state a command just set, reported
    before any node has checked: register -> initial, deregister -> draining (or unused: no delay)."""
    from lab.apply.observe import haproxy_rows
    from lab.privatelink.edit import load

    state = LabState(lab)
    plan = plan if plan is not None else state.load_plan()
    raw = raw if raw is not None else load(state.topology_file.read_text())
    if rows is None:
        rows = [] if assume else haproxy_rows(lab)
    now = time.time()
    groups = [_find_group(raw, plan, lab, group)] if group else _groups(raw)
    out = []
    for nlb, tg in groups:
        insts = {i["Name"]: i for i in _instances(plan, nlb["vpc"])}
        draining = {d["target"]: float(d["until"]) for d in tg.get("draining") or [] if float(d["until"]) > now}
        wanted = [_resolve_target(plan, nlb, n) for n in names] if names is not None \
            else [*(tg.get("targets") or []), *draining]
        node_azs = {n["AvailabilityZone"] for n in plan["inventory"].get("nlb_nodes", []) if n["LoadBalancer"] == nlb["name"]}
        for name in wanted:
            inst = insts[name]
            seen = _node_rows(rows, tg, name)
            if name in draining:
                key = "draining"
            elif name not in (tg.get("targets") or []):
                key = "unused"
            elif inst["AvailabilityZone"] not in node_azs:
                key = "unused-az"
            elif assume == "register":
                key = "initial"
            else:
                key = _health_of(seen)
            state_name = "unused" if key.startswith("unused") else key
            health = {"State": state_name}
            if key in REASONS:
                health["Reason"], health["Description"] = REASONS[key]
                if key == "unhealthy":
                    codes = sorted({r["Code"] for r in seen if r.get("Code")})
                    if codes:
                        health["Description"] = f"Health checks failed with these codes: [{', '.join(codes)}]"
            lab_only = {"TargetGroup": tg["name"], "Instance": name, "Nodes": seen}
            if name in draining:
                lab_only["DrainingUntil"] = timestamp(draining[name])
            out.append({"Target": {"Id": inst["InstanceId"], "Port": int(tg["port"]),
                                   "AvailabilityZone": inst["AvailabilityZone"]},
                        "HealthCheckPort": str(tg["port"]), "TargetHealth": health, "Lab": lab_only})
    return out


def _node_rows(rows: list[dict], tg: dict, name: str) -> list[dict]:
    """What each node's HAProxy says of one target: the traffic server's status and its check's."""
    from lab.apply.haproxy import CHECK_PREFIX

    backend = f"tg-{tg['name']}"
    checks = f"{CHECK_PREFIX}{backend}" if tg.get("proxy_protocol_v2") else backend
    by_node: dict[str, dict] = {}
    for row in rows:
        if row.get("svname") != name or row.get("pxname") not in (backend, checks):
            continue
        seen = by_node.setdefault(row["Node"], {"Node": row["Node"]})
        if row["pxname"] == backend:
            seen["Status"] = row.get("status", "")
        if row["pxname"] == checks:
            seen["CheckStatus"] = row.get("check_status", "")
            seen["CheckStatusOf"] = row.get("status", "")
            if row.get("check_code"):
                seen["Code"] = row["check_code"]
    return list(by_node.values())


def _health_of(seen: list[dict]) -> str:
    """healthy when a node's checks pass, initial while none has finished a check, else unhealthy."""
    if any(s.get("CheckStatusOf", s.get("Status", "")).startswith("UP") and s.get("CheckStatus", "").lstrip("*")
           not in ("", "INI") for s in seen):
        return "healthy"
    if not seen or all(s.get("CheckStatus", "").lstrip("*") in ("", "INI") for s in seen):
        return "initial"
    return "unhealthy"
