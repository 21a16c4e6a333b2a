"""plan (+ what was observed) -> Graph. Pure: no system calls, no imports above lab.plan's data.

    graph = build_graph(plan_dict)                      # the planned lab (`lab graph -t FILE`)
    graph = build_graph(plan_dict, Observed(...))       # a live lab, its states and last verify

The plan is the dict form (`Plan.to_dict()`, or the `plan.json` a live lab keeps), so both cases
take the same path. Live facts come in an `Observed`, which `lab.api` fills from the same code
`lab status` uses and from the report the last `lab verify` saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.graph.model import Cluster, Edge, FlowPath, Graph, Node, health_tone, state_tone

# The order a flow crosses the kinds of link `lab verify` names (its link names start with the kind).
_PATH_RANK = {"consumer-subnet": 0, "subnet": 0, "endpoint-eni": 1, "privatelink": 2, "nlb-target": 3,
              "peering": 4, "unplanned": 4, "provider-subnet": 5}


@dataclass
class VerifiedFlow:
    """A flow or probe of a `lab verify` run, with its links as (verify's link name, plan veth key)."""

    name: str
    links: list[tuple[str, str]]
    ok: bool
    kind: str = "flow"  # flow | probe
    leak_links: list[str] = field(default_factory=list)  # veth keys it leaked through


@dataclass
class Observed:
    """What a live lab showed: endpoint states by VPC endpoint ID, target health rows as `lab status`
    reports them ({Node, Target, Health}), the parts found missing, and the last verify run."""

    endpoint_states: dict[str, str] = field(default_factory=dict)
    target_health: list[dict] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)  # instance names, NLB node containers, VPC names
    flows: list[VerifiedFlow] | None = None  # None: no overlay asked for
    leaking_links: list[str] = field(default_factory=list)  # veth keys (or "unplanned:..." keys)
    unplanned_vpcs: dict[str, str | None] = field(default_factory=dict)  # unplanned key -> VPC it was found in
    verify_verdict: str | None = None


def build_graph(plan: dict, observed: Observed | None = None) -> Graph:
    live = observed is not None
    obs = observed or Observed()
    inv = plan["inventory"]
    g = Graph(title=f"lab {plan['lab']} ({plan['region']})", source="live" if live else "planned")
    g.clusters.append(Cluster("region", "region", f"region {plan['region']}"))
    account_names = _account_names(plan)
    vpcs = {v["Name"]: v for v in inv.get("vpcs", [])}
    vpc_by_id = {v["VpcId"]: v["Name"] for v in vpcs.values()}
    subnets = {s["Name"]: {**s, "Vpc": vpc_by_id[s["VpcId"]]} for s in inv.get("subnets", [])}
    for owner in dict.fromkeys(v["OwnerId"] for v in vpcs.values()):
        name = account_names.get(owner)
        g.clusters.append(Cluster(f"account:{owner}", "account", f"account {owner}" + (f" ({name})" if name else ""),
                                  "region"))
    for vpc in vpcs.values():
        vid = f"vpc:{vpc['Name']}"
        g.clusters.append(Cluster(vid, "vpc", f"VPC {vpc['Name']}\n{vpc['VpcId']} {vpc['CidrBlock']}",
                                  f"account:{vpc['OwnerId']}"))
        router_state = "missing" if vpc["Name"] in obs.missing else ("up" if live else None)
        g.nodes.append(Node(f"router:{vpc['Name']}", "router", f"VPC router\n{vpc['Name']}", vid, router_state,
                            "bad" if router_state == "missing" else "neutral", {"VpcId": vpc["VpcId"]}))
    for az in dict.fromkeys((s["Vpc"], s["AvailabilityZone"]) for s in subnets.values()):
        g.clusters.append(Cluster(f"az:{az[0]}:{az[1]}", "az", az[1], f"vpc:{az[0]}"))
    for s in subnets.values():
        g.clusters.append(Cluster(f"subnet:{s['Name']}", "subnet", f"subnet {s['Name']}\n{s['CidrBlock']}",
                                  f"az:{s['Vpc']}:{s['AvailabilityZone']}"))
    _resolvers(g, plan)
    _instances(g, plan, subnets, obs, live)
    _nlb_nodes(g, inv, obs, live)
    _endpoints(g, plan, obs, live)
    _links(g, plan)
    if obs.flows is not None:
        _overlay(g, obs)
    if not live:
        g.notes.append("planned state: endpoint states as planned, target health not checked")
    return g


