"""`lab graph` and `lab usage` from the command line, without root: files written (or not, on bad
input), stdout formats, --help."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from lab.cli.main import main
from lab.graph.formats import dot_binary


def run(argv, capsys):
    capsys.readouterr()
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_dot_to_a_file(tmp_path, capsys):
    out = tmp_path / "basic.dot"
    code, stdout, _ = run(["graph", "-t", "basic", "--format", "dot", "-o", str(out)], capsys)
    assert code == 0 and out.read_text().startswith("graph ") and f"wrote {out}" in stdout


def test_bad_format_writes_nothing(tmp_path, capsys):
    out = tmp_path / "x.svg"
    code, _, err = run(["graph", "-t", "basic", "--format", "gif", "-o", str(out)], capsys)
    assert code == 2 and not out.exists() and err.count("\n") == 1


def test_mermaid_and_json_to_stdout(capsys):
    code, stdout, _ = run(["graph", "-t", "multi-tenant", "--format", "mermaid"], capsys)
    assert code == 0 and stdout.startswith("flowchart LR") and "pendingAcceptance" in stdout
    code, stdout, _ = run(["graph", "-t", "leaky", "--format", "json"], capsys)
    data = json.loads(stdout)
    assert code == 0 and data["source"] == "planned" and any(e["kind"] == "peering" for e in data["edges"])


@pytest.mark.skipif(dot_binary() is None, reason="needs Graphviz's dot")
def test_svg_is_the_default_format(capsys):
    code, stdout, _ = run(["graph", "-t", "basic"], capsys)
    assert code == 0 and ET.fromstring(stdout.encode()).tag.endswith("svg")


@pytest.mark.parametrize("command", ["graph", "usage", "metrics"])
def test_help(command, capsys):
    code, stdout, _ = run([command, "--help"], capsys)
    assert code == 0 and "--format" in stdout and "--name" in stdout


def test_without_graphviz_svg_says_so_and_text_formats_still_work(monkeypatch, tmp_path, capsys):
    import lab.graph.formats

    monkeypatch.setattr(lab.graph.formats, "dot_binary", lambda: None)
    out = tmp_path / "x.svg"
    code, _, err = run(["graph", "-t", "basic", "-o", str(out)], capsys)
    assert code == 2 and "needs Graphviz's `dot`" in err and not out.exists()
    code, stdout, _ = run(["graph", "-t", "basic", "--format", "dot"], capsys)
    assert code == 0 and stdout.startswith("graph ")
