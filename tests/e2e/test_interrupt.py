"""Ctrl-C during `lab up` (issue 10, item 4): whatever the moment, what `lab up` reports and its exit
code must match what is really there, as `lab list` and the independent audit (tests/audit.py) see it:

- exit 130, "interrupted at step 'S'; rolled back: nothing of lab 'L' is left", and nothing left; or
- exit 0, "lab 'L' is up", and the lab fully up: the same namespaces, links, containers and
  processes as a lab brought up without interruption, answering through its endpoint.

Never "aborted", never a traceback. The moments are hit deterministically through bring-up's
test-only hook LAB_TEST_SIGINT_AT (lab.apply.bringup: the process sends itself SIGINT as a step
begins, once the lab is up, as `lab.api.up` returns, or as a rollback begins). A last test
sends SIGINT from outside at a few random moments (seeded; LAB_TEST_SEED) and checks the same
agreement, whatever the moment turned out to be. Every run uses its own lab name and ends with
`lab down`.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import audit  # noqa: E402  (tests/audit.py)

from lab.apply.bringup import STEPS  # noqa: E402

pytestmark = pytest.mark.root

RUN = secrets.token_hex(2)
MOMENTS = ("start", *STEPS, "up", "returned")
LAB_IS_UP_AFTER = {"up", "returned"}  # moments at which the last step is already done
RANDOM_INTERRUPTS = 3


def _shape(lab: str) -> dict:
    """What the audit finds, with the lab's name taken out: comparable between two labs."""
    found = audit.residue(lab)
    prefix = f"pl-{lab}."
    links = Counter(link.split("/")[0].removeprefix(prefix) for link in found.get("links", []))
    return {"namespaces": sorted(n.removeprefix(prefix) for n in found.get("namespaces", [])),
            "links": dict(sorted(links.items())),
            "containers": sorted(c.removeprefix(prefix) for c in found.get("containers", [])),
            "processes": len(found.get("processes", []))}


def _listed(lab: str) -> bool:
    out = audit.run_lab("list", "--format", "json")
    assert out.returncode == 0, out.stderr
    return lab in json.loads(out.stdout)


@pytest.fixture(scope="module")
def reference():
    """The shape and the ENI addresses of a `basic` lab brought up without interruption."""
    lab = f"t-iref-{RUN}"
    try:
        up = audit.run_lab("up", "--name", lab, "--format", "json")
        assert up.returncode == 0, up.stderr
        enis = [e["PrivateIpAddress"] for ep in json.loads(up.stdout)["endpoints"] for e in ep["Lab"]["Enis"]]
        shape = _shape(lab)
    finally:
        assert audit.run_lab("down", "--name", lab).returncode == 0
    audit.assert_clean(lab)
    assert shape["namespaces"] and shape["containers"] and shape["processes"] and enis
    return {"shape": shape, "enis": enis}


def _answers(lab: str, enis: list[str]) -> None:
    client = f"pl-{lab}.consumer.consumer-client"
    for ip in enis:
        out = subprocess.run(["ip", "netns", "exec", client, "curl", "-s", "-m", "5", f"http://{ip}/"],
                             capture_output=True, text=True, timeout=15)
        assert out.returncode == 0, f"{lab} reported up, but nothing answers through {ip}: {out.stderr}"
        assert json.loads(out.stdout)["vpce_id"].startswith("vpce-")


