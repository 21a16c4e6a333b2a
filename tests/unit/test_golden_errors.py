"""Golden tests for bad input (as netlab's tests/errors): every invalid topology in
tests/golden/errors/NAME.yaml must make `lab up -t NAME.yaml` exit 2 with exactly the line in
NAME.log on stderr, and create nothing: no state folder, no namespace carrying the lab's name.

The bad command-line arguments are a table in tests/golden/errors/cli.txt (same checks).

Regenerate the expected messages after a deliberate wording change, then review the diff:

    .venv/bin/python tests/unit/test_golden_errors.py --update

Runs without root: the state root is a temp folder, and every case fails before `lab up`
touches the kernel (topology and name checks come before the root check).
"""

from __future__ import annotations

import os
import secrets
import shlex
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "golden" / "errors"
CLI_TABLE = CORPUS / "cli.txt"
NETNS_DIR = Path("/run/netns")


def corpus_cases() -> list[Path]:
    return sorted(CORPUS.glob("*.yaml"))


def cli_cases() -> list[tuple[str, str]]:
    """(arguments, expected last stderr line) from cli.txt: `ARGS  =>  EXPECTED`, '#' comments."""
    rows = []
    for line in CLI_TABLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            args, sep, expected = line.partition(" => ")
            assert sep, f"cli.txt: no ' => ' in {line!r}"
            rows.append((args.strip(), expected.strip()))
    return rows


def _placeholders() -> dict[str, str]:
    """Facts that other work changes (the list of built-in topologies), kept out of the golden text."""
    from lab.topology.load import builtin_topologies

    return {"{builtins}": ", ".join(builtin_topologies()) or "none"}


def _expand(text: str) -> str:
    for key, value in _placeholders().items():
        text = text.replace(key, value)
    return text


def _run_lab(argv: list[str], capsys) -> tuple[int, list[str]]:
    from lab.cli.main import main

    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


def _lab_residue(lab: str, state_root: Path) -> list[str]:
    left = [str(p) for p in state_root.rglob("*")] if state_root.exists() else []
    if NETNS_DIR.is_dir():
        left += [f"/run/netns/{n}" for n in os.listdir(NETNS_DIR) if n.startswith(f"pl-{lab}.")]
    return left


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """cwd = the repo (so messages show the relative path), a private state root, a fresh lab name."""
    state_root = tmp_path / "state"
    monkeypatch.setenv("PRIVATELINK_LAB_STATE", str(state_root))
    # Safety net, not a stand-in: every case must fail before this point. If one ever passed
    # validation it would otherwise bring up a real lab (as root) that no test tears down.
    import lab.apply.bringup

    def refuse(_plan):
        pytest.fail("this input passed validation and would have brought up a real lab")

    monkeypatch.setattr(lab.apply.bringup, "preflight", refuse)  # lab.api.up calls it through its module
    monkeypatch.chdir(REPO)
    return state_root, f"golden-{secrets.token_hex(2)}"


def test_corpus_is_complete():
    cases = corpus_cases()
    assert len(cases) >= 40, f"only {len(cases)} bad topologies in {CORPUS}"
    missing = [c.name for c in cases if not c.with_suffix(".log").exists()]
    assert not missing, f"no .log for {missing}; run: python {Path(__file__).relative_to(REPO)} --update"
    orphans = [p.name for p in CORPUS.glob("*.log") if not p.with_suffix(".yaml").exists()]
    assert not orphans, f".log without a .yaml: {orphans}"


@pytest.mark.parametrize("case", corpus_cases(), ids=lambda p: p.stem)
def test_bad_topology(case: Path, isolated, capsys):
    state_root, lab = isolated
    code, lines = _run_lab(["up", "-t", str(case.relative_to(REPO)), "--name", lab], capsys)
    expected = _expand(case.with_suffix(".log").read_text().strip())
    assert code == 2, f"exit {code}, stderr: {lines}"
    assert len(lines) == 1, f"expected one line, got: {lines}"
    assert lines[0] == expected
    assert lines[0].startswith("error: ") and "; fix: " in lines[0]
    assert _lab_residue(lab, state_root) == []


