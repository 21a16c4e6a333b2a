"""cross-region.yaml: an eu-west-1 consumer with a cross-region endpoint (service in us-east-1, over the
backbone link) and an in-region one. `lab verify` is green, residency included; PPv2 still carries the
consumer's address and the endpoint ID; a backbone link taken down (on the lab's own veth end) makes the
cross-region endpoint time out (bounded: curl -m 3) while the in-region endpoint keeps answering.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.root, pytest.mark.lab_topology("cross-region")]


def _eni(lab, endpoint: str) -> dict:
    ep = next(e for e in lab.plan["endpoints"] if e["name"] == endpoint)
    return ep["enis"][0]


def _curl(lab, ip: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab.cli.main", "exec", "--name", lab.name, "eu-client", "--",
                           "curl", "-s", "-m", "3", f"http://{ip}/"], capture_output=True, text=True, timeout=30)


def test_verify_is_green_and_names_the_backbone(lab) -> None:
    proc = subprocess.run([sys.executable, "-m", "lab.cli.main", "verify", "--name", lab.name, "--format", "json",
                           "--no-wait-health-checks"], capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["ok"], proc.stdout[-2000:]
    residency = [c for c in report["checks"] if c["category"] == "residency"]
    assert len(residency) == 2 and all(c["status"] == "pass" for c in residency)
    paths = [c["message"] for c in report["checks"] if c["category"] == "path"]
    assert any("backbone/web-xr@eu-west-1a => nlb-target/web-nlb@us-east-1a" in m for m in paths)


def test_ppv2_carries_the_consumer_and_the_endpoint_across_regions(lab) -> None:
    eni = _eni(lab, "web-xr")
    body = json.loads(_curl(lab, eni["ip"]).stdout)
    vpce = next(e["id"] for e in lab.plan["endpoints"] if e["name"] == "web-xr")
    assert body["vpce_id"] == vpce and body["client"].startswith("10.0.1.10:") and body["az"] == "us-east-1a"


def test_backbone_down_fails_the_cross_region_endpoint_only(lab) -> None:
    eni, local = _eni(lab, "web-xr"), _eni(lab, "eu-endpoint")
    veth = next(v for v in lab.plan["veths"] if v["a"]["ifname"] == eni["ifname"])
    router, ifname = veth["b"]["place"]["name"], veth["b"]["ifname"]  # the lab's own end, in the VPC router
    subprocess.run(["ip", "-n", router, "link", "set", ifname, "down"], check=True)
    try:
        cut = _curl(lab, eni["ip"])
        kept = _curl(lab, local["ip"])
    finally:
        subprocess.run(["ip", "-n", router, "link", "set", ifname, "up"], check=True)
    assert cut.returncode == 28, (cut.returncode, cut.stdout)  # curl's timeout: bounded by -m 3, no answer
    assert json.loads(kept.stdout)["instance"] == "eu-target"
