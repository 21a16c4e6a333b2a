"""Faults under bounded load: HAProxy reloaded mid-traffic, a target killed, an NLB node killed.

One lab per module (topology written here): two AZs, two targets in AZ a (so one can die) and
one in AZ b, health checks every 5 s (AWS's minimum) with unhealthy threshold 2, an endpoint in
both AZs. Requests come from consumer-client over real sockets opened inside its namespace (a
worker thread joins that namespace once). Every loop is bounded in count and in time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import secrets
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import audit  # noqa: E402
from labs import two_az  # noqa: E402

from lab import api  # noqa: E402

pytestmark = pytest.mark.root

HC_INTERVAL_S, HC_FALL = 5, 2
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

TOPOLOGY = two_az("fault tests: two targets in AZ a, one in AZ b, 5 s health checks",
                  {"target-a1": "a", "target-a2": "a", "target-b": "b"}, interval_s=HC_INTERVAL_S, fall=HC_FALL)


class Client:
    """Requests from inside a namespace: one worker thread that joined it and never leaves."""

    def __init__(self, netns: str):
        self.pool = ThreadPoolExecutor(max_workers=1, initializer=self._join, initargs=(netns,))

    @staticmethod
    def _join(netns: str) -> None:
        fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns {netns}")
        finally:
            os.close(fd)

    @staticmethod
    def _request(ip: str, timeout: float) -> tuple[bool, str]:
        try:
            with socket.create_connection((ip, 80), timeout=timeout) as sock:
                sock.sendall(b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError as err:
            return False, f"{type(err).__name__}: {err}"
        body = b"".join(chunks).partition(b"\r\n\r\n")[2]
        try:
            return True, json.loads(body)["instance"]
        except (ValueError, KeyError):
            return False, f"no answer (got {len(body)} bytes)"

    def request(self, ip: str, timeout: float = 2.0) -> tuple[bool, str]:
        return self.pool.submit(self._request, ip, timeout).result(timeout + 5)

    def close(self) -> None:
        self.pool.shutdown()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    name = f"t-fault-{secrets.token_hex(2)}"
    path = tmp_path_factory.mktemp("faults") / "faults.yaml"
    path.write_text(yaml.safe_dump(TOPOLOGY, sort_keys=False))
    try:
        result = api.up(path, name)
    except BaseException:
        api.down(name)  # a bring-up that failed late may have left a lab up
        raise
    client = Client(next(i["Netns"] for i in result.plan.inventory["instances"] if i["Name"] == "consumer-client"))
    try:
        yield result.plan, client
    finally:
        client.close()
        api.down(name)
        audit.assert_clean(name)


def _eni(plan, az: str):
    return next(e for e in plan.endpoints[0].enis if e.az == az)


def _node(plan, az: str):
    return next(n for n in plan.nodes if n.az == az)


def test_reload_under_load_drops_no_connection(lab):
    """SIGUSR2 to each node's master several times while requests flow: zero failed connections."""
    plan, client = lab
    rt = api.runtime()
    enis = [_eni(plan, "us-east-1a").ip, _eni(plan, "us-east-1b").ip]
    results: list[tuple[bool, str]] = []
    stop = threading.Event()

    def load() -> None:
        deadline = time.monotonic() + 20
        for i in range(10000):  # bounded in count and in time; stopped once the reloads are done
            if stop.is_set() or time.monotonic() > deadline:
                return
            results.append(client.request(enis[i % 2]))

    worker = threading.Thread(target=load)
    worker.start()
    reloads = 0
    try:
        time.sleep(0.3)
        for _ in range(4):
            for node in plan.nodes:
                rt.reload(node.container)
                reloads += 1
            time.sleep(0.7)
        time.sleep(0.5)
    finally:
        stop.set()
        worker.join(timeout=30)
    failures = [detail for ok, detail in results if not ok]
    print(f"\nreload under load: {reloads} reloads, {len(results)} requests, {len(failures)} failed")
    assert len(results) > 100, "too few requests to say anything"
    assert failures == [], f"{len(failures)} of {len(results)} requests failed during reloads: {failures[:5]}"


def test_killed_target_is_taken_out_by_health_checks(lab):
    plan, client = lab
    eni_a = _eni(plan, "us-east-1a").ip
    assert {client.request(eni_a)[1] for _ in range(4)} == {"target-a1", "target-a2"}

    # Kill target-a1's demo target by the owner token the lab journaled for it: only our process.
    journal = audit.state_root() / plan.lab / "journal.jsonl"
    token = next(e["token"] for e in map(json.loads, journal.read_text().splitlines())
                 if e["kind"] == "process" and e["instance"] == "target-a1")
    pids = audit.processes_with(token)
    assert len(pids) == 1
    os.kill(pids[0], 9)
    killed_at = time.monotonic()

    last_failure, streak, sent = None, 0, 0
    budget = HC_INTERVAL_S * HC_FALL + 12
    while time.monotonic() - killed_at < budget and sent < 400:  # bounded in time and count
        ok, detail = client.request(eni_a)
        sent += 1
        if ok:
            assert detail == "target-a2", f"answered by {detail} after target-a1 was killed"
            streak += 1
        else:
            last_failure, streak = time.monotonic(), 0
        if last_failure is not None and streak >= 30:
            break
        time.sleep(0.05)
    assert last_failure is not None, "no request failed: was target-a1 really serving?"
    window = last_failure - killed_at
    print(f"\ndetection window: {window:.1f} s (health checks every {HC_INTERVAL_S} s, unhealthy after {HC_FALL}); "
          f"{sent} requests")
    assert streak >= 30, f"requests still failing {budget} s after the kill"
    assert window <= HC_INTERVAL_S * HC_FALL + 2, f"took {window:.1f} s to take the target out"
    # After the window: every request succeeds, all on the surviving target.
    answers = [client.request(eni_a) for _ in range(20)]
    assert answers == [(True, "target-a2")] * 20


def test_killed_nlb_node_fails_its_eni_cleanly_and_the_other_az_keeps_working(lab):
    plan, client = lab
    rt = api.runtime()
    eni_a, eni_b = _eni(plan, "us-east-1a").ip, _eni(plan, "us-east-1b").ip
    assert client.request(eni_b) == (True, "target-b")
    rt.kill(_node(plan, "us-east-1b").container)
    for _ in range(3):
        t0 = time.monotonic()
        ok, detail = client.request(eni_b, timeout=2.0)
        took = time.monotonic() - t0
        assert not ok, f"the dead node's ENI still answered: {detail}"
        assert took < 4.0, f"failing took {took:.1f} s"
        # Refused, no route (the ENI's neighbour entry failed) or a timeout: a clean, bounded failure.
        assert any(kind in detail for kind in ("Timeout", "timed out", "Refused", "No route to host")), detail
    answers = [client.request(eni_a) for _ in range(20)]
    assert all(ok for ok, _ in answers), answers
    assert {d for _, d in answers} == {"target-a2"}  # target-a1 was killed by the previous test
