"""`lab down --name typo` stays exit 0 (down is idempotent) but names the labs that are up, with
the same words as `lab verify --name typo` (issue 10, item 6): a typo must not look like success."""

from __future__ import annotations

import os

import pytest

from lab.cli.main import main


@pytest.fixture
def one_lab_up(tmp_path, monkeypatch):
    root = tmp_path / "state"
    monkeypatch.setenv("PRIVATELINK_LAB_STATE", str(root))
    (root / "real-lab").mkdir(parents=True)
    (root / "real-lab" / "journal.jsonl").write_text("")  # what makes a lab "up" for list_labs()
    return root


def _run(argv, capsys):
    capsys.readouterr()
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out.strip(), out.err.strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="`lab down` checks for root before its arguments")
def test_down_of_a_lab_that_is_not_up_names_the_labs_that_are(one_lab_up, capsys):
    code, out, err = _run(["down", "--name", "typo"], capsys)
    assert code == 0, err
    assert out.startswith("lab 'typo' is not up; nothing to remove; labs up: real-lab (")
    assert (one_lab_up / "real-lab" / "journal.jsonl").exists()  # the real lab is untouched
    # The same words as `lab verify` / `lab status` for an unknown lab: one piece of code says it.
    code, _, err = _run(["status", "--name", "typo"], capsys)
    assert code == 2 and err.endswith("; labs up: real-lab")


@pytest.mark.skipif(os.geteuid() != 0, reason="`lab down` checks for root before its arguments")
def test_down_with_no_lab_up_says_none(one_lab_up, capsys):
    (one_lab_up / "real-lab" / "journal.jsonl").unlink()
    code, out, _ = _run(["down", "--name", "typo"], capsys)
    assert code == 0 and out.startswith("lab 'typo' is not up; nothing to remove; labs up: none (")
