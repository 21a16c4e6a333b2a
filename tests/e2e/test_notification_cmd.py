"""`lab notification create|list|delete` on the basic lab, through the real CLI: subscriptions made
at run time are stored in the lab's topology, are delivered the events they asked for (read from
the subscribers' own files), can only be made or removed by their owner, and bad input changes
nothing. One lab for the module; tests run in file order and build on each other's state."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from lab import api
from lab.state.store import LabState

pytestmark = pytest.mark.root

LAB = f"t-nfn-{secrets.token_hex(2)}"
CLI = [sys.executable, "-m", "lab.cli.main"]
CONSUMER, PROVIDER = "222222222222", "111111111111"


def lab(*args: str, code: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run([*CLI, *args, "--name", LAB], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == code, f"lab {' '.join(args)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def recorder(path: Path) -> str:
    """A shell command line appending [event, endpoint state, LAB_ACCOUNT] per delivery."""
    code = ("import json, os, sys; e = json.load(sys.stdin); "
            f"open({str(path)!r}, 'a').write(json.dumps([e['ConnectionEvent'], e['VpcEndpointState'], "
            "os.environ['LAB_ACCOUNT']]) + chr(10))")
    return f"{sys.executable} -c \"{code}\""


def heard(path: Path) -> list[list[str]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def listing(account: str | None = None) -> list[dict]:
    args = ["notification", "list", "--format", "json"] + (["--account", account] if account else [])
    return json.loads(lab(*args).stdout)["ConnectionNotificationSet"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    api.up("basic", LAB)
    try:
        yield tmp_path_factory.mktemp("nfn")
    finally:
        api.down(LAB)


def test_the_endpoint_owner_subscribes_and_it_is_stored(files):
    assert listing() == []
    out = json.loads(lab("notification", "create", "-a", "consumer", "--endpoint", "web-endpoint",
                         "--command", recorder(files / "consumer.jsonl"), "--events", "Reject,Delete",
                         "--format", "json").stdout)["ConnectionNotification"]
    assert out["ConnectionNotificationId"].startswith("vpce-nfn-") and len(out["ConnectionNotificationId"]) == 26
    assert out["VpcEndpointId"].startswith("vpce-") and out["ConnectionEvents"] == ["Reject", "Delete"]
    assert out["Lab"]["OwnerId"] == CONSUMER and out["ConnectionNotificationState"] == "Enabled"
    assert listing() == [out] and listing("consumer") == [out] and listing("provider") == []
    assert "notifications:" in LabState(LAB).topology_file.read_text()  # the desired state holds it


def test_bad_requests_are_refused_and_change_nothing(files):
    before = LabState(LAB).topology_file.read_text()
    cases = [
        (["-a", "provider", "--endpoint", "web-endpoint", "--command", "true"], "only its owner consumer"),
        (["-a", "consumer", "--endpoint", "web-endpoint", "--command", recorder(files / "consumer.jsonl"),
          "--events", "Reject,Delete"], "already has this subscription"),
        (["-a", "consumer", "--endpoint", "web-endpoint", "--service", "web-service", "--command", "true"],
         "name exactly one of them"),
        (["-a", "consumer", "--endpoint", "web-endpoint"], "exactly one kind of subscriber"),
        (["-a", "consumer", "--endpoint", "web-endpoint", "--command", "true", "--events", "Connect,Boom"],
         "not a list of connection events"),
        (["-a", "provider", "--service", "web-service", "--webhook", "http://10.0.1.10:8080/", "--from", "nosuch"],
         "notifications[0].from: no instance or VPC 'nosuch'"),
        (["-a", "consumer", "--endpoint", "web-endpoint", "--command", "true", "--timeout", "0"], "timeout"),
    ]
    for args, message in cases:
        done = lab("notification", "create", *args, code=2)
        assert message in done.stderr and done.stderr.count("error:") == 1, done.stderr
    assert lab("notification", "delete", "-a", "consumer", "vpce-nfn-00000000000000000", code=2).stderr.count(
        "no connection notification vpce-nfn-00000000000000000") == 1
    mine = listing()[0]["ConnectionNotificationId"]
    assert "only its owner consumer" in lab("notification", "delete", "-a", "provider", mine, code=2).stderr
    assert LabState(LAB).topology_file.read_text() == before


def test_a_subscription_made_at_run_time_hears_its_events(files):
    lab("notification", "create", "-a", "provider", "--service", "web-service",
        "--command", recorder(files / "provider.jsonl"), "--events", "Reject,Delete")
    assert heard(files / "consumer.jsonl") == [] and heard(files / "provider.jsonl") == []
    lab("endpoint", "reject", "-a", "provider", "web-endpoint")
    assert heard(files / "consumer.jsonl") == [["Reject", "rejected", CONSUMER]]
    assert heard(files / "provider.jsonl") == [["Reject", "rejected", PROVIDER]]


def test_deleted_subscriptions_hear_nothing_more(files):
    ids = {n["Lab"]["OwnerId"]: n["ConnectionNotificationId"] for n in listing()}
    out = json.loads(lab("notification", "delete", "-a", "provider", ids[PROVIDER], "--format", "json").stdout)
    assert [d["ConnectionNotificationId"] for d in out["Deleted"]] == [ids[PROVIDER]]
    assert [n["ConnectionNotificationId"] for n in listing()] == [ids[CONSUMER]]
    lab("endpoint", "delete", "-a", "consumer", "web-endpoint")
    # The consumer's subscription hears its endpoint's Delete; the provider's is gone and hears nothing.
    assert heard(files / "consumer.jsonl")[-1] == ["Delete", "deleted", CONSUMER]
    assert len(heard(files / "provider.jsonl")) == 1
    assert listing() == []  # the endpoint, and with it its subscription, is gone