def _account_names(plan: dict) -> dict[str, str]:
    """Account IDs -> the topology's account names, as far as the plan tells them."""
    vpc_owner = {v["Name"]: v["OwnerId"] for v in plan["inventory"].get("vpcs", [])}
    return {vpc_owner[ep["vpc"]]: ep["account"] for ep in plan.get("endpoints", []) if ep["vpc"] in vpc_owner}


def _resolvers(g: Graph, plan: dict) -> None:
    for r in plan.get("resolvers", []):
        label = f"Resolver {r['ip']}" + ("" if r.get("enabled", True) else "\n(DNS support off)")
        g.nodes.append(Node(f"resolver:{r['vpc']}", "resolver", label, f"vpc:{r['vpc']}",
                            attrs={"Address": r["ip"], "Records": str(len(r.get("records", [])))}))
        g.edges.append(Edge(f"dns:{r['vpc']}", f"router:{r['vpc']}", f"resolver:{r['vpc']}", "dns"))


def _instances(g: Graph, plan: dict, subnets: dict, obs: Observed, live: bool) -> None:
    targets = {s["name"]: s["port"] for n in plan.get("nodes", []) for b in n["backends"] for s in b["servers"]}
    health: dict[str, list[str]] = {}
    azs = {n["container"]: n["az"] for n in plan.get("nodes", [])}
    for row in obs.target_health:
        health.setdefault(row["Target"], []).append(f"{row['Health']} (via {azs.get(row['Node'], row['Node'])})")
    for i in plan["inventory"].get("instances", []):
        name = i["Name"]
        lines = [name, i["PrivateIpAddress"] + (f":{targets[name]}" if name in targets else "")]
        if i.get("App"):
            lines.append(i["App"])
        state, tone = None, "neutral"
        if name in targets:
            seen = health.get(name, [])
            if not live:
                state = "planned"
            else:
                state = "; ".join(seen) if seen else "no check"
            tones = [health_tone(h.split(" (via", 1)[0]) for h in seen] or [health_tone(state)]
            tone = "bad" if "bad" in tones else "wait" if "wait" in tones else tones[0]
            lines.append(f"health: {state}")
        if name in obs.missing:
            state, tone = "missing", "bad"
            lines.append("MISSING")
        g.nodes.append(Node(f"instance:{name}", "instance", "\n".join(lines), f"subnet:{i['Subnet']}", state, tone,
                            {"InstanceId": i["InstanceId"], "PrivateIpAddress": i["PrivateIpAddress"]}))


def _nlb_nodes(g: Graph, inv: dict, obs: Observed, live: bool) -> None:
    for n in inv.get("nlb_nodes", []):
        missing = n["Container"] in obs.missing
        state = "missing" if missing else ("running" if live else None)
        g.nodes.append(Node(f"node:{n['Container']}", "nlb-node",
                            f"NLB node {n['LoadBalancer']}\n{n['AvailabilityZone']} {n['PrivateIpAddress']}"
                            + ("\nMISSING" if missing else ""),
                            f"subnet:{n['Subnet']}", state, "bad" if missing else "neutral",
                            {"Container": n["Container"], "PrivateIpAddress": n["PrivateIpAddress"]}))


def _endpoints(g: Graph, plan: dict, obs: Observed, live: bool) -> None:
    for ep in plan.get("endpoints", []):
        state = obs.endpoint_states.get(ep["id"], ep["state"]) if live else ep["state"]
        for eni in ep["enis"]:
            label = f"ENI {eni['id']}\n{eni['ip']}\n{ep['id']}\n{ep['name']}: {state}"
            g.nodes.append(Node(f"eni:{eni['id']}", "eni", label, f"subnet:{eni['subnet']}", state, state_tone(state),
                                {"VpcEndpointId": ep["id"], "NetworkInterfaceId": eni["id"],
                                 "PrivateIpAddress": eni["ip"], "ServiceId": ep["service_id"], "State": state}))


