"""examples/auto_accept.py, the talk's "Lambda": its decision, and the `lab` call it makes (the call
itself against a real lab is in tests/e2e/test_control_plane.py)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from lab.privatelink.notify import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "examples" / "auto_accept.py"


@pytest.fixture(scope="module")
def auto_accept():
    spec = importlib.util.spec_from_file_location("auto_accept", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def run(stdin: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], input=stdin, capture_output=True, text=True,
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
