"""Targets that come and go (issue 13 §4): `lab target register|deregister|health` on a live lab.

One lab for the module: two targets behind one NLB with cross-zone on (so either node can send to
either target), PPv2 on, HTTP health checks on /health, a deregistration delay of DELAY_S.

The draining test opens a long-lived connection (the demo target's `GET /echo`) to target-a, then
deregisters target-a. During the delay the open connection keeps exchanging data with target-a,
and every new connection reaches target-b only. Every loop is bounded in count and time.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_azs import TOPOLOGY as AZ_TOPOLOGY  # noqa: E402 - the AZ tests' two-target lab
from test_faults import Client  # noqa: E402 - one thread inside a namespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import audit  # noqa: E402

from lab import api
from lab.cli.main import main as lab_main

pytestmark = pytest.mark.root

DELAY_S = 8
HEALTHY_WAIT_S = 40.0

TOPOLOGY = copy.deepcopy(AZ_TOPOLOGY)
TOPOLOGY["description"] = "target tests: two targets, cross-zone on, HTTP checks, an 8 s deregistration delay"
TOPOLOGY["nlbs"][0]["cross_zone"] = True
TOPOLOGY["nlbs"][0]["target_groups"][0].update(
    deregistration_delay=DELAY_S,
    health_check={"protocol": "HTTP", "path": "/health", "matcher": "200-399", "interval": 5,
                  "healthy_threshold": 2, "unhealthy_threshold": 2})


@pytest.fixture(scope="module")
def lab(tmp_path_factory, lab_runner):
    folder = tmp_path_factory.mktemp("targets")
    with lab_runner(TOPOLOGY, "targets", folder) as (name, plan):
        client = Client(next(i["Netns"] for i in plan.inventory["instances"] if i["Name"] == "consumer-client"))
        try:
            yield name, plan, client
        finally:
            client.close()
    audit.assert_clean(name)


def _states(name: str) -> dict[str, str]:
    return {d["Lab"]["Instance"]: d["TargetHealth"]["State"] for d in api.target_health(name, "web")}


def _wait_states(name: str, wanted: dict[str, str], timeout: float = HEALTHY_WAIT_S) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        now = _states(name)
        if all(now.get(k) == v for k, v in wanted.items()) or time.monotonic() > deadline:
            return now
        time.sleep(0.5)


class Echo:
    """A `GET /echo` connection from the client's namespace: one line out, one line back."""

    def __init__(self, client: Client, ip: str):
        self.client = client
        self.sock = client.pool.submit(socket.create_connection, (ip, 80), 3.0).result(10)
        self.sock.settimeout(3.0)
        self.sock.sendall(b"GET /echo HTTP/1.1\r\nHost: lab\r\n\r\n")
        self.buf = b""
        head = self._line()
        while head.strip():
            head = self._line()
        self.instance = json.loads(self._line())["instance"]

    def _line(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def ping(self, n: int) -> str:
        self.sock.sendall(b"ping %d\n" % n)
        return self._line().decode()

    def close(self) -> None:
        self.sock.close()


def _eni_ip(plan, az: str = "us-east-1a") -> str:
    return next(e for e in plan.endpoints[0].enis if e.az == az).ip


def test_deregistration_drains_open_connections_and_sends_new_ones_elsewhere(lab):
    name, plan, client = lab
    ip = _eni_ip(plan)
    assert _wait_states(name, {"target-a": "healthy", "target-b": "healthy"}) == \
        {"target-a": "healthy", "target-b": "healthy"}
    conns = []
    try:
        for _ in range(4):  # round robin over two targets: one of the first two lands on target-a
            conns.append(Echo(client, ip))
            if conns[-1].instance == "target-a":
                break
        kept = next(c for c in conns if c.instance == "target-a")
        assert kept.ping(0) == "target-a ping 0"

        t0 = time.monotonic()
        change = api.deregister_targets(name, "web", ["target-a"])
        [desc] = change.descriptions
        assert desc["TargetHealth"]["State"] == "draining", desc
        assert desc["TargetHealth"]["Reason"] == "Target.DeregistrationInProgress"
        assert _states(name)["target-a"] == "draining"

        answered, pings = [], 0
        while time.monotonic() - t0 < DELAY_S - 2 and pings < 40:  # bounded: inside the delay
            assert kept.ping(pings) == f"target-a ping {pings}"  # the open connection goes on
            ok, who = client.request(ip)
            assert ok, who
            answered.append(who)
            pings += 1
            time.sleep(0.2)
        assert pings >= 5, f"only {pings} exchanges inside the {DELAY_S} s delay"
        assert set(answered) == {"target-b"}, answered  # no new connection reached target-a

        gone = _wait_drained(name)
        assert "target-a" in gone
        assert "target-a" not in _states(name)
        [after] = api.target_health(name, "web", ["target-a"])
        assert after["TargetHealth"] == {"State": "unused", "Reason": "Target.NotRegistered",
                                         "Description": "Target is not registered to the target group"}
        for _ in range(6):
            ok, who = client.request(ip)
            assert ok and who == "target-b", who
    finally:
        for c in conns:
            c.close()

    api.register_targets(name, "web", ["target-a"])
    states = _wait_states(name, {"target-a": "healthy"})
    assert states["target-a"] == "healthy", states
    seen = {client.request(ip)[1] for _ in range(6)}
    assert seen == {"target-a", "target-b"}, seen


def _wait_drained(name: str) -> list[str]:
    from lab.privatelink.targets import wait_drained

    return wait_drained(name, "web", ["target-a"])


def test_http_check_with_a_code_outside_the_matcher_makes_the_target_unhealthy(lab):
    """The check's path answers 500 (the demo target's /status/NNN): HAProxy's check fails on the code."""
    name, _plan, _client = lab
    from lab.privatelink.control import transaction

    with transaction(name) as txn:  # the topology's health check path, changed live as any NLB setting is
        raw = copy.deepcopy(txn.raw)
        raw["nlbs"][0]["target_groups"][0]["health_check"]["path"] = "/status/500"
        txn.apply(raw, "health check path", set())
    try:
        states = _wait_states(name, {"target-a": "unhealthy", "target-b": "unhealthy"})
        assert states == {"target-a": "unhealthy", "target-b": "unhealthy"}, states
        desc = api.target_health(name, "web")
        assert all(d["TargetHealth"]["Reason"] == "Target.FailedHealthChecks" for d in desc), desc
        assert any("500" in d["TargetHealth"]["Description"] for d in desc), desc
    finally:
        with transaction(name) as txn:
            raw = copy.deepcopy(txn.raw)
            raw["nlbs"][0]["target_groups"][0]["health_check"]["path"] = "/health"
            txn.apply(raw, "health check path", set())


def test_deregistering_a_target_that_is_not_registered_is_exit_2_and_changes_nothing(lab, capsys):
    name, _plan, _client = lab
    before = (audit.state_root() / name / "topology.yaml").read_text()
    capsys.readouterr()
    code = lab_main(["target", "deregister", "--name", name, "--target-group", "web", "consumer-client"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2
    assert err == [f"error: TARGET: no instance 'consumer-client' in VPC 'provider' of load balancer 'web-nlb'; "
                   "fix: use one of: target-a, target-b"], err
    api.deregister_targets(name, "web", ["target-b"])
    try:
        code = lab_main(["target", "deregister", "--name", name, "--target-group", "web", "target-b"])
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert code == 2 and "target-b is already deregistering" in err[-1], err
    finally:
        api.register_targets(name, "web", ["target-b"])
    assert os.path.exists(audit.state_root() / name / "topology.yaml") and before


def test_an_accepted_endpoint_is_pending_before_available_in_show_and_events(lab, capsys):
    """AWS's sequence after acceptance: pendingAcceptance -> pending -> available, each timestamped."""
    name, _plan, _client = lab
    api.set_acceptance(name, "provider", "web-service", True)
    created = api.create_endpoint(name, "consumer", "consumer", "web-service", ["consumer-a"], "second")
    vpce = created.endpoints[0]["VpcEndpointId"]
    try:
        assert created.endpoints[0]["State"] == "pendingAcceptance"
        accepted = api.accept_connections(name, "provider", [vpce])
        history = api.describe_endpoint(name, vpce)["Lab"]["History"]
        assert [h["State"] for h in history] == ["pendingAcceptance", "pending", "available"], history
        assert history[0]["Time"] <= history[1]["Time"] < history[2]["Time"], history  # pending lasts the data plane
        [event] = [e for e in accepted.events if e["ConnectionEvent"] == "Accept"]
        assert [s["State"] for s in event["Lab"]["StateTransitions"]] == ["pending", "available"]
        assert [s["Time"] for s in event["Lab"]["StateTransitions"]] == [h["Time"] for h in history[1:]]
        capsys.readouterr()
        assert lab_main(["endpoint", "show", "--name", name, vpce]) == 0
        shown = capsys.readouterr().out
        assert " pending " in shown and history[1]["Time"] in shown, shown
        assert lab_main(["events", "--name", name]) == 0
        assert "pending (" in capsys.readouterr().out
    finally:
        api.delete_endpoints(name, "consumer", [vpce])
        api.set_acceptance(name, "provider", "web-service", False)