def _links(g: Graph, plan: dict) -> None:
    routers = {ns["name"]: ns["vpc"] for ns in plan["namespaces"] if ns["role"] == "vpc-router"}
    enis = {eni["ifname"]: (ep, eni) for ep in plan.get("endpoints", []) for eni in ep["enis"]}
    peerings = {p["Name"]: p for p in plan["inventory"].get("peerings", [])}
    for v in plan["veths"]:
        key, role, a, b = v["key"], v["role"], v["a"], v["b"]
        router = f"router:{routers.get(b['place']['name'], b['place']['name'])}"
        if role == "instance":
            name = key.split(":", 1)[1]
            g.edges.append(Edge(key, router, f"instance:{name}", "instance"))
        elif role == "nlb-provider":
            g.edges.append(Edge(key, f"node:{a['place']['name']}", router, "nlb-provider"))
        elif role == "endpoint-eni" and a["ifname"] in enis:
            ep, eni = enis[a["ifname"]]
            g.edges.append(Edge(key, router, f"eni:{eni['id']}", "endpoint-eni"))
            g.edges.append(Edge(f"privatelink:{eni['id']}", f"eni:{eni['id']}", f"node:{eni['node']}", "privatelink",
                                label=ep["service"]))
        elif role == "peering":
            name = key.split(":", 1)[1]
            other = f"router:{routers.get(a['place']['name'], a['place']['name'])}"
            g.edges.append(Edge(key, other, router, "peering",
                                label=f"peering {name} {peerings.get(name, {}).get('VpcPeeringConnectionId', '')}".strip()))
        elif role in ("internet", "igw", "dx", "backbone"):
            g.edges.append(Edge(key, f"router:{routers.get(a['place']['name'], a['place']['name'])}", router, role))
    # An endpoint that is not live (pendingAcceptance, rejected, ...) has no legs in the plan: show
    # which NLB node its ENIs would reach, as a link that carries nothing.
    for ep in plan.get("endpoints", []):
        for eni in ep["enis"]:
            if g.edge(f"privatelink:{eni['id']}") is None:
                state = g.node(f"eni:{eni['id']}").state
                g.edges.append(Edge(f"privatelink:{eni['id']}", f"eni:{eni['id']}", f"node:{eni['node']}",
                                    "privatelink", label=f"{ep['service']} ({state}: no data path)", established=False))


def _overlay(g: Graph, obs: Observed) -> None:
    leaking = set(obs.leaking_links)
    for key in list(leaking) + [k for f in obs.flows or [] for _, k in f.links]:
        if g.edge(key) is None and key.startswith("unplanned:"):
            _add_unplanned(g, key, obs.unplanned_vpcs.get(key))
    for edge in g.edges:
        edge.leak = edge.id in leaking
    for flow in obs.flows or []:
        ordered = sorted(flow.links, key=lambda nk: _PATH_RANK.get(nk[0].split("/", 1)[0], 9))
        edges: list[str] = []
        for _, key in ordered:
            if g.edge(key) is None:
                continue
            edges.append(key)
            if key.startswith("eni:"):  # through the ENI into its NLB node
                eni_node = g.edge(key).b
                edges += [e.id for e in g.edges if e.kind == "privatelink" and e.a == eni_node]
        leak_edges = [k for k in edges if k in leaking or k in flow.leak_links]
        g.flows.append(FlowPath(flow.name, edges, flow.ok, "probe" if flow.kind == "probe" else "flow", leak_edges))
    if obs.verify_verdict:
        g.notes.append(f"flows of the last lab verify: {obs.verify_verdict}")


def _add_unplanned(g: Graph, key: str, vpc: str | None) -> None:
    node_id = f"unplanned-node:{key}"
    cluster = f"vpc:{vpc}" if vpc and any(c.id == f"vpc:{vpc}" for c in g.clusters) else "region"
    g.nodes.append(Node(node_id, "unplanned", f"unplanned\n{key.split(':')[-1]}", cluster, "unplanned", "bad"))
    anchor = f"router:{vpc}" if cluster != "region" else node_id
    g.edges.append(Edge(key, anchor, node_id, "unplanned"))
