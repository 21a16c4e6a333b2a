"""The lab's front door: every use case (up, down, status, exec, verify, the control-plane
actions) as a Python call. The CLI, the EC2 API server and the live view call only this module
(plus pure libraries such as `lab.ppv2` and the topology's error types); it sits above
`lab.apply`, `lab.privatelink`, `lab.verify` and `lab.state`, and nothing below imports it.
"""

from __future__ import annotations

from lab.apply.api import UpResult, down, load_plan, runtime, up

__all__ = ["UpResult", "down", "load_plan", "runtime", "up"]


# -- link impairments (`lab link`) -------------------------------------------------------------------------------

def link_set(lab: str, link: str, *, rate: str | None = None, delay: str | None = None, jitter: str | None = None,
             loss: str | None = None) -> dict:
    from lab.apply.linkctl import set_link

    return set_link(lab, link, rate=rate, delay=delay, jitter=jitter, loss=loss)


def link_clear(lab: str, link: str | None = None) -> list[str]:
    from lab.apply.linkctl import clear_links

    return clear_links(lab, link)


def link_show(lab: str, link: str | None = None) -> list[dict]:
    from lab.apply.linkctl import show_links

    return show_links(lab, link)
# --- lab graph and lab usage (issue 16: see the lab, and what it would cost on AWS) ------------
# The graph and the bill are pure (lab.graph, lab.usage); these calls gather what they need from
# a live lab: `lab status`'s view (lab.apply.observe), the last `lab verify` report, the control
# plane's record and the NLB nodes' per-frontend counters.

def graph(name: str = "default", topology: str | None = None, flows: bool = False):
    """The lab as a `lab.graph.Graph`: a topology file's planned state when `topology` is given,
    else the live lab `name` (endpoint states, target health, missing parts), with the flows of its
    last `lab verify` overlaid when `flows`."""
    from lab.graph import build_graph
    from lab.topology.errors import LabInputError

    if topology is not None:
        if flows:
            raise LabInputError("--flows", "needs a live lab (flows come from its last `lab verify`)",
                                "drop -t FILE and give --name LAB of a lab that is up")
        from lab.plan.build import build_plan
        from lab.topology.load import load_topology, resolve_topology_path

        return build_graph(build_plan(load_topology(resolve_topology_path(topology)), name).to_dict())
    return build_graph(load_plan(name), _observed(name, flows))


def _observed(name: str, flows: bool, status: dict | None = None):
    from lab.apply.observe import collect
    from lab.graph import Observed

    status = collect(name) if status is None else status
    missing = {v["Name"] for v in status.get("vpcs", []) if not v.get("Live")}
    missing |= {i["Name"] for i in status.get("instances", []) if not i.get("Live")}
    missing |= {n["Container"] for n in status.get("nlb_nodes", []) if not n.get("Running")}
    obs = Observed(endpoint_states={ep["id"]: ep["state"] for ep in status["endpoints"]},
                   target_health=status["target_health"], missing=missing)
    if flows:
        _verify_overlay(name, obs)
    return obs


def _verify_overlay(name: str, obs) -> None:
    """The last `lab verify` report's flows, with verify's link names turned into plan veth keys."""
    from lab.graph import VerifiedFlow
    from lab.state.store import LabState
    from lab.topology.errors import LabInputError
    from lab.verify import last
    from lab.plan.links import links_from_plan

    state = LabState(name)
    report = last.load(state)
    if report is None:
        raise LabInputError("--flows", f"lab {name!r} has no saved `lab verify` report",
                            f"run `sudo lab verify --name {name}` first")
    plan = state.load_plan()
    keys = {ln.name: ln.key for ln in links_from_plan(plan)}
    routers = {ns["name"]: ns["vpc"] for ns in plan["namespaces"] if ns["role"] == "vpc-router"}
    for link_name, info in report.get("links", {}).items():
        if link_name not in keys:  # unplanned: found on the live system by verify
            keys[link_name] = f"unplanned:{info['place']}:{info['ifname']}"
            obs.unplanned_vpcs[keys[link_name]] = routers.get(info["place"])
    failed: dict[str, list[dict]] = {}
    for c in report.get("checks", []):
        if c["status"].lower() == "fail":
            failed.setdefault(c["subject"].split(" (", 1)[0], []).append(c)

    sides = {n: info.get("side") for n, info in report.get("links", {}).items()}

    def leaked_through(names: list[str]) -> list[str]:
        """The link a leak left by: verify blames the links between VPCs first, and the targets it
        reached after them; only the former is where it leaked (all of them if none is between)."""
        known = [n for n in names if n in keys]
        between = [n for n in known if sides.get(n) in ("between", "other")]
        return [keys[n] for n in (between or known[:1])]

    def flow(fname: str, links: list[str], kind: str) -> VerifiedFlow:
        bad = failed.get(fname, [])
        leak = leaked_through([n for c in bad if c.get("leak") for n in c["links"]])
        return VerifiedFlow(fname, [(n, keys[n]) for n in links if n in keys], not bad, kind, leak)

    flows = [flow(f["name"], f.get("links", []), "flow") for f in report.get("flows", [])]
    flows += [flow(f["name"], f.get("links", []), "flow") for f in report.get("name_flows", []) if f.get("links")]
    flows += [flow(p["name"], p["extra_links"], "probe") for p in report.get("probes", []) if p.get("extra_links")]
    obs.flows = flows
    obs.leaking_links = leaked_through(report.get("leaking_links", []))
    obs.verify_verdict = report.get("verdict")


