"""The pictures in the docs are what `lab graph` draws today: every Mermaid block of
docs/topologies.md that follows a `<!-- lab graph -t FILE --format mermaid -->` marker must equal
that command's output, and README's picture of the default lab must exist and name its parts.

Regenerate after a deliberate change to the drawing, then review the diff:

    .venv/bin/python tests/unit/test_graph_docs.py --update
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "topologies.md"
README_IMAGE = REPO / "docs" / "images" / "basic.svg"
BLOCK = re.compile(r"<!-- lab graph -t (\S+) --format mermaid -->\n```mermaid\n(.*?)```", re.S)


def mermaid_of(topology: str) -> str:
    from lab.graph import build_graph, render
    from lab.plan.build import build_plan
    from lab.topology.load import load_topology

    return render(build_graph(build_plan(load_topology(REPO / topology), "default").to_dict()), "mermaid").decode()


def test_every_shipped_topology_has_its_picture():
    drawn = {t for t, _ in BLOCK.findall(DOC.read_text())}
    shipped = {f"topologies/{p.name}" for p in (REPO / "topologies").glob("*.yaml")}
    assert drawn == shipped


def test_the_pictures_are_current():
    stale = [t for t, block in BLOCK.findall(DOC.read_text()) if block != mermaid_of(t)]
    assert not stale, f"{stale} drawn differently now; run: python {Path(__file__).relative_to(REPO)} --update"


def test_readme_shows_the_default_lab():
    assert "docs/images/basic.svg" in (REPO / "README.md").read_text()
    root = ET.fromstring(README_IMAGE.read_bytes())
    texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    assert "VPC provider" in texts and "VPC consumer" in texts and "web-endpoint: available" in texts


def update() -> int:
    import subprocess

    text = BLOCK.sub(lambda m: f"<!-- lab graph -t {m[1]} --format mermaid -->\n```mermaid\n{mermaid_of(m[1])}```",
                     DOC.read_text())
    DOC.write_text(text)
    subprocess.run([str(REPO / ".venv" / "bin" / "lab"), "graph", "-t", "topologies/basic.yaml", "-o",
                    str(README_IMAGE)], check=True, cwd=REPO)
    return 0


if __name__ == "__main__":
    sys.exit(update() if "--update" in sys.argv else 0)
