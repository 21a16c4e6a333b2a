"""`lab graph`'s model and renderers, from plans alone (no root): boxes, nodes, links, states,
the --flows overlay, and every renderer on every shipped topology (the SVG parsed as XML)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab.graph import Observed, VerifiedFlow, build_graph, render
from lab.graph.dot import to_dot
from lab.graph.mermaid import to_mermaid
from lab.graph.formats import dot_binary
from lab.graph.style import LEAK_COLOR
from lab.plan.build import build_plan
from lab.topology.load import load_topology

REPO = Path(__file__).resolve().parents[2]
TOPOLOGIES = sorted((REPO / "topologies").glob("*.yaml"))
needs_dot = pytest.mark.skipif(dot_binary() is None, reason="needs Graphviz's dot (apt package graphviz)")


def plan_of(name: str) -> dict:
    return build_plan(load_topology(REPO / "topologies" / f"{name}.yaml"), "g").to_dict()


def test_boxes_nest_region_account_vpc_az_subnet():
    g = build_graph(plan_of("basic"))
    parents = {c.id: c.parent for c in g.clusters}
    assert parents["subnet:consumer-a"] == "az:consumer:us-east-1a"
    assert parents["az:consumer:us-east-1a"] == "vpc:consumer"
    assert parents["vpc:consumer"] == "account:222222222222"
    assert parents["account:222222222222"] == "region"
    assert parents["region"] is None
    kinds = {c.kind for c in g.clusters}
    assert kinds == {"region", "account", "vpc", "az", "subnet"}


def test_nodes_sit_in_their_subnets_and_links_have_kinds():
    plan = plan_of("basic")
    g = build_graph(plan)
    assert g.node("instance:target-a").cluster == "subnet:provider-a"
    assert g.node("instance:consumer-client").cluster == "subnet:consumer-a"
    enis = [n for n in g.nodes if n.kind == "eni"]
    assert {n.cluster for n in enis} == {"subnet:consumer-a", "subnet:consumer-b"}
    nodes = [n for n in g.nodes if n.kind == "nlb-node"]
    assert {n.cluster for n in nodes} == {"subnet:provider-a", "subnet:provider-b"}
    assert {n.kind for n in g.nodes} >= {"router", "instance", "nlb-node", "eni", "resolver"}
    # every veth of the plan is one link, with the plan's key as its id
    assert {v["key"] for v in plan["veths"]} <= {e.id for e in g.edges}
    kinds = {e.id: e.kind for e in g.edges}
    assert kinds["instance:target-a"] == "instance"
    assert kinds["nlb:web-nlb:us-east-1a"] == "nlb-provider"
    assert kinds["eni:web-endpoint:us-east-1a"] == "endpoint-eni"
    assert sum(1 for e in g.edges if e.kind == "privatelink") == 2
    assert all(e.side == "private" for e in g.edges)


def test_peering_is_a_link_between_vpcs():
    g = build_graph(plan_of("leaky"))
    peering = g.edge("peering:leak")
    assert peering is not None and peering.kind == "peering" and peering.side == "between"
    assert {peering.a, peering.b} == {"router:consumer", "router:provider"}
    assert "pcx-" in peering.label


def test_planned_states_come_from_the_plan():
    g = build_graph(plan_of("multi-tenant"))
    states = {n.attrs["VpcEndpointId"]: n.state for n in g.nodes if n.kind == "eni"}
    assert set(states.values()) == {"pendingAcceptance"}  # acceptance required: all pending until accepted
    assert all(n.tone == "wait" for n in g.nodes if n.kind == "eni")
    assert g.node("instance:target-a").state == "planned"
    assert g.source == "planned" and any("planned" in note for note in g.notes)


def test_a_pending_endpoint_shows_where_it_would_connect_but_no_data_path():
    g = build_graph(plan_of("multi-tenant"))
    links = [e for e in g.edges if e.kind == "privatelink"]
    assert len(links) == 6 and not any(e.established for e in links)
    assert all("no data path" in e.label and g.node(e.b).kind == "nlb-node" for e in links)
    assert not any(e.kind == "endpoint-eni" for e in g.edges)  # no legs in the plan until accepted
    assert "dashed" in next(ln for ln in to_dot(g).splitlines() if "no data path" in ln)
    assert all(e.established for e in build_graph(plan_of("basic")).edges)


def test_live_observations_override_states_and_health():
    plan = plan_of("multi-tenant")
    first = plan["endpoints"][0]["id"]
    node_a = plan["nodes"][0]["container"]
    obs = Observed(endpoint_states={first: "available"},
                   target_health=[{"Node": node_a, "Target": "target-a", "Health": "UP"},
                                  {"Node": node_a, "Target": "target-b", "Health": "DOWN"}],
                   missing={"c-client"})
    g = build_graph(plan, obs)
    enis = [n for n in g.nodes if n.kind == "eni" and n.attrs["VpcEndpointId"] == first]
    assert enis and all(n.state == "available" and n.tone == "good" for n in enis)
    assert "available" in enis[0].label
    assert g.node("instance:target-a").tone == "good" and "UP" in g.node("instance:target-a").label
    assert g.node("instance:target-b").tone == "bad"
    assert g.node("instance:c-client").state == "missing" and g.node("instance:c-client").tone == "bad"
    assert g.source == "live"


def _leaky_overlay() -> Observed:
    flow = VerifiedFlow("consumer-client -> web-endpoint@us-east-1a",
                        [("provider-subnet/target-a", "instance:target-a"),
                         ("consumer-subnet/consumer-client", "instance:consumer-client"),
                         ("nlb-target/web-nlb@us-east-1a", "nlb:web-nlb:us-east-1a"),
                         ("endpoint-eni/web-endpoint@us-east-1a", "eni:web-endpoint:us-east-1a")], ok=True)
    probe = VerifiedFlow("consumer-client -> target-a", [("peering/leak", "peering:leak"),
                                                         ("provider-subnet/target-a", "instance:target-a")],
                         ok=False, kind="probe", leak_links=["peering:leak"])
    return Observed(flows=[flow, probe], leaking_links=["peering:leak"], verify_verdict="FAILED: 1 failed")


def test_flows_overlay_orders_the_path_and_marks_the_leak():
    g = build_graph(plan_of("leaky"), _leaky_overlay())
    through, leak = g.flows
    eni_edge = g.edge("eni:web-endpoint:us-east-1a")
    privatelink = next(e.id for e in g.edges if e.kind == "privatelink" and e.a == eni_edge.b)
    assert through.edges == ["instance:consumer-client", "eni:web-endpoint:us-east-1a", privatelink,
                             "nlb:web-nlb:us-east-1a", "instance:target-a"]
    assert through.ok and not through.leaking
    assert leak.leaking and leak.leak_edges == ["peering:leak"]
    assert g.edge("peering:leak").leak and not g.edge("instance:target-a").leak


def test_dot_draws_the_leak_red_and_nothing_else_red():
    text = to_dot(build_graph(plan_of("leaky"), _leaky_overlay()))
    leak_lines = [ln for ln in text.splitlines() if LEAK_COLOR in ln and " -- " in ln]
    assert leak_lines and any("LEAK" in ln for ln in leak_lines)
    assert all("router_consumer -- router_provider" in ln or "consumer-client -> target-a" in ln
               for ln in leak_lines), leak_lines
    clean = to_dot(build_graph(plan_of("leaky")))
    assert LEAK_COLOR not in clean


def test_dot_escapes_quotes_and_names_clusters():
    plan = plan_of("basic")
    plan["inventory"]["vpcs"][0]["Name"] = plan["inventory"]["vpcs"][0]["Name"]  # unchanged: ids come from names
    g = build_graph(plan)
    g.nodes[0].label = 'say "hi"\\now'
    text = to_dot(g)
    assert 'label="say \\"hi\\"\\\\now' in text
    assert text.count("subgraph \"cluster_") == len(g.clusters)
    assert text.count("{") == text.count("}")


def test_mermaid_nests_subgraphs_and_styles_each_link():
    g = build_graph(plan_of("leaky"), _leaky_overlay())
    text = to_mermaid(g)
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    assert sum(1 for ln in lines if ln.strip().startswith("subgraph ")) == len(g.clusters)
    assert sum(1 for ln in lines if ln.strip() == "end") == len(g.clusters)
    link_lines = [ln for ln in lines if any(a in ln for a in (" --- ", " === ", " -.- ", " ==>", " ---|", " -.-|", " ===|"))
                  and not ln.strip().startswith("linkStyle")]
    styles = [ln for ln in lines if ln.strip().startswith("linkStyle")]
    assert len(link_lines) == len(styles) == len(g.edges) + sum(len(f.edges) for f in g.flows)
    peering_index = next(i for i, e in enumerate(g.edges) if e.id == "peering:leak")
    assert f"linkStyle {peering_index} stroke:{LEAK_COLOR}" in text
    assert '"' not in "".join(ln.split('"')[0] for ln in lines if "[" in ln)  # ids never quoted


def test_json_is_the_graph_with_its_legend():
    g = build_graph(plan_of("basic"))
    data = json.loads(render(g, "json"))
    assert {c["id"] for c in data["clusters"]} == {c.id for c in g.clusters}
    assert all("side" in e for e in data["edges"])
    assert "privatelink" in data["legend"]["link"]


@needs_dot
@pytest.mark.parametrize("topology", TOPOLOGIES, ids=lambda p: p.stem)
def test_every_topology_renders_an_svg_naming_every_vpc_and_endpoint(topology: Path):
    plan = build_plan(load_topology(topology), "g").to_dict()
    svg = render(build_graph(plan), "svg")
    root = ET.fromstring(svg)  # parses as XML
    texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    for vpc in plan["inventory"]["vpcs"]:
        assert f"VPC {vpc['Name']}" in texts and vpc["VpcId"] in texts
    for ep in plan["endpoints"]:
        assert ep["id"] in texts and f"{ep['name']}: {ep['state']}" in texts
    assert render(build_graph(plan), "png").startswith(b"\x89PNG")


@pytest.mark.parametrize("topology", TOPOLOGIES, ids=lambda p: p.stem)
def test_every_topology_renders_dot_and_mermaid(topology: Path):
    g = build_graph(build_plan(load_topology(topology), "g").to_dict())
    assert to_dot(g).startswith("graph ") and to_mermaid(g).startswith("flowchart ")


def test_unknown_format_is_refused():
    with pytest.raises(ValueError):
        render(build_graph(plan_of("basic")), "xml")
