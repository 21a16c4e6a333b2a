"""Graph -> bytes in one of `lab graph`'s formats.

DOT and Mermaid are our own text (pure). SVG and PNG are DOT laid out by Graphviz's `dot`
(Debian's graphviz package), run as a subprocess: the PyPI `graphviz` package would only wrap
the same call, and shelling out once keeps the DOT text the one thing tests need to check.
"""

from __future__ import annotations

import json
import shutil
import subprocess

from lab.graph.dot import to_dot
from lab.graph.mermaid import to_mermaid
from lab.graph.model import Graph
from lab.graph.style import legend
from lab.topology.errors import LabSystemError

FORMATS = ("svg", "png", "dot", "mermaid", "json")
BINARY = ("png",)
DOT_TIMEOUT_S = 60


class GraphvizMissing(LabSystemError):
    """No `dot` on this host (lab.api turns it into an input error naming --format's alternatives)."""


class GraphvizFailed(LabSystemError):
    """`dot` refused the graph it was given."""


def dot_binary() -> str | None:
    return shutil.which("dot")


def render(g: Graph, fmt: str) -> bytes:
    if fmt == "dot":
        return to_dot(g).encode()
    if fmt == "mermaid":
        return to_mermaid(g).encode()
    if fmt == "json":
        return (json.dumps({**g.to_dict(), "legend": legend()}, indent=2) + "\n").encode()
    if fmt in ("svg", "png"):
        return layout(to_dot(g), fmt)
    raise ValueError(f"unknown graph format {fmt!r}")


def layout(dot_text: str, fmt: str) -> bytes:
    """Run `dot -T<fmt>` on DOT text (bounded in time)."""
    exe = dot_binary()
    if exe is None:
        raise GraphvizMissing(fmt)
    proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=DOT_TIMEOUT_S)
    if proc.returncode != 0:
        raise GraphvizFailed("; ".join(proc.stderr.decode(errors="replace").strip().splitlines()[-1:]) or "dot failed",
                             fix="report this lab graph as a bug, with --format dot's output")
    return proc.stdout
