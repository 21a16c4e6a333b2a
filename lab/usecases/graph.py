"""`lab graph`: the lab as a Graph, from a topology file's plan or from a live lab, with what is
observed (lab.apply.observe) and the flows of the last `lab verify` (lab.verify.last) overlaid.
lab.graph draws; this gathers, because it reads from several services below the front door."""

from __future__ import annotations

# Imported when a call runs: lab.api re-exports this module, and `lab status` must not pay for it.


def graph(name: str = "default", topology: str | None = None, flows: bool = False):
    """The lab as a `lab.graph.Graph`: a topology file's planned state when `topology` is given,
    else the live lab `name` (endpoint states, target health, missing parts), with the flows of its
    last `lab verify` overlaid when `flows`."""
    from lab.graph import build_graph
    from lab.state.store import LabState
    from lab.topology.errors import LabInputError

    if topology is not None:
        if flows:
            raise LabInputError("--flows", "needs a live lab (flows come from its last `lab verify`)",
                                "drop -t FILE and give --name LAB of a lab that is up")
        from lab.plan.build import build_plan
        from lab.topology.load import load_topology, resolve_topology_path

        return build_graph(build_plan(load_topology(resolve_topology_path(topology)), name).to_dict())
    return build_graph(LabState(name).load_plan(), _observed(name, flows))


def _observed(name: str, flows: bool, status: dict | None = None):
    from lab.apply.observe import collect
    from lab.graph import Observed

    status = collect(name) if status is None else status  # `lab ui` shares one observation per tick
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
    from lab.plan.links import links_from_plan
    from lab.state.store import LabState
    from lab.topology.errors import LabInputError
    from lab.verify import last

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
