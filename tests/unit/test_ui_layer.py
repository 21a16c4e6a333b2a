"""lab.ui is the top layer beside lab.cli: it reaches the lab only through lab.api (plus pure
libraries), so the web view can never do what the CLI cannot, nor bypass the front door."""

from __future__ import annotations

import ast
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "lab" / "ui"
ALLOWED = ("lab.api", "lab.ui")


def lab_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "lab" else [f"lab.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n == "lab" or n.startswith("lab.")}
    return found


def test_ui_imports_only_the_front_door():
    files = sorted(UI.glob("*.py"))
    assert files, "lab/ui has no modules"
    bad = {f.name: sorted(i for i in lab_imports(f) if not i.startswith(ALLOWED)) for f in files}
    assert not {k: v for k, v in bad.items() if v}, bad


def test_the_checker_sees_a_forbidden_import(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("from lab.apply.observe import collect\nfrom lab import api\n")
    assert lab_imports(sample) == {"lab.apply.observe", "lab.api"}
