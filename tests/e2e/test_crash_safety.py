"""Crash safety: `lab up` killed with SIGKILL at every bring-up step (LAB_FAULT_STEP) and at
random moments, then `lab down`, must leave ZERO residue -- checked by tests/audit.py, which asks
the system (ip, Docker, mountinfo, /proc, the file system), not the lab's journal.

Bystanders must survive every cleanup: a second, unrelated lab (still answering through its
endpoint at the end), a foreign namespace with a veth pair inside, and a foreign container.
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
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import audit  # noqa: E402  (tests/audit.py)

from lab import api  # noqa: E402
from lab.apply.bringup import STEPS  # noqa: E402

pytestmark = pytest.mark.root

RUN = secrets.token_hex(2)
CRASH_LAB = f"t-crash-{RUN}"
OTHER_LAB = f"t-other-{RUN}"
FOREIGN = f"t-foreign-{RUN}"
RANDOM_KILLS = 3
RANDOM_KILL_BUDGET_S = 90


@pytest.fixture(scope="module")
def other_lab():
    """An unrelated lab that stays up during every crash and cleanup of CRASH_LAB."""
    try:
        result = api.up("basic", OTHER_LAB)
        yield result.plan
    finally:
        api.down(OTHER_LAB)
        audit.assert_clean(OTHER_LAB)


@pytest.fixture(scope="module")
def foreign(other_lab):
    """A namespace (with a veth pair inside) and a container that belong to no lab."""
    import docker

    from lab.image import NLB_IMAGE_TAG

    subprocess.run(["ip", "netns", "add", FOREIGN], check=True, timeout=10)
    subprocess.run(["ip", "-n", FOREIGN, "link", "add", "fa", "type", "veth", "peer", "name", "fb"], check=True, timeout=10)
    client = docker.from_env()
    container = client.containers.create(NLB_IMAGE_TAG, name=FOREIGN, network_mode="none",
                                         labels={"privatelink-lab.test": FOREIGN})
    try:
        yield FOREIGN
    finally:
        container.remove(force=True)
        client.close()
        subprocess.run(["ip", "netns", "del", FOREIGN], timeout=10)


def _bystanders_intact(other_before: dict) -> None:
    assert FOREIGN in audit.namespaces(), "the foreign namespace was removed"
    links = subprocess.run(["ip", "-n", FOREIGN, "-j", "link", "show"], capture_output=True, text=True, timeout=10)
    assert {"fa", "fb"} <= {link["ifname"] for link in json.loads(links.stdout)}, "the foreign veth pair was removed"
    assert audit.containers(FOREIGN, key="privatelink-lab.test") == [FOREIGN], "the foreign container was removed"
    assert audit.residue(OTHER_LAB) == other_before, "the unrelated lab changed"


def _down_and_audit(other_before: dict) -> None:
    down = audit.run_lab("down", "--name", CRASH_LAB, "--format", "json")
    assert down.returncode == 0, f"lab down failed: {down.stderr}"
    audit.assert_clean(CRASH_LAB)
    _bystanders_intact(other_before)


@pytest.mark.parametrize("step", STEPS)
def test_sigkill_at_each_step_then_down_leaves_nothing(step, other_lab, foreign):
    other_before = audit.residue(OTHER_LAB)
    assert other_before["containers"] and other_before["namespaces"]
    up = audit.run_lab("up", "--name", CRASH_LAB, env={"LAB_FAULT_STEP": step})
    assert up.returncode == -signal.SIGKILL, f"lab up was meant to die at {step}: rc {up.returncode} {up.stderr[-500:]}"
    assert audit.state_root().joinpath(CRASH_LAB).exists(), "the crashed lab left no state for `lab down` to use"
    _down_and_audit(other_before)


def test_sigkill_at_random_moments_then_down_leaves_nothing(other_lab, foreign):
    other_before = audit.residue(OTHER_LAB)
    rng = random.Random(os.environ.get("LAB_TEST_SEED", RUN))
    deadline = time.monotonic() + RANDOM_KILL_BUDGET_S
    delays = []
    for _ in range(RANDOM_KILLS):
        assert time.monotonic() < deadline, f"random kills over budget after {delays}"
        delay = rng.uniform(0.05, 2.0)
        delays.append(round(delay, 2))
        proc = subprocess.Popen([*audit.lab_command(), "up", "--name", CRASH_LAB],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.kill()  # our own child, by its PID
        proc.wait(timeout=30)
        _down_and_audit(other_before)
    print(f"killed `lab up` after {delays} s")


def test_the_unrelated_lab_still_answers(other_lab, foreign):
    """Runs last: after all the crashes and cleanups, the bystander lab serves through its endpoint."""
    client = next(i["Netns"] for i in other_lab.inventory["instances"] if i["Name"] == "consumer-client")
    for eni in other_lab.endpoints[0].enis:
        out = subprocess.run(["ip", "netns", "exec", client, "curl", "-s", "-m", "5", f"http://{eni.ip}/"],
                             capture_output=True, text=True, timeout=15)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["vpce_id"] == other_lab.endpoints[0].id
