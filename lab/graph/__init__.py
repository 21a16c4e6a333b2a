"""The lab as a picture: plan + live observations -> `Graph` (pure data) -> DOT, SVG, PNG, Mermaid, JSON.

Layer: above lab.state (it reads plan dicts and takes what was observed as plain data), below
lab.api, which gathers the observations (`lab status`'s code, the last `lab verify` report).
"""

from lab.graph.build import Observed, VerifiedFlow, build_graph
from lab.graph.model import Graph
from lab.graph.formats import BINARY, FORMATS, GraphvizFailed, GraphvizMissing, render

__all__ = ["BINARY", "FORMATS", "Graph", "GraphvizFailed", "GraphvizMissing", "Observed", "VerifiedFlow",
           "build_graph", "render"]
