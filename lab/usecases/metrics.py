"""`lab metrics`: CloudWatch's series for a live lab, sampled from the NLB nodes' HAProxy stats
(lab.apply.observe) and the ENIs' drop counters (lab.apply.firewall), kept in lab.metrics' store."""

from __future__ import annotations


METRICS_MAX_RECORD_S = 3600


def metrics_sample(name: str = "default"):
    """Read every series now (HAProxy stats of every NLB node, the ENIs' drop counters), keep the
    sample in the lab's metrics.sqlite, and return (time, {Series: value})."""
    import time

    from lab.apply.firewall import FirewallError
    from lab.apply.firewall import read as guard_counters
    from lab.apply.observe import haproxy_rows
    from lab.apply.rstcount import read_lab as read_resets
    from lab.metrics.cloudwatch import sample
    from lab.metrics.store import FILENAME, MetricStore
    from lab.state.store import LabState

    state = LabState(name)
    plan = state.load_plan()
    try:
        drops = guard_counters(name) if plan.get("eni_guards") else []
    except FirewallError:
        drops = []
    try:
        resets = read_resets(name) if plan.get("eni_guards") else {}
    except FirewallError:
        resets = None  # a node reloading: this sample has no reset counts, the next one will
    now = time.time()
    values = sample(plan, haproxy_rows(name), drops, resets)
    store = MetricStore(state.dir / FILENAME)
    try:
        store.add(now, values)
    finally:
        store.close()
    return now, values


def metrics(name: str = "default", endpoint: str | None = None, service: str | None = None, since_s: float = 300.0,
            record_s: float = 0.0, interval_s: float = 10.0, progress=None, sample_now: bool = True) -> dict:
    """Statistics of every series over the last `since_s` seconds, after taking a sample now (and,
    with `record_s`, one every `interval_s` seconds for that long, bounded by METRICS_MAX_RECORD_S)."""
    import time

    from lab.metrics.store import FILENAME, MetricStore, not_measured, statistics
    from lab.privatelink.records import timestamp
    from lab.state.store import LabState
    from lab.topology.errors import LabInputError

    state = LabState(name)
    plan = state.load_plan()
    vpce = _pick(endpoint, "--endpoint", {(e["id"], e["name"]): e["id"] for e in plan["endpoints"]}, name)
    services = plan["inventory"].get("services", [])
    svc = _pick(service, "--service", {(s["ServiceId"], s["Name"], s["ServiceName"]): s for s in services}, name)
    if not 0 <= record_s <= METRICS_MAX_RECORD_S:
        raise LabInputError("--record", f"{record_s:g} s is out of range", f"give 0 to {METRICS_MAX_RECORD_S} seconds")
    t_end = time.monotonic() + record_s
    if sample_now:  # `lab ui` samples on its own clock and only reads here
        metrics_sample(name)
    while time.monotonic() + interval_s <= t_end + 1e-6:
        time.sleep(interval_s)
        metrics_sample(name)
        if progress:
            progress(f"sampled lab {name!r} ({max(0.0, t_end - time.monotonic()):.0f} s to go)")
    now = time.time()
    since = now - since_s
    store = MetricStore(state.dir / FILENAME)
    try:
        points = store.points(since)
    finally:
        store.close()
    rows = []
    for s in sorted(points, key=lambda s: (s.namespace, s.metric, s.dimensions)):
        dims = dict(s.dimensions)
        if vpce and dims.get("VPC Endpoint Id") != vpce:
            continue
        if svc and dims.get("Service Id", dims.get("Service Name")) not in (svc["ServiceId"], svc["ServiceName"]):
            continue
        rows.append(statistics(s, points[s], since, timestamp))
    return {"Lab": name, "StartTime": timestamp(since), "EndTime": timestamp(now), "Metrics": rows + not_measured()}


def _pick(wanted: str | None, option: str, choices: dict, lab: str):
    from lab.topology.errors import LabInputError

    if wanted is None:
        return None
    for keys, value in choices.items():
        if wanted in keys:
            return value
    known = ", ".join(k[0] for k in choices) or "none"
    raise LabInputError(option, f"no {option.lstrip('-')} {wanted!r} in lab {lab!r}", f"use one of: {known}")
