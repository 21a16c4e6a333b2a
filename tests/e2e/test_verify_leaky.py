"""On the deliberately leaky lab (leaky.yaml: the consumer VPC is also peered with the provider)
`lab verify` must FAIL, and for the right reason: traffic from the consumer reaches the provider
over the peering link, which the report names first, with the offending packets. The path through
the endpoint itself is still fine, and the report must say so too.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lab.verify.assertions import assert_not_on

pytestmark = [pytest.mark.root, pytest.mark.lab_topology("leaky")]


@pytest.fixture(scope="module")
def cli_report(lab):
    """One `lab verify` run of the leaky lab, as JSON and as text (same checks, two renderings)."""
    proc = subprocess.run([sys.executable, "-m", "lab.cli.main", "verify", "--name", lab.name, "--format", "json",
                           "--no-wait-health-checks"], capture_output=True, text=True, timeout=120)
    text = subprocess.run([sys.executable, "-m", "lab.cli.main", "verify", "--name", lab.name, "--no-ledger",
                           "--no-wait-health-checks"], capture_output=True, text=True, timeout=120)
    return proc, json.loads(proc.stdout), text


def test_verify_fails_with_exit_1_and_names_the_peering(cli_report) -> None:
    proc, report, text = cli_report
    assert proc.returncode == 1 and text.returncode == 1
    assert not report["ok"] and report["leaking_links"][0] == "peering/leak"
    assert "leaking link(s): peering/leak (peering)" in text.stdout.splitlines()[1]


def test_it_fails_for_the_leak_and_not_for_the_endpoint(cli_report) -> None:
    _, report, text = cli_report
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    # Probes from both consumer instances to both targets and both NLB provider legs went over the peering.
    isolation = [c for c in failed if c["category"] == "isolation"]
    assert len(isolation) == 24 and all(c["links"][0] == "peering/leak" for c in isolation)
    assert any(c["subject"] == "consumer-client -> provider instance target-a 10.0.1.10:8080"
               and "crossed peering/leak (peering)" in c["message"] and "answer: open" in c["message"]
               for c in isolation)
    # The offending packets are shown: the probe's SYN on the peering link.
    assert "peering/leak <- TCP 10.1.1.10:" in text.stdout
    # Nothing else is blamed: the flows through the endpoint keep their exact path and their PPv2 header.
    assert {c["category"] for c in failed} <= {"isolation", "cross-side", "snat"}
    by_name = {f["name"] for f in report["name_flows"]}  # flows by DNS name are judged alike; counted apart
    path = [c for c in report["checks"] if c["category"] == "path" and c["subject"] not in by_name]
    assert len(path) == 4 and all(c["status"] == "pass" for c in path)
    assert by_name and all(f["verdict"] == "pass" for f in report["name_flows"])


def test_a_users_probe_assertion_catches_the_leak(lab) -> None:
    with lab.capture():
        probe = lab.probe("consumer-client", "target-a", port=8080)
    assert probe.trace is not None and "peering/leak" in probe.trace.link_names
    with pytest.raises(AssertionError) as err:
        assert_not_on(probe)
    assert "peering/leak (peering)" in str(err.value) and "provider-subnet/target-a" in str(err.value)
