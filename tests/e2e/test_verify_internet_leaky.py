"""RED on purpose (internet-vs-private-leaky.yaml): private DNS is off on the endpoint, so the
consumer's resolver answers the service's name with the NLB's public address, and the flow that
the topology declares must stay private goes over the internet. `lab verify` must fail, naming
the consumer's IGW link as the first hop that broke the rule; the declared internet flow passes.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.root, pytest.mark.lab_topology("internet-vs-private-leaky")]


@pytest.fixture(scope="module")
def cli_report(lab):
    proc = subprocess.run([sys.executable, "-m", "lab.cli.main", "verify", "--name", lab.name, "--format", "json",
                           "--no-wait-health-checks"], capture_output=True, text=True, timeout=120)
    return proc, json.loads(proc.stdout)


def test_verify_fails_at_the_consumers_igw(cli_report) -> None:
    proc, report = cli_report
    assert proc.returncode == 1 and not report["ok"]
    assert report["leaking_links"][0] == "igw/consumer"
    [leak] = [c for c in report["checks"] if c["status"] == "fail" and c["category"] == "path"]
    assert leak["subject"] == "consumer-client -> public api.example.com:80" and leak["leak"]
    assert "first hop that broke the rule: igw/consumer (igw, public)" in leak["message"]
    assert leak["links"][0] == "igw/consumer"


def test_the_name_answered_the_public_address_and_the_hops_show_the_internet(cli_report) -> None:
    _, report = cli_report
    [flow] = [f for f in report["name_flows"] if f["qname"] == "api.example.com"]
    assert flow["public"] and flow["answers"] == ["203.0.113.20"] and flow["verdict"] == "fail"
    links = [h["link"] for h in flow["hops"]]
    assert links[:2] == ["consumer-subnet/consumer-client", "igw/consumer"]
    assert links.index("internet/provider") < links.index("igw/provider") < links.index("nlb-target/web-nlb@us-east-1a")


def test_the_declared_internet_flow_is_still_fine(cli_report) -> None:
    _, report = cli_report
    [inet] = report["internet_flows"]
    assert inet["exposure"] == "public" and inet["status"] == 200 and inet["verdict"] == "pass"
