"""`lab up` / `lab down` through the CLI, as separate processes: a second lab under a taken name
is refused (exit 2, one line, the first lab untouched), two `lab up` racing for one name leave
exactly one lab, `lab down` works with the topology file gone and is safe to repeat. Residue is
checked by the independent audit (tests/audit.py)."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import audit  # noqa: E402

from lab.topology.load import builtin_topologies  # noqa: E402

pytestmark = pytest.mark.root


def _answers(lab: str) -> list[str]:
    """The endpoint IDs that answer through each ENI, asked from consumer-client with curl."""
    status = audit.run_lab("status", "--name", lab, "--format", "json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    client = next(i["Lab"]["Netns"] for i in data["instances"] if i["Lab"]["Name"] == "consumer-client")
    seen = []
    for eni in data["network_interfaces"]:
        ip = eni["PrivateIpAddress"]
        out = subprocess.run(["ip", "netns", "exec", client, "curl", "-s", "-m", "5", f"http://{ip}/"],
                             capture_output=True, text=True, timeout=15)
        assert out.returncode == 0, f"{lab}: no answer through {ip}: {out.stderr}"
        seen.append(json.loads(out.stdout)["vpce_id"])
    return seen


def test_taken_name_then_down_without_topology_then_down_again(tmp_path):
    lab = f"t-life-{secrets.token_hex(2)}"
    topology = tmp_path / "mine.yaml"
    shutil.copy(builtin_topologies()["basic"], topology)
    try:
        up = audit.run_lab("up", "-t", str(topology), "--name", lab, "--format", "json")
        assert up.returncode == 0, up.stderr
        endpoint_id = json.loads(up.stdout)["endpoints"][0]["VpcEndpointId"]
        assert _answers(lab) == [endpoint_id, endpoint_id]
        before = audit.residue(lab)

        # The same name again: refused before anything is touched.
        again = audit.run_lab("up", "-t", str(topology), "--name", lab)
        assert again.returncode == 2
        state_dir = audit.state_root() / lab
        assert again.stderr.strip().splitlines() == [
            f"error: --name: a lab named {lab!r} already exists (state in {state_dir}); "
            f"fix: run `lab down --name {lab}` first, or pick another --name"]
        assert audit.residue(lab) == before
        assert _answers(lab) == [endpoint_id, endpoint_id]

        # The user's topology file and the lab's own copy are gone: the journal is enough.
        topology.unlink()
        (state_dir / "topology.yaml").unlink()
        down = audit.run_lab("down", "--name", lab, "--format", "json")
        assert down.returncode == 0, down.stderr
        report = json.loads(down.stdout)
        assert report["found"] is True
        assert report["removed"]["namespaces"] == 6 and report["removed"]["containers"] == 2
        audit.assert_clean(lab)

        twice = audit.run_lab("down", "--name", lab, "--format", "json")
        assert twice.returncode == 0, twice.stderr
        assert json.loads(twice.stdout)["found"] is False
        audit.assert_clean(lab)
    finally:
        audit.run_lab("down", "--name", lab)
        audit.assert_clean(lab)


def test_two_ups_racing_for_one_name_leave_one_lab():
    lab = f"t-race-{secrets.token_hex(2)}"
    procs = [subprocess.Popen([*audit.lab_command(), "up", "--name", lab], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
        codes = sorted(code for code, _ in results)
        assert codes == [0, 2], f"expected one winner and one refusal: {results}"
        loser = next(err for code, err in results if code == 2).strip().splitlines()[-1]
        assert loser.startswith("error: --name: ") and lab in loser
        assert len(_answers(lab)) == 2  # the winner's lab is whole
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
        down = audit.run_lab("down", "--name", lab)
        assert down.returncode == 0, down.stderr
        audit.assert_clean(lab)


def test_down_of_a_lab_that_never_existed_changes_nothing():
    lab = f"t-none-{secrets.token_hex(2)}"
    namespaces_before = audit.namespaces()
    down = audit.run_lab("down", "--name", lab, "--format", "json")
    assert down.returncode == 0, down.stderr
    report = json.loads(down.stdout)
    assert report["found"] is False
    assert lab not in report["labs_up"] and report["labs_up"] == sorted(report["labs_up"])
    assert audit.namespaces() == namespaces_before
    audit.assert_clean(lab)
