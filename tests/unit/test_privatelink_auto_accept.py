"""lab.apps.auto_accept, the talk's "Lambda": its decision, and the `lab` call it makes (the call
itself against a real lab is in tests/e2e/test_control_plane.py, and from an installed wheel in
tests/e2e/test_installed_wheel.py). examples/auto_accept.py is a pointer to it that must keep working."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab.apps import auto_accept as auto_accept_module

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "auto_accept.py"


@pytest.fixture(scope="module")
def auto_accept():
    return auto_accept_module


def event(**overrides) -> dict:
    return {"EventId": "evt-000001", "ConnectionEvent": "Connect", "VpcEndpointState": "pendingAcceptance",
            "VpcEndpointOwner": "222222222222", "VpcEndpointId": "vpce-0abc", "ServiceOwner": "111111111111",
            **overrides}


@pytest.mark.parametrize("overrides, accept, words", [
    ({}, True, "on the allow-list"),
    ({"VpcEndpointOwner": "444444444444"}, False, "not on the allow-list"),
    ({"ConnectionEvent": "Accept"}, False, "ignored"),
    ({"VpcEndpointState": "available"}, False, "not pendingAcceptance"),
])
def test_it_accepts_only_pending_connects_from_allowed_accounts(auto_accept, overrides, accept, words):
    decision, reason = auto_accept.decide(event(**overrides), {"222222222222", "333333333333"})
    assert decision is accept and words in reason


def run(stdin: str, *args: str, env: dict | None = None, how: tuple = ("-m", "lab.apps.auto_accept"),
        ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *how, *args], input=stdin, capture_output=True, text=True,
                          timeout=30, env=env, check=False)


def test_it_calls_lab_endpoint_accept_as_the_service_owner(tmp_path):
    argv_file = tmp_path / "argv.json"
    # A recording stand-in for `lab` (this unit test is about the call; the e2e test makes it for real).
    recorder = (f"{sys.executable} -c \"import json, sys; json.dump(sys.argv[1:], open({str(argv_file)!r}, 'w')); "
                "print(json.dumps({'VpcEndpoints': [{'State': 'available'}]}))\"")
    done = run(json.dumps(event()), "--allow", "222222222222", "--lab", "t-x", "--lab-cli", recorder)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["accept"] is True and report["state"] == "available"
    assert json.loads(argv_file.read_text()) == ["endpoint", "accept", "--name", "t-x", "--account", "111111111111",
                                                 "--format", "json", "vpce-0abc"]


def test_it_leaves_others_alone_without_calling_anything(tmp_path):
    done = run(json.dumps(event(VpcEndpointOwner="444444444444")), "--allow", "222222222222",
               "--lab-cli", "/nonexistent/lab")
    assert done.returncode == 0 and json.loads(done.stdout)["accept"] is False


def test_bad_input_is_reported_as_json():
    done = run("not json", "--allow", "222222222222")
    assert done.returncode == 2 and json.loads(done.stdout)["decision"] == "error"


@pytest.mark.parametrize("how", [(str(EXAMPLE),), ("-S", str(EXAMPLE))], ids=["with-lab-installed", "plain-python"])
def test_the_example_file_still_runs_the_same_code(tmp_path, how):
    """Topologies written for `[python3, examples/auto_accept.py, ...]` keep working, also with a
    python3 that has no `lab` installed (-S: no site-packages), from the checkout's package."""
    done = run(json.dumps(event(VpcEndpointOwner="444444444444")), "--allow", "222222222222",
               "--lab-cli", "/nonexistent/lab", how=how)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"event": "evt-000001", "endpoint": "vpce-0abc", "accept": False,
                                       "reason": "left pending: owner 444444444444 is not on the allow-list"}
