"""The NLB's TCP idle timeout as AWS has it (lab.apply.idle), on one lab with two listeners to one group.

Port 80 has `idle_timeout: 60` (AWS's minimum), port 81 keeps AWS's default of 350 s. Three connections
through the endpoint, side by side, each opened with `GET /echo` and one echoed line:
- idle on port 80 for 62 s: nothing arrives meanwhile (no FIN: AWS says nothing when it forgets a flow),
  then the client's next line is sent, and what comes back is a reset;
- idle on port 81 for the same 62 s (the red variant: the same wait under the default timeout): it echoes;
- active on port 80, a line every 20 s for the same time: it echoes every time.
The node counts the late packet it reset (table plidle). The wait is one bounded sleep; all traffic goes to
the lab's ENI address.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_faults import Client  # noqa: E402 - joins a namespace in a worker thread

from lab.apply import idle

pytestmark = pytest.mark.root

IDLE_S = 60
WAIT_S = IDLE_S + 2  # past the kernel's timeout, before HAProxy's own (IDLE_S + HAPROXY_GRACE_S)
LINE = b"hello after a while\n"


@pytest.fixture(scope="module")
def lab(lab_runner, tmp_path_factory):
    topology = yaml.safe_load((Path(__file__).resolve().parents[2] / "topologies" / "basic.yaml").read_text())
    topology["nlbs"][0]["listeners"] = [
        {"protocol": "TCP", "port": 80, "target_group": "web", "idle_timeout": IDLE_S},
        {"protocol": "TCP", "port": 81, "target_group": "web"},
    ]
    with lab_runner(topology, "idle", tmp_path_factory.mktemp("idle")) as (name, plan):
        yield name, plan


def _open(ip: str, port: int):
    sock = socket.create_connection((ip, port), timeout=10)
    sock.sendall(b"GET /echo HTTP/1.1\r\nHost: lab\r\n\r\n")
    reader = sock.makefile("rb")
    while reader.readline() not in (b"\r\n", b""):
        pass
    reader.readline()  # the answer's JSON line
    sock.sendall(LINE)
    assert reader.readline().endswith(LINE)
    return sock, reader


def _idle_then_send(ip: str, port: int) -> dict:
    sock, reader = _open(ip, port)
    try:
        time.sleep(WAIT_S)
        sock.setblocking(False)
        try:
            early = sock.recv(1)  # b"" would be a FIN: AWS never sends one when it forgets a flow
        except BlockingIOError:
            early = None
        sock.settimeout(10)
        sock.sendall(LINE)  # the write itself succeeds: the reset answers it
        try:
            return {"early": early, "answer": reader.readline()}
        except ConnectionResetError:
            return {"early": early, "answer": "reset"}
    finally:
        sock.close()


def _active(ip: str, port: int) -> list[bytes]:
    sock, reader = _open(ip, port)
    answers, deadline = [], time.monotonic() + WAIT_S
    try:
        while time.monotonic() < deadline:
            time.sleep(min(20, max(0.0, deadline - time.monotonic())))
            sock.sendall(LINE)
            answers.append(reader.readline())
    finally:
        sock.close()
    return answers


def test_a_flow_idle_past_its_listeners_timeout_is_forgotten_and_its_next_packet_reset(lab):
    _, plan = lab
    inst = next(i for i in plan.inventory["instances"] if i["Name"] == "consumer-client")
    eni = plan.endpoints[0].enis[0].ip
    pool = ThreadPoolExecutor(max_workers=3, initializer=Client._join, initargs=(inst["Netns"],))
    try:
        short = pool.submit(_idle_then_send, eni, 80)
        default = pool.submit(_idle_then_send, eni, 81)
        active = pool.submit(_active, eni, 80)
        short, default, active = short.result(WAIT_S + 40), default.result(WAIT_S + 40), active.result(WAIT_S + 40)
    finally:
        pool.shutdown()
    assert short == {"early": None, "answer": "reset"}, short
    assert default["early"] is None and default["answer"].endswith(LINE), default
    assert len(active) >= 3 and all(a.endswith(LINE) for a in active), active

    resets = {n.container: _late_resets(n.container) for n in plan.nodes if n.frontends}
    assert sum(resets.values()) >= 1, resets


def _late_resets(container: str) -> int:
    """The node's `idle reset` counter, read with docker and nsenter rather than through the lab."""
    pid = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", container], capture_output=True, text=True,
                         check=True, timeout=10).stdout.strip()
    out = subprocess.run(["nsenter", "-t", pid, "-n", "nft", "-j", "list", "table", "inet", idle.TABLE],
                         capture_output=True, text=True, check=True, timeout=10).stdout
    for item in json.loads(out)["nftables"]:
        rule = item.get("rule", {})
        if rule.get("comment") == "idle reset":
            return next(e["counter"]["packets"] for e in rule["expr"] if "counter" in e)
    raise AssertionError(f"no idle reset rule in {container}")
