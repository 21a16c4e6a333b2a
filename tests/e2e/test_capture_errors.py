"""A capture that fails is one line with a fix and exit 1, never a traceback (issue 10, item 3).

Real failures, on labs this test brings up: an interface that vanished under the capture (an
instance's veth deleted), and a namespace deleted under it. `lab capture` and `lab verify` both
open a capture socket on every link they watch, and both must report the failure the same way.
Each lab ends with `lab down`, checked clean by the independent audit.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import audit  # noqa: E402  (tests/audit.py)

pytestmark = pytest.mark.root

FIX = ("fix: the lab is not as its plan says (a link or namespace is gone): see `lab status`, and rebuild the lab "
       "with `lab down` and `lab up`")


def _up(purpose: str) -> str:
    lab = f"t-{purpose}-{secrets.token_hex(2)}"
    up = audit.run_lab("up", "--name", lab)
    assert up.returncode == 0, up.stderr
    return lab


def _down(lab: str) -> None:
    down = audit.run_lab("down", "--name", lab)
    assert down.returncode == 0, down.stderr
    audit.assert_clean(lab)


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode == 1, f"exit {result.returncode}: {result.stderr}"
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), result.stderr
    return errors[0]


def test_an_interface_that_vanished_is_one_line_from_capture_and_verify(tmp_path):
    lab = _up("capif")
    try:
        # The client's veth: deleting its eth0 takes the router's end (the captured one) with it.
        client_ns = f"pl-{lab}.consumer.consumer-client"
        subprocess.run(["ip", "-n", client_ns, "link", "del", "eth0"], check=True, timeout=10)
        captured = audit.run_lab("capture", "--name", lab, "-w", str(tmp_path), "--seconds", "1", "consumer-client")
        line = _one_error_line(captured)
        assert line.startswith("error: cannot capture on i-consumer-"), line
        assert line.endswith(f" in pl-{lab}.consumer (link consumer-subnet/consumer-client): [Errno 19] No such "
                             f"device; {FIX}"), line
        assert not list(tmp_path.iterdir()), "a failed capture wrote pcaps"

        verified = audit.run_lab("verify", "--name", lab)
        assert _one_error_line(verified) == line
    finally:
        _down(lab)


def test_a_namespace_deleted_under_the_capture_is_one_line(tmp_path):
    lab = _up("capns")
    try:
        # The provider VPC's router namespace, where the target links are captured. Only its name goes
        # (`ip netns del` unmounts it); `lab down` still finds and removes everything else.
        router = f"pl-{lab}.provider"
        subprocess.run(["ip", "netns", "del", router], check=True, timeout=10)
        captured = audit.run_lab("capture", "--name", lab, "-w", str(tmp_path), "--seconds", "1", "target-a")
        line = _one_error_line(captured)
        assert line.startswith(f"error: cannot open a capture socket in /run/netns/{router} for link "
                               "provider-subnet/target-a: "), line
        assert line.endswith(FIX), line
    finally:
        _down(lab)
