"""The two inputs of issue 10 that hung or crashed `lab up`, through the real CLI in a separate
process with the real state root: `lab up -t /dev/zero` (hung) and 5,000 nested brackets
(a RecursionError traceback). Each must end with exit 2 and one line on stderr, well inside the
timeout, and leave nothing: no state folder, no namespace (the independent audit, tests/audit.py).

The timeout catches a hang; how long each takes is printed (`-s`), not asserted (benchmarks measure).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import audit  # noqa: E402

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
HANG_GUARD_S = 30  # the bound is 2 s; this only stops a hang from stalling the suite

CASES = {
    "dev-zero": ("/dev/zero", "error: /dev/zero: gives more than 1048576 bytes"),
    "nested-brackets": (str(REPO / "tests/golden/errors/yaml-nested-brackets.yaml"), "nested deeper than 32 levels"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_topology_is_one_line_exit_2_and_leaves_nothing(case, lab_name):
    path, expected = CASES[case]
    lab = lab_name("badin")
    t0 = time.perf_counter()
    result = audit.run_lab("up", "-t", path, "--name", lab, timeout=HANG_GUARD_S)
    seconds = time.perf_counter() - t0
    print(f"\n{case}: exit {result.returncode} in {seconds:.2f} s (CLI process, start-up included)")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1, f"{len(lines)} lines on stderr: {lines[:5]}"
    assert expected in lines[0] and "; fix: " in lines[0], lines[0]
    assert result.stdout == ""
    assert not (audit.state_root() / lab).exists()
    audit.assert_clean(lab)


def test_up_from_a_pipe_keeps_the_text_it_validated(lab_name):
    """`lab up` read the topology twice (to validate, then to save a copy): from a pipe the second
    read found nothing, so the lab's saved topology (read by verify, endpoint, dns) was empty."""
    lab = lab_name("pipe")
    text = (REPO / "topologies" / "basic.yaml").read_text()
    try:
        result = subprocess.run([*audit.lab_command(), "up", "-t", "/dev/stdin", "--name", lab], input=text,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        assert (audit.state_root() / lab / "topology.yaml").read_text() == text
    finally:
        audit.run_lab("down", "--name", lab)
    audit.assert_clean(lab)
