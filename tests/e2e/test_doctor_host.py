"""`lab doctor` for real: its kernel findings agree with an independent probe (`ip` in a
namespace of this test), it leaves no throwaway namespace behind, and an unreachable Docker
engine makes it exit 1 with a fix."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import audit  # noqa: E402

pytestmark = pytest.mark.root


def _doctor(env: dict | None = None) -> tuple[int, dict]:
    out = audit.run_lab("doctor", "--format", "json", env=env, timeout=60)
    return out.returncode, json.loads(out.stdout)


def _ip_can_create(kind: str) -> bool:
    ns = f"t-doc-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", ns], check=True, timeout=10)
    try:
        extra = ["table", "4243"] if kind == "vrf" else ["peer", "name", "y0"] if kind == "veth" else []
        return subprocess.run(["ip", "-n", ns, "link", "add", "x0", "type", kind, *extra],
                              capture_output=True, timeout=10).returncode == 0
    finally:
        subprocess.run(["ip", "netns", "del", ns], timeout=10)


def test_doctor_on_this_host_agrees_with_ip_and_cleans_up():
    before = [n for n in audit.namespaces() if n.startswith("pl-doctor-")]
    code, report = _doctor()
    checks = {c["name"]: c for c in report["checks"]}
    assert {"root", "docker", "image", "veth", "bridge", "vrf", "netem", "nftables", "br_netfilter", "rp_filter",
            "iptables-forward", "netns-dir", "disk"} <= set(checks)
    assert code == (1 if any(c["blocks"] for c in checks.values()) else 0) == (0 if report["ok"] else 1)
    for kind in ("veth", "bridge", "vrf"):
        assert (checks[kind]["status"] == "ok") == _ip_can_create(kind), checks[kind]
    for check in checks.values():
        assert check["status"] == "ok" or check["fix"], f"{check['name']} is {check['status']} without a fix"
    assert [n for n in audit.namespaces() if n.startswith("pl-doctor-")] == before


def test_unreachable_docker_blocks(tmp_path):
    code, report = _doctor({"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})
    docker = next(c for c in report["checks"] if c["name"] == "docker")
    assert code == 1 and report["ok"] is False
    assert docker["status"] == "fail" and "dockerd" in docker["fix"]
