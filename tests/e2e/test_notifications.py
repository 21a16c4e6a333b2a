"""Consumer-side notifications end to end on the basic lab (with acceptance required): the endpoint's
own command subscriber hears Connect (at `lab up`), Accept and Delete (from the real `lab` CLI), acting
for the endpoint's owner; a flaky subscriber that fails its first call is delivered on the retry,
and `lab events --deliveries` shows both attempts. Checks read the subscribers' own files.

One lab for the module (tests run in file order and build on each other's state).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from lab import api
from lab.privatelink import edit
from lab.resources import data_dir

pytestmark = pytest.mark.root

LAB = f"t-notif-{secrets.token_hex(2)}"
CLI = [sys.executable, "-m", "lab.cli.main"]
CONSUMER = "222222222222"


def lab(*args: str, code: int = 0) -> dict | str:
    done = subprocess.run([*CLI, *args, "--name", LAB], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == code, f"lab {' '.join(args)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout) if "--format" in args else done.stderr


def recorder(path: Path) -> list[str]:
    """Appends [event, endpoint, state, LAB_ACCOUNT, LAB_ATTEMPT] per call."""
    code = ("import json, os, sys; e = json.load(sys.stdin); "
            f"open({str(path)!r}, 'a').write(json.dumps([e['ConnectionEvent'], e['Lab']['Endpoint'], "
            "e['VpcEndpointState'], os.environ['LAB_ACCOUNT'], os.environ['LAB_ATTEMPT']]) + '\\n')")
    return [sys.executable, "-c", code]


def flaky(counter: Path) -> list[str]:
    """Fails its first call (exit 1) and succeeds from the second on: the count is kept in a file."""
    code = (f"import pathlib, sys; sys.stdin.read(); p = pathlib.Path({str(counter)!r}); "
            "n = int(p.read_text()) + 1 if p.exists() else 1; p.write_text(str(n)); sys.exit(0 if n >= 2 else 1)")
    return [sys.executable, "-c", code]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("notifications")
    raw = edit.load((data_dir("topologies") / "basic.yaml").read_text())
    raw["endpoint_services"][0]["acceptance_required"] = True  # Connect at up, Accept by the CLI
    raw["endpoints"][0]["notifications"] = [
        {"command": recorder(tmp / "heard.jsonl"), "timeout": 10},
        {"command": flaky(tmp / "count"), "events": ["Connect"], "timeout": 10},
    ]
    topology = tmp / "notify.yaml"
    topology.write_text(edit.dump(raw))
    api.up(topology, LAB)
    try:
        yield tmp
    finally:
        api.down(LAB)


def heard(files: Path) -> list[list[str]]:
    path = files / "heard.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def deliveries(event: str) -> list[dict]:
    return [d for d in lab("events", "--deliveries", "--format", "json")["Deliveries"] if d["ConnectionEvent"] == event]


def test_lab_up_tells_the_endpoint_owner_about_its_connect(files):
    assert heard(files) == [["Connect", "web-endpoint", "pendingAcceptance", CONSUMER, "1"]]


def test_the_flaky_subscriber_is_delivered_on_retry(files):
    assert (files / "count").read_text() == "2"  # called twice: failed, then succeeded
    flaky_attempts = [d for d in deliveries("Connect") if d["Side"] == "endpoint" and d["Subscriber"] == 1]
    assert [(d["Attempt"], d["Ok"], d["Final"]) for d in flaky_attempts] == [(1, False, False), (2, True, True)]
    assert flaky_attempts[0]["ExitCode"] == 1 and flaky_attempts[0]["RetryIn"] > 0
    text = subprocess.run([*CLI, "events", "--deliveries", "--name", LAB], capture_output=True, text=True,
                          timeout=60, check=True, env={**os.environ, "COLUMNS": "200"}).stdout  # no wrapped cells
    assert "retry in" in text and "endpoint web-endpoint #1" in text


def test_accept_by_the_provider_reaches_the_consumers_subscriber(files):
    lab("endpoint", "accept", "web-endpoint", "--account", "provider")
    assert heard(files)[-1] == ["Accept", "web-endpoint", "available", CONSUMER, "1"]
    (accept,) = [d for d in deliveries("Accept") if d["Side"] == "endpoint"]  # the flaky one asked for Connect only
    assert accept["Ok"] and accept["Attempt"] == 1 and accept["Endpoint"] == "web-endpoint"


def test_delete_reaches_the_subscriber_of_the_endpoint_it_removed(files):
    lab("endpoint", "delete", "web-endpoint", "--account", "consumer")
    assert heard(files)[-1] == ["Delete", "web-endpoint", "deleted", CONSUMER, "1"]
    assert [row[0] for row in heard(files)] == ["Connect", "Accept", "Delete"]
    events = lab("events", "--format", "json")["Events"]
    assert [e["ConnectionEvent"] for e in events] == ["Connect", "Accept", "Delete"]
    assert all(any(d["Side"] == "endpoint" and d["Ok"] for d in e["Deliveries"]) for e in events)
