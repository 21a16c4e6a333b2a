"""The EC2 API server sits at the top and acts only through lab.api; lab.iam is a pure library.
Read from the source with ast, so an import hidden in a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[2] / "lab"
ALLOWED = {
    "awsapi": ("lab.api", "lab.awsapi", "lab.iam"),
    "iam": ("lab.iam",),
}


def lab_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("lab")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "lab":
            found += [node.module if node.module != "lab" else f"lab.{a.name}" for a in node.names]
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_layers(package):
    bad = [(p.name, m) for p in sorted((LAB / package).glob("*.py")) for m in lab_imports(p)
           if not any(m == a or m.startswith(a + ".") for a in ALLOWED[package])]
    assert not bad, f"lab/{package} imports outside {ALLOWED[package]}: {bad}"


def test_nothing_below_imports_the_api_server():
    offenders = [str(p.relative_to(LAB)) for p in LAB.rglob("*.py")
                 if not str(p.relative_to(LAB)).startswith(("awsapi/", "cli/"))
                 and any(m.startswith("lab.awsapi") for m in lab_imports(p))]
    assert not offenders