def render_graph(graph_, fmt: str) -> bytes:
    """A Graph as svg | png | dot | mermaid | json bytes (svg and png are laid out by Graphviz's `dot`)."""
    from lab.graph import GraphvizMissing, render
    from lab.topology.errors import LabInputError

    try:
        return render(graph_, fmt)
    except GraphvizMissing:
        raise LabInputError("--format", f"{fmt} needs Graphviz's `dot`, which is not installed",
                            "install the graphviz package (`sudo ./setup.sh install`), or use --format dot|mermaid|json"
                            ) from None


def usage(name: str = "default", prices: str | None = None, now: float | None = None) -> dict:
    """What lab `name` would have cost on AWS so far (endpoint-hours per ENI, GB processed) and a
    projected month at the observed rate, priced from `prices` (default: lab/usage/prices.yaml)."""
    import time

    from lab.apply.observe import frontend_counters
    from lab.privatelink.records import Record
    from lab.state.store import LabState
    from lab.usage.meter import usage_report
    from lab.usage.pricing import load_prices

    book = load_prices(prices)
    state = LabState(name)
    plan = state.load_plan()
    return usage_report(plan, Record(state).data, frontend_counters(name), book, time.time() if now is None else now)


# --- lab metrics (issue 16 section 3: CloudWatch's names, from the same counters) --------------

METRICS_MAX_RECORD_S = 3600


def metrics_sample(name: str = "default"):
    """Read every series now (HAProxy stats of every NLB node, the ENIs' drop counters), keep the
    sample in the lab's metrics.sqlite, and return (time, {Series: value})."""
    import time

    from lab.apply.firewall import FirewallError
    from lab.apply.firewall import read as guard_counters
    from lab.apply.observe import haproxy_rows
    from lab.metrics.cloudwatch import sample
    from lab.metrics.store import FILENAME, MetricStore
    from lab.state.store import LabState

    state = LabState(name)
    plan = state.load_plan()
    try:
        drops = guard_counters(name) if plan.get("eni_guards") else []
    except FirewallError:
        drops = []
    now = time.time()
    values = sample(plan, haproxy_rows(name), drops)
    store = MetricStore(state.dir / FILENAME)
    try:
        store.add(now, values)
    finally:
        store.close()
    return now, values


def metrics(name: str = "default", endpoint: str | None = None, service: str | None = None, since_s: float = 300.0,
            record_s: float = 0.0, interval_s: float = 10.0, progress=None, sample_now: bool = True) -> dict:
    """Statistics of every series over the last `since_s` seconds, after taking a sample now (and,
    with `record_s`, one every `interval_s` seconds for that long, bounded by METRICS_MAX_RECORD_S).
    `sample_now=False` only reads what is kept (`lab ui` samples on its own clock)."""
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
    if sample_now:
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


# --- lab ui (issue 16 section 2: the lab live in a browser) ----------------------------------------
# One call per tick of the web view: the lab as `lab status` sees it (one observation, shared by the
# graph and the tables), the links' kernel counters and the connection events. Read-only.

def live_view(name: str = "default") -> dict:
    """The lab now: {"Graph": lab.graph.Graph, "Endpoints": [...], "TargetHealth": [...],
    "LinkCounters": {veth key: counters}, "Links": {veth key: link name}} (AWS names where AWS has them)."""
    from lab.apply.linkstats import link_counters
    from lab.apply.observe import collect
    from lab.graph import build_graph
    from lab.plan.links import links_from_plan

    status = collect(name)
    plan = load_plan(name)
    vpc_ids = {v["Name"]: v["VpcId"] for v in plan["inventory"].get("vpcs", [])}
    services = {s["Name"]: s for s in plan["inventory"].get("services", [])}
    endpoints = [{"VpcEndpointId": ep["id"], "State": ep["state"], "VpcId": vpc_ids.get(ep["vpc"], ep["vpc"]),
                  "ServiceName": services.get(ep["service"], {}).get("ServiceName", ep["service"]),
                  "NetworkInterfaces": [{"NetworkInterfaceId": e["id"], "PrivateIpAddress": e["ip"],
                                         "AvailabilityZone": e["az"], "SubnetId": e["subnet_id"]} for e in ep["enis"]],
                  "Lab": {"Name": ep["name"], "Vpc": ep["vpc"], "Service": ep["service"]}}
                 for ep in status["endpoints"]]
    return {"Lab": name, "Graph": build_graph(plan, _observed(name, False, status)), "Endpoints": endpoints,
            "TargetHealth": status["target_health"], "LinkCounters": link_counters(plan),
            "Links": {ln.key: ln.name for ln in links_from_plan(plan)}}


def link_rates(before: dict, after: dict, seconds: float) -> dict:
    """Packets and bytes per second per link between two `live_view()["LinkCounters"]`."""
    from lab.apply.linkstats import rates

    return rates(before, after, seconds)


def connection_events(name: str = "default") -> list[dict]:
    """The lab's connection events (Connect, Accept, Reject, Delete), oldest first."""
    from lab.privatelink.records import EventLog
    from lab.state.store import LabState

    return EventLog(LabState(name)).read()