def _check_report_matches_the_lab(lab: str, up: subprocess.CompletedProcess, reference: dict) -> str:
    """Returns 'up' or 'rolled back', after checking that the report, the exit code, `lab list` and
    the audit all agree."""
    everything = up.stdout + up.stderr
    assert "Traceback" not in everything, everything
    assert "aborted" not in everything.lower(), everything
    lines = [ln for ln in up.stderr.splitlines() if ln.strip()]
    if up.returncode == 0:
        assert f"lab {lab!r} is up" in up.stdout, everything
        assert _listed(lab), f"`lab up` said {lab} is up, `lab list` does not show it"
        assert _shape(lab) == reference["shape"], "`lab up` said the lab is up, the audit finds it incomplete"
        _answers(lab, reference["enis"])
        return "up"
    assert up.returncode == 130, f"exit {up.returncode}, expected 0 (up) or 130 (rolled back):\n{everything}"
    assert lines[-1].startswith("interrupted at step '"), everything
    assert lines[-1].endswith(f"'; rolled back: nothing of lab {lab!r} is left"), everything
    assert not _listed(lab), f"`lab up` said {lab} was rolled back, `lab list` still shows it"
    audit.assert_clean(lab)
    return "rolled back"


def _up_interrupted(lab: str, env: dict) -> subprocess.CompletedProcess:
    return audit.run_lab("up", "--name", lab, env=env)


def _down(lab: str) -> None:
    down = audit.run_lab("down", "--name", lab)
    assert down.returncode == 0, down.stderr
    audit.assert_clean(lab)


@pytest.mark.parametrize("moment", MOMENTS)
def test_sigint_at_each_moment_the_report_matches_the_lab(moment, reference):
    lab = f"t-int-{secrets.token_hex(3)}"
    try:
        up = _up_interrupted(lab, {"LAB_TEST_SIGINT_AT": moment})
        outcome = _check_report_matches_the_lab(lab, up, reference)
        assert outcome == ("up" if moment in LAB_IS_UP_AFTER else "rolled back"), up.stderr
        last = up.stderr.splitlines()[-1]
        if outcome == "up":
            assert last.endswith(f"interrupted after the lab was up: lab {lab!r} is up and left up "
                                 f"(`lab down --name {lab}` removes it)"), up.stderr
        else:
            assert last == f"interrupted at step '{moment}'; rolled back: nothing of lab {lab!r} is left"
    finally:
        _down(lab)


@pytest.mark.parametrize("step", ["nodes", "config"])
def test_a_second_sigint_during_the_rollback_does_not_cut_it_short(step, reference):
    lab = f"t-int-{secrets.token_hex(3)}"
    try:
        up = _up_interrupted(lab, {"LAB_TEST_SIGINT_AT": f"{step},rollback"})
        assert _check_report_matches_the_lab(lab, up, reference) == "rolled back"
        assert f"interrupted at step '{step}'; rolling back" in up.stderr
    finally:
        _down(lab)


def test_sigint_from_outside_at_random_moments(reference, tmp_path):
    """Real Ctrl-C timing: SIGINT sent by this test to its own child at a random moment of its
    bring-up (counted from its "bringing up lab" line, so never during Python's start-up); whatever
    that moment was, the report must match the lab."""
    rng = random.Random(os.environ.get("LAB_TEST_SEED", RUN))
    outcomes = []
    for n in range(RANDOM_INTERRUPTS):
        lab = f"t-intr-{secrets.token_hex(3)}"
        delay = rng.uniform(0.0, 2.5)
        out_file, err_file = tmp_path / f"{n}.out", tmp_path / f"{n}.err"
        try:
            with open(out_file, "w") as out, open(err_file, "w") as err:
                proc = subprocess.Popen([*audit.lab_command(), "up", "--name", lab], stdout=out, stderr=err)
            deadline = time.monotonic() + 60
            while "bringing up lab" not in err_file.read_text() and proc.poll() is None:
                assert time.monotonic() < deadline, f"no 'bringing up lab' line in 60 s: {err_file.read_text()}"
                time.sleep(0.01)
            time.sleep(delay)
            proc.send_signal(signal.SIGINT)  # our own child, by its PID (a no-op once it has exited)
            proc.wait(timeout=120)
            up = subprocess.CompletedProcess(proc.args, proc.returncode, out_file.read_text(), err_file.read_text())
            outcomes.append((round(delay, 2), _check_report_matches_the_lab(lab, up, reference)))
        finally:
            _down(lab)
    print(f"SIGINT after 'bringing up' (s, outcome): {outcomes}")
