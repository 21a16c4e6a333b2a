"""How each kind of box, node and link is drawn: one table shared by the DOT and Mermaid renderers
(and readable by the web view from `lab graph --format json` plus this module's `legend()`)."""

from __future__ import annotations

# Fill colours by tone (an endpoint's state, a target's health, a missing part).
TONE_FILL = {"good": "#d8f0dc", "wait": "#fff1c2", "bad": "#f8d0d4", "neutral": "#ffffff"}
TONE_LINE = {"good": "#2e7d32", "wait": "#b7791f", "bad": "#c62828", "neutral": "#555555"}

# Graphviz shapes per node kind (Mermaid has fewer; see mermaid.SHAPES).
NODE_SHAPE = {"router": "box3d", "instance": "box", "nlb-node": "component", "eni": "box", "resolver": "cylinder",
              "gateway": "house", "onprem-router": "doubleoctagon", "unplanned": "octagon"}

CLUSTER_STYLE = {
    "region": {"style": "dashed", "color": "#888888", "fillcolor": "#ffffff"},
    "account": {"style": "rounded", "color": "#666666", "fillcolor": "#ffffff"},
    "vpc": {"style": "filled,rounded", "color": "#3f51b5", "fillcolor": "#eef1fb"},
    "az": {"style": "dashed,filled", "color": "#7986cb", "fillcolor": "#f6f7fd"},
    "subnet": {"style": "filled", "color": "#9e9e9e", "fillcolor": "#ffffff"},
}

# Per link kind: colour, line style, width. Private links are solid; the endpoint's own link is the
# PrivateLink purple; links between VPCs dashed orange; public-side kinds (coming: internet, IGW,
# Direct Connect, backbone) dashed, in their own colours, so a picture shows at a glance which
# side of the network a path is on.
LINK_STYLE = {
    "instance": ("#616161", "solid", 1.2),
    "nlb-provider": ("#1565c0", "solid", 1.6),
    "endpoint-eni": ("#7b1fa2", "solid", 1.6),
    "privatelink": ("#7b1fa2", "bold", 2.4),
    "dns": ("#9e9e9e", "dotted", 1.0),
    "peering": ("#ef6c00", "dashed", 2.0),
    "unplanned": ("#c62828", "dotted", 2.0),
    "internet": ("#00838f", "dashed", 2.0),
    "igw": ("#00838f", "dashed", 2.0),
    "dx": ("#6d4c41", "dashed", 2.4),
    "backbone": ("#37474f", "dashed", 2.4),
}
LEAK_COLOR = "#e53935"
NOT_ESTABLISHED = "#b0b0b0"  # a link drawn for what it would join, carrying nothing (a pending endpoint)
# Colours for the flows of a `lab verify` overlay (a leaking flow is always LEAK_COLOR).
FLOW_COLORS = ("#00897b", "#3949ab", "#8e24aa", "#f4511e", "#43a047", "#1e88e5", "#6d4c41", "#c0ca33")


def link_style(kind: str) -> tuple[str, str, float]:
    return LINK_STYLE.get(kind, ("#000000", "solid", 1.0))


def flow_color(index: int, leaking: bool) -> str:
    return LEAK_COLOR if leaking else FLOW_COLORS[index % len(FLOW_COLORS)]


def flow_label(flow, count: int) -> str:
    """A flow overlay's caption: its name, how many more took the same path, and a failure."""
    more = f" (+{count - 1} more)" if count > 1 else ""
    verdict = " LEAK" if flow.leaking else ("" if flow.ok else " FAIL")
    return f"{flow.name}{more}{verdict}"


def legend() -> dict:
    """The drawing rules as data, for a web page that draws the same graph itself."""
    return {"tone_fill": TONE_FILL, "tone_line": TONE_LINE, "node_shape": NODE_SHAPE, "cluster": CLUSTER_STYLE,
            "link": {k: {"color": c, "style": s, "width": w} for k, (c, s, w) in LINK_STYLE.items()},
            "leak_color": LEAK_COLOR, "not_established_color": NOT_ESTABLISHED, "flow_colors": list(FLOW_COLORS)}
