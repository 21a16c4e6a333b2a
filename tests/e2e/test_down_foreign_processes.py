"""`lab down` never signals a process it did not start, even inside its own namespaces; it reports it."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time

import pytest

from lab import api

pytestmark = pytest.mark.root


def test_a_process_the_lab_did_not_start_survives_down_and_is_reported():
    name = f"t-frgn-{secrets.token_hex(2)}"
    result = api.up("basic", name)
    client_ns = next(i["Netns"] for i in result.plan.inventory["instances"] if i["Name"] == "consumer-client")
    # A user's long-running command in a lab instance (bounded: it ends by itself after 60 s).
    user = subprocess.Popen(["ip", "netns", "exec", client_ns, "sleep", "60"])
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # wait until `ip netns exec` has become `sleep` inside the namespace
            try:
                if os.readlink(f"/proc/{user.pid}/ns/net") != os.readlink("/proc/self/ns/net"):
                    break
            except OSError:
                pass
            time.sleep(0.02)
        report = api.down(name)
        assert user.poll() is None, "lab down killed a process it did not start"
        assert [p["pid"] for p in report.foreign_processes] == [user.pid]
        assert report.foreign_processes[0]["netns"] == client_ns
        assert not os.path.exists(f"/run/netns/{client_ns}")  # the lab's own objects are gone all the same
    finally:
        user.send_signal(signal.SIGTERM)
        user.wait(timeout=5)
        api.down(name)
