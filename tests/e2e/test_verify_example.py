"""A user's test written with the plugin passes or fails for the right reasons.

Runs `examples/test_my_service.py` as a user would (pytest in a subprocess, plugin loaded from
the installed entry point), with one more test appended whose expectation is wrong: the example's
five tests must pass, the wrong one must fail with the ledger of links in its report, and the
lab the plugin brought up must be gone afterwards.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "test_my_service.py"

WRONG = '''

def test_a_wrong_expectation_fails_with_evidence(lab):
    with lab.capture():
        flow = lab.http("consumer-client", "web-endpoint")
    # Wrong on purpose: the NLB leg and the target's link are part of the path.
    assert_only_links(flow, ["consumer-subnet/consumer-client", "endpoint-eni/*"])
'''


def test_the_example_passes_and_a_wrong_expectation_fails(tmp_path: Path) -> None:
    user_test = tmp_path / "test_users_service.py"
    user_test.write_text(EXAMPLE.read_text() + WRONG)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", str(user_test)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-4000:]
    assert re.search(r"\b1 failed, 5 passed\b", out), out[-4000:]
    assert "FAILED test_users_service.py::test_a_wrong_expectation_fails_with_evidence" in out
    found = re.search(r"seen on unexpected link\(s\): (.*)", out)
    assert found, out[-6000:]
    unexpected = found.group(1)
    assert "nlb-target/web-nlb@" in unexpected and "provider-subnet/target-" in unexpected
    assert "warning" not in out.splitlines()[-1]  # e.g. no unknown-marker warning in a user's folder
    assert "ledger of links during the capture" in out and "privatelink-lab ledger (t-users-" in out
    # The plugin tore its lab down: no lab named after this module is left.
    labs = subprocess.run([sys.executable, "-m", "lab.cli.main", "list"], capture_output=True, text=True,
                          timeout=60).stdout
    name = re.search(r"privatelink-lab ledger \((t-users[a-z0-9-]*)\)", out).group(1)
    assert name not in labs.split()
