"""The lab as a picture: plan + live observations -> `Graph` (pure data) -> DOT, SVG, PNG, Mermaid, JSON.

Layer: above lab.state (it reads plan dicts and takes what was observed as plain data), below
lab.api, whose lab.usecases.graph gathers the observations (lab.apply.observe, the last `lab verify`).
May import: lab.plan, lab.topology and the pure libraries; not lab.apply, lab.privatelink or
lab.verify (peers or below-but-live: observations come in as data).
"""

from lab.graph.build import Observed, VerifiedFlow, build_graph
from lab.graph.model import Graph
from lab.graph.formats import BINARY, FORMATS, GraphvizFailed, GraphvizMissing, render

__all__ = ["BINARY", "FORMATS", "Graph", "GraphvizFailed", "GraphvizMissing", "Observed", "VerifiedFlow",
           "build_graph", "render"]
