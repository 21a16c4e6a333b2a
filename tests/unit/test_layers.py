"""The one-way house: `lab/` imports only downwards, and never in a circle.

The import graph is built from the source with `ast` (every `import` and `from ... import`,
including those inside functions: a lazy import is still a dependency). It fails on
- an import from a lower layer to a higher one, or between peers of one layer not allowed below;
- an import by a client (the CLI, the API server, the web view) of anything but `lab.api` and the
  pure libraries;
- any cycle between modules (except the lazy edges listed in ALLOWED_CYCLE_EDGES);
- a top-level package or module of `lab/` that is not in LAYERS: every new one is placed on purpose.

To place a new package, add its name to the right layer in LAYERS (and say in its `__init__.py`
docstring what it may import); docs/architecture.md draws the same table.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[2] / "lab"


@dataclass(frozen=True)
class Layer:
    name: str
    packages: frozenset[str]  # names under lab/: a top-level package or module, or a module deeper down
    # None: everything below. Otherwise only these (dotted names under lab/, a prefix matches).
    may_import: frozenset[str] | None = None


def layer(name: str, *packages: str, may_import: tuple[str, ...] | None = None) -> Layer:
    return Layer(name, frozenset(packages), None if may_import is None else frozenset(may_import))


PURE = ("ppv2", "resources", "errors", "interrupts", "iam")  # iam: the coming API server's policies

# THE table, lowest first. A module may import its own package, and anything in a lower layer
# (unless `may_import` narrows it); peers of one layer may not import each other except as
# ALLOWED_PEERS says.
LAYERS: tuple[Layer, ...] = (
    layer("pure libraries", *PURE),
    layer("topology", "topology"),
    layer("plan", "plan"),
    layer("state", "state"),
    layer("apply", "apply", "image", "apps"),
    layer("control plane, verification, host checks, rendering", "privatelink", "verify", "doctor", "graph",
          "metrics", "usage"),
    layer("front door", "api", "usecases"),
    # A lab as a Python object for tests, and the pytest plugin: they bring labs up through the front
    # door and read verification's captures. They stay in lab/verify (the pytest11 entry point names
    # the plugin's module there) but sit above lab.api, like any other client that is not the CLI.
    layer("test harness", "verify.session", "verify.pytest_plugin"),
    layer("clients", "cli", "awsapi", "ui", "workshop", may_import=("api", *PURE, "topology.errors")),
)

# (importer, imported) top-level names of one layer that may depend on each other, one way.
ALLOWED_PEERS: frozenset[tuple[str, str]] = frozenset({
    ("image", "apply"),  # the image builder talks to the engine through the one runtime factory
    ("verify.pytest_plugin", "verify.session"),  # the fixtures hand out LabHandles
    ("api", "usecases"),  # the front door's bigger calls (up, graph, usage, metrics) are bodies in lab.usecases
    ("cli", "ui"),  # `lab ui` starts the web view's server (which itself calls only lab.api)
    ("cli", "awsapi"),  # `lab api serve` starts the EC2 API server (which itself calls only lab.api)
    ("cli", "workshop"),  # `lab workshop` grades exercises (which itself calls only lab.api)
})

# Edges left out of the cycle check: a lazy import inside a function, there for import cost.
ALLOWED_CYCLE_EDGES: frozenset[tuple[str, str]] = frozenset({
    ("lab.ppv2.header", "lab.ppv2.codec"),  # Header.encode() -> codec.encode; codec builds Headers
})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(LAB.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path = LAB) -> dict[str, Path]:
    return {module_name(p): p for p in sorted(root.rglob("*.py"))}


def _resolve(target: str, known: dict[str, Path]) -> str | None:
    """The lab module a dotted name lands in (the longest known prefix)."""
    parts = target.split(".")
    while parts:
        name = ".".join(parts)
        if name in known:
            return name
        parts.pop()
    return None


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every lab module `name` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            if target == "lab" or target.startswith("lab."):
                hit = _resolve(target, known)
                if hit and hit != name and hit != "lab":
                    found.add(hit)
    # `from lab.x import y` names both lab.x.y (a module) and lab.x: keep the most precise one.
    return {m for m in found if not any(o != m and o.startswith(m + ".") for o in found)}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def unit(name: str, index: dict[str, int]) -> str:
    """The name a module is placed by: the longest entry of LAYERS it falls under ("" if none)."""
    rest = name.removeprefix("lab.").split(".")
    while rest:
        if ".".join(rest) in index:
            return ".".join(rest)
        rest.pop()
    return ""


def layer_index() -> dict[str, int]:
    return {pkg: k for k, lay in enumerate(LAYERS) for pkg in lay.packages}


def violation(src: str, dst: str, index: dict[str, int]) -> str | None:
    """Why `src` may not import `dst`, or None."""
    a, b = unit(src, index), unit(dst, index)
    if a == b or not a or not b:
        return None  # one unit; or not placed, which test_every_top_level_name_is_placed reports
    lay = LAYERS[index[a]]
    rest = dst.removeprefix("lab.")
    if (a, b) in ALLOWED_PEERS:
        return None
    if lay.may_import is not None and not any(rest == m or rest.startswith(m + ".") for m in lay.may_import):
        return f"{src} -> {dst}: {lay.name} may import only {', '.join(sorted('lab.' + m for m in lay.may_import))}"
    if index[a] < index[b]:
        return f"{src} -> {dst}: {a} ({LAYERS[index[a]].name}) is below {b} ({LAYERS[index[b]].name})"
    if index[a] == index[b] and (a, b) not in ALLOWED_PEERS:
        return f"{src} -> {dst}: {a} and {b} are peers ({lay.name}); neither imports the other"
    return None


def violations(edges: dict[str, set[str]]) -> list[str]:
    index = layer_index()
    return sorted(v for src, dsts in edges.items() for dst in dsts if (v := violation(src, dst, index)))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    edges = {s: {d for d in ds if (s, d) not in ALLOWED_CYCLE_EDGES} for s, ds in edges.items()}
    counter, stack, on_stack, low, order, out = [0], [], set(), {}, {}, []

    def visit(v: str) -> None:
        order[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in order:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], order[w])
        if low[v] == order[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, ()):
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in order:
            visit(v)
    return sorted(out)


# -- the tests ------------------------------------------------------------------------------------

def test_every_top_level_name_is_placed():
    names = {p.stem for p in LAB.glob("*.py") if p.name != "__init__.py"}
    names |= {p.name for p in LAB.iterdir() if p.is_dir() and any(p.rglob("*.py"))}
    unplaced = sorted(names - set(layer_index()))
    assert not unplaced, (f"lab/{unplaced[0]} is in no layer: add it to LAYERS in {Path(__file__).name} "
                          "(and say in its docstring what it may import)")


def test_table_places_each_name_once():
    seen = [pkg for lay in LAYERS for pkg in lay.packages]
    assert len(seen) == len(set(seen)), "a name stands in two layers"
    assert all(a in layer_index() and b in layer_index() for a, b in ALLOWED_PEERS)


def test_imports_go_only_downwards():
    found = violations(graph())
    assert not found, "imports against the layers:\n  " + "\n  ".join(found)


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, "import cycles:\n  " + "\n  ".join(" <-> ".join(c) for c in found)


def test_every_package_says_what_it_is_for_and_may_import():
    missing = []
    for init in sorted(LAB.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        if init.parent != LAB and "may import" not in doc.lower():
            missing.append(str(init.relative_to(LAB.parent)))
    assert not missing, "no docstring saying what the package may import: " + ", ".join(missing)


# -- the checker itself can fail --------------------------------------------------------------------

def _fake(tmp_path: Path, files: dict[str, str]) -> dict[str, set[str]]:
    for rel, text in files.items():
        path = tmp_path / "lab" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    root = tmp_path / "lab"
    known = {".".join(["lab", *p.relative_to(root).with_suffix("").parts]).removesuffix(".__init__"): p
             for p in root.rglob("*.py")}
    return {n: imports_of(n, p, known) for n, p in known.items()}


@pytest.mark.parametrize(("files", "expected"), [
    ({"plan/build.py": "def f():\n    from lab.apply import nodes\n", "apply/nodes.py": ""}, "plan (plan) is below apply"),
    ({"apply/x.py": "import lab.privatelink.control\n", "privatelink/control.py": ""}, "is below privatelink"),
    ({"cli/x.py": "from lab.state.store import LabState\n", "state/store.py": ""}, "clients may import only"),
    ({"verify/x.py": "from lab.privatelink import shapes\n", "privatelink/shapes.py": ""}, "are peers"),
    ({"api.py": "from lab.cli import main\n", "cli/main.py": ""}, "is below cli"),
    ({"verify/engine.py": "from lab.verify.session import LabHandle\n", "verify/session.py": ""}, "is below verify.session"),
])
def test_a_forbidden_import_is_caught(tmp_path, files, expected):
    found = violations(_fake(tmp_path, files))
    assert any(expected in v for v in found), found


def test_a_cycle_is_caught(tmp_path):
    edges = _fake(tmp_path, {"plan/a.py": "from lab.plan import b\n", "plan/b.py": "def f():\n    import lab.plan.a\n"})
    assert cycles(edges) == [["lab.plan.a", "lab.plan.b"]]
    assert cycles(_fake(tmp_path, {"plan/b.py": "x = 1\n"})) == []
