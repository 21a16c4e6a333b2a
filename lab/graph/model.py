"""The lab as a graph: nested boxes (clusters), nodes and links, with states and flow overlays.

This is the one structure every picture of the lab is drawn from: `lab graph` renders it as DOT,
SVG, PNG or Mermaid, and the web view can serve `Graph.to_dict()` as JSON. It is plain data (no
Graphviz, no system calls), built by `lab.graph.build` from a plan and what was observed live.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

ClusterKind = Literal["region", "account", "vpc", "az", "subnet"]
NodeKind = Literal["router", "instance", "nlb-node", "eni", "resolver", "gateway", "onprem-router", "unplanned"]
Side = Literal["private", "public", "between"]

# Every kind of link, with the side of the network it belongs to. Drawn styles hang off the kind;
# the public-side kinds are not made by any topology yet (they come with internet, IGW, Direct
# Connect and backbone links), but renderers already know how to draw them.
LINK_SIDES: dict[str, Side] = {
    "instance": "private",       # an instance's veth into its subnet's bridge on the VPC router
    "nlb-provider": "private",   # an NLB node's leg into the provider subnet (towards its targets)
    "endpoint-eni": "private",   # an endpoint ENI: the NLB node's leg in the consumer subnet
    "privatelink": "private",    # inside an NLB node: from the ENI leg it listens on to the node
    "dns": "private",            # the VPC resolver, on the router's loopback
    "peering": "between",        # a VPC peering connection
    "unplanned": "between",      # an interface the plan does not know (found by `lab verify`)
    "internet": "public",
    "igw": "public",
    "dx": "public",
    "backbone": "public",
}

# Endpoint states (DescribeVpcEndpoints' State, plus the lab's own "planned") and target health
# (HAProxy's status words), each with the tone it is drawn in.
GOOD, WAIT, BAD, NEUTRAL = "good", "wait", "bad", "neutral"
STATE_TONES = {"available": GOOD, "pendingAcceptance": WAIT, "pending": WAIT, "deleting": WAIT,
               "rejected": BAD, "failed": BAD, "expired": BAD, "deleted": NEUTRAL, "planned": NEUTRAL}
HEALTH_TONES = {"UP": GOOD, "DOWN": BAD, "NOLB": WAIT, "MAINT": WAIT, "DRAIN": WAIT, "no check": NEUTRAL,
                "planned": NEUTRAL}


def state_tone(state: str) -> str:
    return STATE_TONES.get(state, NEUTRAL)


def health_tone(health: str) -> str:
    """HAProxy reports transitions as e.g. 'UP 1/3' or 'DOWN 1/2': the first word decides."""
    word = health.split(" ", 1)[0] if health else ""
    return HEALTH_TONES.get(health, HEALTH_TONES.get(word, NEUTRAL))


@dataclass
class Cluster:
    id: str
    kind: ClusterKind
    label: str
    parent: str | None = None  # the enclosing cluster's id; None for the region


@dataclass
class Node:
    id: str
    kind: NodeKind
    label: str  # one or more lines, joined by "\n"
    cluster: str  # the innermost box it sits in
    state: str | None = None  # an ENI's endpoint state, a target's health, "up"/"missing" for live parts
    tone: str = NEUTRAL  # good | wait | bad | neutral: how its state is drawn
    attrs: dict[str, str] = field(default_factory=dict)  # AWS IDs and addresses, for tooltips and JSON


@dataclass
class Edge:
    id: str  # the plan's veth key for real links ("instance:target-a"), or a derived one
    a: str  # node ids
    b: str
    kind: str  # a key of LINK_SIDES
    label: str = ""
    leak: bool = False  # `lab verify` found traffic here that must never be there
    established: bool = True  # False: drawn for what it would join, but no data path exists (a pending endpoint)

    @property
    def side(self) -> Side:
        return LINK_SIDES.get(self.kind, "between")


@dataclass
class FlowPath:
    """One flow (or probe) of the last `lab verify`, as the graph edges it was seen on."""

    name: str
    edges: list[str]  # Edge ids, in path order as far as the graph knows it
    ok: bool
    kind: Literal["flow", "probe"] = "flow"
    leak_edges: list[str] = field(default_factory=list)  # the edges through which it leaked

    @property
    def leaking(self) -> bool:
        """A probe that failed reached where it must not; a flow leaks when it crossed a leaking edge."""
        return bool(self.leak_edges) or (not self.ok and self.kind == "probe")


@dataclass
class Graph:
    title: str
    source: Literal["planned", "live"]
    clusters: list[Cluster] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    flows: list[FlowPath] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def edge(self, edge_id: str) -> Edge | None:
        return next((e for e in self.edges if e.id == edge_id), None)

    def children(self, cluster_id: str | None) -> list[Cluster]:
        return [c for c in self.clusters if c.parent == cluster_id]

    def nodes_in(self, cluster_id: str) -> list[Node]:
        return [n for n in self.nodes if n.cluster == cluster_id]

    def distinct_flows(self) -> list[tuple[FlowPath, int]]:
        """Flows that took the same path (and leaked or not alike), drawn once: (one of them, how many).
        A verify run sends a dozen flows over each path (by address, by each DNS name, probes)."""
        groups: dict[tuple, list[FlowPath]] = {}
        for f in self.flows:
            groups.setdefault((tuple(f.edges), f.leaking), []).append(f)
        # A failed one speaks for its group, so a failure is never hidden behind a passing twin.
        return [(next((f for f in fs if not f.ok), fs[0]), len(fs)) for fs in groups.values() if fs[0].edges]

    def to_dict(self) -> dict:
        data = asdict(self)
        for edge, out in zip(self.edges, data["edges"]):
            out["side"] = edge.side
        return data


def safe_id(text: str) -> str:
    """An identifier every renderer accepts (DOT, Mermaid, HTML ids): letters, digits, underscores."""
    out = "".join(ch if ch.isalnum() else "_" for ch in text)
    return out if out[:1].isalpha() else f"n_{out}"
