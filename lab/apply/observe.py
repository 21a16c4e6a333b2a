"""What a live lab looks like right now: the plan from its state file, checked against the system.

`lab status` prints this; `lab graph` draws it and `lab usage` counts from the same HAProxy stats,
so the three never disagree about a lab.
"""

from __future__ import annotations

from lab.apply import netns


def collect(lab: str) -> dict:
    from lab.state.store import LabState

    plan = LabState(lab).load_plan()
    inv = plan["inventory"]
    for item in inv.get("vpcs", []) + inv.get("instances", []):
        item["Live"] = netns.exists(item["Netns"])
    pids, targets = live_nodes(plan)
    for node in inv.get("nlb_nodes", []):
        node["Running"] = pids[node["Container"]] is not None
        node["Pid"] = pids[node["Container"]]
    return {"lab": lab, "region": plan["region"], **inv, "endpoints": plan["endpoints"], "target_health": targets}


def live_nodes(plan: dict) -> tuple[dict[str, int | None], list[dict]]:
    """Each NLB node container's PID (None: not running) and HAProxy's health of each of its targets."""
    runtime = runtime_or_none()
    pids: dict[str, int | None] = {}
    targets: list[dict] = []
    for node in plan["inventory"].get("nlb_nodes", []):
        pid = runtime.pid(node["Container"]) if runtime else None
        pids[node["Container"]] = pid
        if pid:
            targets += [{"Node": node["Container"], "TargetGroup": row["pxname"].removeprefix("tg-"),
                         "Target": row["svname"], "Health": row.get("status", "?"),
                         "Connections": int(row.get("stot") or 0)} for row in _states(pid)]
    return pids, targets


def runtime_or_none():
    from lab.apply.runtime.base import RuntimeUnavailable
    from lab.apply.runtime.docker import DockerRuntime

    runtime = DockerRuntime()
    try:
        runtime.check()
    except RuntimeUnavailable:
        return None
    return runtime


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
    from lab.state.store import LabState

    plan = LabState(lab).load_plan()
    runtime = runtime_or_none()
    out: list[dict] = []
    for node in plan["inventory"].get("nlb_nodes", []):
        pid = runtime.pid(node["Container"]) if runtime else None
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
