"""The red variant of Direct Connect (direct-connect-unadvertised.yaml: the VPC side announces only
10.0.9.0/24, where no ENI lives): the BGP session is up, yet the data centre never learns a route to the
endpoint, so `lab verify` must FAIL on the on-prem flows -- and only on them: the VPC's own client
still passes. CI expects this red, as it expects leaky.yaml red.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.root, pytest.mark.lab_topology("direct-connect-unadvertised")]


@pytest.fixture(scope="module")
def report(lab) -> tuple[int, dict]:
    proc = subprocess.run([sys.executable, "-m", "lab.cli.main", "verify", "--name", lab.name, "--format", "json",
                           "--no-wait-health-checks"], capture_output=True, text=True, timeout=180)
    return proc.returncode, json.loads(proc.stdout)


def test_session_is_up_but_the_endpoint_is_not_advertised(lab) -> None:
    proc = subprocess.run([sys.executable, "-m", "lab.cli.main", "status", "--name", lab.name, "--format", "json"],
                          capture_output=True, text=True, timeout=60)
    (vif,) = json.loads(proc.stdout)["virtual_interfaces"]
    assert vif["BgpPeers"][0]["BgpStatus"] == "up"
    sessions = {s["Side"]: s for s in vif["Lab"]["Sessions"]}
    assert sessions["customer"]["LearnedRoutes"] == ["10.0.9.0/24"]


def test_verify_is_red_for_the_onprem_flows_only(report) -> None:
    code, doc = report
    assert code == 1 and not doc["ok"]
    failed = [c for c in doc["checks"] if c["status"] == "fail"]
    assert failed and all(c["subject"].startswith("dc-client") for c in failed), failed
    assert any(c["category"] == "path" and "did not complete" in c["message"] for c in failed)
    cloud = [c for c in doc["checks"] if c["category"] == "path" and c["subject"].startswith("cloud-client")]
    assert cloud and all(c["status"] == "pass" for c in cloud)
