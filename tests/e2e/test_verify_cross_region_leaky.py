"""cross-region-leaky.yaml, the red variant: an EU consumer's endpoint whose service lives in us-east-1,
under a rule that its bytes stay in eu-west-1. `lab verify` must fail, for residency, naming the backbone link.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.root, pytest.mark.lab_topology("cross-region-leaky")]


def test_verify_is_red_and_names_the_backbone_link(lab) -> None:
    proc = subprocess.run([sys.executable, "-m", "lab.cli.main", "verify", "--name", lab.name, "--format", "json",
                           "--no-wait-health-checks"], capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and not report["ok"]
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert failed and {c["category"] for c in failed} == {"residency"}
    assert all(c["links"][0] == "backbone/web-xr@eu-west-1a" and "reached us-east-1 over backbone/web-xr@eu-west-1a"
               in c["message"] for c in failed)
