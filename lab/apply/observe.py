"""What a live lab looks like right now: the plan from its state file, checked against the system.

`lab status` shows this, `lab graph` draws it and `lab usage` and `lab metrics` count from the same
HAProxy stats, so none of them disagrees about a lab. Where the NLB nodes are is lab.apply.live's
answer (the one locator); `lab dns records` reads each VPC's resolver here too.
"""

from __future__ import annotations

from lab.apply import netns
from lab.apply.live import LiveLab
from lab.state.store import LabState
from lab.topology.errors import LabInputError


def collect(lab: str) -> dict:
    """The plan's inventory, each VPC and instance marked Live, each NLB node Running (and its PID),
    and the health of every target as each node's HAProxy sees it."""
    live = LiveLab(LabState(lab))
    plan = live.plan
    inv = plan["inventory"]
    for item in inv.get("vpcs", []) + inv.get("instances", []):
        item["Live"] = netns.exists(item["Netns"])
    pids, targets = live_nodes(live)
    for node in inv.get("nlb_nodes", []):
        node["Running"] = pids[node["Container"]] is not None
        node["Pid"] = pids[node["Container"]]
    return {"lab": lab, "region": plan["region"], **inv, "endpoints": plan["endpoints"], "target_health": targets}


def live_nodes(live: LiveLab) -> tuple[dict[str, int | None], list[dict]]:
    """Each NLB node container's PID (None: not running) and HAProxy's health of each of its targets."""
    pids: dict[str, int | None] = {}
    targets: list[dict] = []
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


def haproxy_rows(lab: str) -> list[dict]:
    """Every row of every running NLB node's HAProxy stats page, each with the lab-only key "Node"
    (the container it was read on). A node that is not running, or does not answer, gives none."""
    from lab.apply.nodes import stats_rows

    live = LiveLab(LabState(lab))
    out: list[dict] = []
    for node in live.plan["inventory"].get("nlb_nodes", []):
        pid = live.node_pid(node["Container"])
        if not pid:
            continue
        try:
            out += [{**row, "Node": node["Container"]} for row in stats_rows(pid)]
        except OSError:
            continue
    return out


def frontend_counters(lab: str) -> list[dict]:
    """Per HAProxy frontend (one per endpoint ENI and listener port) of every running NLB node:
    bytes in and out and sessions, from the same stats page `lab status` reads target health
    from. One row per (Node, Frontend): every node names an endpoint's frontend alike."""
    return [{"Node": row["Node"], "Frontend": row["pxname"], "BytesIn": int(row.get("bin") or 0),
             "BytesOut": int(row.get("bout") or 0), "Sessions": int(row.get("stot") or 0)}
            for row in haproxy_rows(lab) if row.get("svname") == "FRONTEND"]


def resolvers(lab: str, vpc: str | None = None) -> list[dict]:
    """Each VPC's resolver (or one VPC's): the names it answers, and whether it runs right now."""
    from lab.apply import dns  # here: `lab status` needs none of the resolvers' machinery

    state = LabState(lab)
    plan = state.load_plan()
    found = plan.get("resolvers", [])
    if vpc is not None:
        found = [r for r in found if r["vpc"] == vpc]
        if not found:
            raise LabInputError("--vpc", f"no VPC {vpc!r} in lab {lab!r}",
                                f"use one of: {', '.join(r['vpc'] for r in plan.get('resolvers', []))}")
    out = []
    for r in found:
        running = dns.running(state.dir, r["vpc"])
        out.append({"Vpc": r["vpc"], "Address": r["ip"], "Namespace": r["netns"], "DnsSupport": r["enabled"],
                    "ResolverPids": running["resolver"], "CnameServerPids": running["cname"],
                    "CnameServerPorts": running["cname_ports"],
                    "Records": [{"Name": x["name"], "Type": x["type"], "Values": x["values"], "Origin": x["origin"],
                                 "Endpoint": x["endpoint"]} for x in r["records"]]})
    return out
