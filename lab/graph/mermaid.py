"""Graph -> Mermaid flowchart text, which GitHub renders inside a ```mermaid block of Markdown."""

from __future__ import annotations

from lab.graph.model import Graph, safe_id
from lab.graph.style import LEAK_COLOR, NOT_ESTABLISHED, TONE_FILL, TONE_LINE, flow_color, flow_label, link_style

# Mermaid's node shapes: (opening, closing) around the label.
SHAPES = {"router": ("[[", "]]"), "instance": ("(", ")"), "nlb-node": ("{{", "}}"), "eni": ("([", "])"),
          "resolver": ("[(", ")]"), "gateway": ("[/", "\\]"), "onprem-router": ("[[", "]]"), "unplanned": ("((", "))")}
# Mermaid's link syntax per link kind: solid, thick or dotted.
ARROWS = {"privatelink": "===", "peering": "-.-", "dns": "-.-", "unplanned": "-.-", "internet": "-.-", "igw": "-.-",
          "dx": "-.-", "backbone": "-.-"}


def text(label: str) -> str:
    """A Mermaid label: quoted, quotes as entities, line breaks as <br/>."""
    return '"' + label.replace('"', "#quot;").replace("\n", "<br/>") + '"'


def to_mermaid(g: Graph) -> str:
    out = ["flowchart LR"]
    for tone in TONE_FILL:
        out.append(f"  classDef {tone} fill:{TONE_FILL[tone]},stroke:{TONE_LINE[tone]},color:#111")
    _clusters(g, None, out, "  ")
    styles: list[str] = []
    index = 0
    for e in g.edges:
        arrow = ARROWS.get(e.kind, "---") if e.established else "-.-"
        label = ("LEAK " + e.label).strip() if e.leak else e.label
        out.append(f"  {safe_id(e.a)} {arrow}{'|' + text(label) + '|' if label else ''} {safe_id(e.b)}")
        color, _, width = link_style(e.kind)
        if not e.established:
            color, width = NOT_ESTABLISHED, 1.2
        if e.leak:
            color, width = LEAK_COLOR, 4
        styles.append(f"  linkStyle {index} stroke:{color},stroke-width:{width}px")
        index += 1
    edges = {e.id: e for e in g.edges}
    for i, (flow, count) in enumerate(g.distinct_flows()):
        color = flow_color(i, flow.leaking)
        for j, eid in enumerate(flow.edges):
            e = edges[eid]
            label = f"|{text(flow_label(flow, count))}|" if j == 0 else ""
            out.append(f"  {safe_id(e.a)} ==>{label} {safe_id(e.b)}")
            styles.append(f"  linkStyle {index} stroke:{color},stroke-width:3px")
            index += 1
    return "\n".join(out + styles) + "\n"


def _clusters(g: Graph, parent: str | None, out: list[str], pad: str) -> None:
    for c in g.children(parent):
        out.append(f"{pad}subgraph {safe_id('c_' + c.id)}[{text(c.label)}]")
        for n in g.nodes_in(c.id):
            left, right = SHAPES.get(n.kind, ("[", "]"))
            out.append(f"{pad}  {safe_id(n.id)}{left}{text(n.label)}{right}:::{n.tone}")
        _clusters(g, c.id, out, pad + "  ")
        out.append(f"{pad}end")
