"""Graph -> Graphviz DOT text (pure; `lab.graph.formats` hands it to `dot` for SVG and PNG)."""

from __future__ import annotations

from lab.graph.model import Graph, safe_id
from lab.graph.style import CLUSTER_STYLE, LEAK_COLOR, NODE_SHAPE, NOT_ESTABLISHED, TONE_FILL, TONE_LINE, flow_color, flow_label, link_style


def quote(text: str) -> str:
    """A DOT string: backslashes and quotes escaped, newlines as DOT's centred line break."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**attrs) -> str:
    return "[" + ", ".join(f"{k}={v if isinstance(v, (int, float)) else quote(str(v))}" for k, v in attrs.items()) + "]"


def to_dot(g: Graph) -> str:
    out = [f"graph {quote(safe_id(g.title))} {{",
           f"  graph {_attrs(label=_title(g), labelloc='t', fontname='Helvetica', fontsize=14, compound='true', rankdir='LR', nodesep=0.35, ranksep=0.6)};",
           f"  node {_attrs(fontname='Helvetica', fontsize=10, style='filled')};",
           f"  edge {_attrs(fontname='Helvetica', fontsize=9)};"]
    _clusters(g, None, out, "  ")
    for e in g.edges:
        color, style, width = link_style(e.kind)
        attrs = {"color": color, "style": style, "penwidth": width, "tooltip": f"{e.kind} ({e.side}) {e.id}"}
        if e.label:
            attrs["label"] = e.label
        if not e.established:
            attrs.update(color=NOT_ESTABLISHED, style="dashed", penwidth=1.2)
        if e.leak:
            attrs.update(color=LEAK_COLOR, penwidth=4, fontcolor=LEAK_COLOR, label=f"LEAK {e.label}".strip())
        out.append(f"  {safe_id(e.a)} -- {safe_id(e.b)} {_attrs(**attrs)};")
    edges = {e.id: e for e in g.edges}
    for i, (flow, count) in enumerate(g.distinct_flows()):
        color = flow_color(i, flow.leaking)
        for j, eid in enumerate(flow.edges):
            e = edges[eid]
            attrs = {"color": color, "penwidth": 3 if eid in flow.leak_edges else 2, "constraint": "false",
                     "style": "bold", "tooltip": f"{flow.name} over {eid}"}
            if j == 0:
                attrs.update(label=flow_label(flow, count), fontcolor=color)
            out.append(f"  {safe_id(e.a)} -- {safe_id(e.b)} {_attrs(**attrs)};")
    out.append("}")
    return "\n".join(out) + "\n"


def _title(g: Graph) -> str:
    return "\n".join([f"{g.title}: {g.source}"] + g.notes)


def _clusters(g: Graph, parent: str | None, out: list[str], pad: str) -> None:
    for c in g.children(parent):
        st = CLUSTER_STYLE[c.kind]
        out.append(f"{pad}subgraph {quote('cluster_' + safe_id(c.id))} {{")
        out.append(f"{pad}  graph {_attrs(label=c.label, style=st['style'], color=st['color'], fillcolor=st['fillcolor'], labeljust='l')};")
        for n in g.nodes_in(c.id):
            attrs = {"label": n.label, "shape": NODE_SHAPE.get(n.kind, "box"), "fillcolor": TONE_FILL[n.tone],
                     "color": TONE_LINE[n.tone], "tooltip": " ".join(f"{k}={v}" for k, v in n.attrs.items()) or n.id}
            if n.kind in ("eni", "instance"):
                attrs["style"] = "filled,rounded"
            if n.tone != "neutral":
                attrs["penwidth"] = 2
            out.append(f"{pad}  {safe_id(n.id)} {_attrs(**attrs)};")
        _clusters(g, c.id, out, pad + "  ")
        out.append(f"{pad}}}")