@pytest.mark.parametrize(("args", "expected"), cli_cases(), ids=[a for a, _ in cli_cases()])
def test_bad_cli_arguments(args: str, expected: str, isolated, capsys):
    state_root, lab = isolated
    argv = shlex.split(args.replace("{lab}", lab))
    if argv[0] in ("down", "exec") and os.geteuid() != 0:
        pytest.skip(f"`lab {argv[0]}` checks for root before its arguments")
    code, lines = _run_lab(argv, capsys)
    assert code == 2, f"exit {code}, stderr: {lines}"
    assert lines, "no message on stderr"
    assert lines[-1] == _expand(expected.replace("{lab}", lab))
    assert _lab_residue(lab, state_root) == []


def test_oversized_file_is_refused_before_parsing(isolated, tmp_path, capsys):
    """Generated rather than stored: a 1 MiB file has no place in the repository."""
    state_root, lab = isolated
    big = tmp_path / "big.yaml"
    big.write_text("description: " + "x" * (1 << 20) + "\n")
    code, lines = _run_lab(["up", "-t", str(big), "--name", lab], capsys)
    assert code == 2
    assert lines == [f"error: {big}: file is {big.stat().st_size} bytes, over the 1 MiB limit; "
                     "fix: split or shrink the topology"]
    assert _lab_residue(lab, state_root) == []


def test_directory_instead_of_file(isolated, capsys):
    state_root, lab = isolated
    code, lines = _run_lab(["up", "-t", "tests/golden", "--name", lab], capsys)
    assert code == 2
    assert lines == ["error: tests/golden: cannot be read (Is a directory); fix: give the path of a readable YAML file"]
    assert _lab_residue(lab, state_root) == []


def test_down_with_a_path_as_name_touches_nothing(tmp_path, monkeypatch, capsys):
    """`--name ../x` once made `lab down` remove a folder outside the state root."""
    if os.geteuid() != 0:
        pytest.skip("`lab down` checks for root before its arguments")
    monkeypatch.setenv("PRIVATELINK_LAB_STATE", str(tmp_path / "state"))
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("mine")
    (tmp_path / "state").mkdir()
    code, lines = _run_lab(["down", "--name", "../victim"], capsys)
    assert code == 2
    assert (victim / "keep").read_text() == "mine"
    assert "is not a valid lab name" in lines[-1]


# -- regeneration --------------------------------------------------------------------------------

def update_golden() -> int:
    """Rewrite every NAME.log from what `lab up` says now (cli.txt is edited by hand)."""
    import contextlib
    import io
    import tempfile

    import lab.apply.bringup
    from lab.cli.main import main

    def refuse(_plan):  # a case that passes validation must never bring up a real lab
        raise SystemExit("a corpus case passed validation; fix the case before updating")

    lab.apply.bringup.preflight = refuse
    os.chdir(REPO)
    placeholders = _placeholders()
    changed = 0
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PRIVATELINK_LAB_STATE"] = tmp
        for case in corpus_cases():
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = main(["up", "-t", str(case.relative_to(REPO)), "--name", "golden-update"])
            if code != 2:
                print(f"{case.name}: exit {code}, not 2 -- not a bad-input case?", file=sys.stderr)
                continue
            line = err.getvalue().strip().splitlines()[-1]
            for key, value in placeholders.items():
                line = line.replace(value, key)
            log = case.with_suffix(".log")
            if not log.exists() or log.read_text().strip() != line:
                log.write_text(line + "\n")
                changed += 1
                print(f"{case.stem}: {line}")
    print(f"{changed} golden file(s) written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: python {sys.argv[0]} --update")
    sys.exit(update_golden())
