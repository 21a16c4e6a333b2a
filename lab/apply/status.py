"""What of a lab is live right now, against its plan: the NLB nodes and their targets' health
(`lab status`, composed in lab.privatelink.status), and each VPC's resolver (`lab dns records`)."""

from __future__ import annotations

from lab.apply.live import LiveLab
from lab.state.store import LabState
from lab.topology.errors import LabInputError


def node_health(live: LiveLab) -> tuple[dict[str, int | None], list[dict]]:
    """Each NLB node's PID (None: not running), and every target's health as its node's HAProxy sees it."""
    pids, targets = {}, []
    for node in live.plan["inventory"].get("nlb_nodes", []):
        pid = pids[node["Container"]] = live.node_pid(node["Container"])
        if pid:
            targets += [{"Node": node["Container"], "TargetGroup": row["pxname"].removeprefix("tg-"),
                         "Target": row["svname"], "Health": row.get("status", "?"),
                         "Connections": int(row.get("stot") or 0)} for row in _states(pid)]
    return pids, targets


def _states(pid: int) -> list[dict]:
    from lab.apply.nodes import server_states

    try:
        return server_states(pid)
    except OSError:
        return []


def resolvers(lab: str, vpc: str | None = None) -> list[dict]:
    """Each VPC's resolver (or one VPC's): the names it answers, and whether it runs right now."""
    state = LabState(lab)
    plan = state.load_plan()
    found = plan.get("resolvers", [])
    if vpc is not None:
        found = [r for r in found if r["vpc"] == vpc]
        if not found:
            raise LabInputError("--vpc", f"no VPC {vpc!r} in lab {lab!r}",
                                f"use one of: {', '.join(r['vpc'] for r in plan.get('resolvers', []))}")
    from lab.apply import dns  # here: `lab status` needs none of the resolvers' machinery

    out = []
    for r in found:
        running = dns.running(state.dir, r["vpc"])
        out.append({"Vpc": r["vpc"], "Address": r["ip"], "Namespace": r["netns"], "DnsSupport": r["enabled"],
                    "ResolverPids": running["resolver"], "CnameServerPids": running["cname"],
                    "CnameServerPorts": running["cname_ports"],
                    "Records": [{"Name": x["name"], "Type": x["type"], "Values": x["values"], "Origin": x["origin"],
                                 "Endpoint": x["endpoint"]} for x in r["records"]]})
    return out
