"""`lab metrics` on a live lab with a security group on its endpoint: a known number of bytes and
connections sent through one ENI (counted independently by curl) shows in that ENI's BytesProcessed
and NewConnections Sums; a client the group does not admit shows in PacketsDropped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from labs import ALLOWED, DENIED, basic_with_web_clients  # noqa: E402

pytestmark = pytest.mark.root

REQUESTS = 25
ACCURACY = 0.01  # HAProxy's payload counters against curl's: equal in practice; allow 1 %


@pytest.fixture(scope="module")
def lab(tmp_path_factory, lab_runner):
    with lab_runner(basic_with_web_clients(), "metrics", tmp_path_factory.mktemp("metrics")) as running:
        yield running


def lab_json(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "lab.cli.main", *args, "--format", "json"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def curl(netns: str, ip: str, seconds: int = 5) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", netns, "curl", "-s", "-o", "/dev/null", "-m", str(seconds), "-w",
                           "%{size_request} %{size_header} %{size_download}", f"http://{ip}/"],
                          capture_output=True, text=True, timeout=seconds + 10)


def per_eni(report: dict, metric: str, subnet_id: str) -> dict:
    return next(m for m in report["Metrics"] if m["MetricName"] == metric and m["Namespace"] == "AWS/PrivateLinkEndpoints"
                and {"Name": "Subnet Id", "Value": subnet_id} in m["Dimensions"])


def test_bytes_connections_and_drops_show_under_cloudwatch_names(lab):
    name, plan = lab
    (endpoint,) = plan.endpoints
    eni_a = next(e for e in endpoint.enis if e.az == "us-east-1a")
    eni_b = next(e for e in endpoint.enis if e.az == "us-east-1b")
    netns = {i["Name"]: i["Netns"] for i in plan.inventory["instances"]}
    lab_json("metrics", "--name", name)  # the baseline sample
    sent = 0
    for _ in range(REQUESTS):
        proc = curl(netns[ALLOWED], eni_a.ip)
        assert proc.returncode == 0, proc.stderr
        sent += sum(int(n) for n in proc.stdout.split())
    denied = curl(netns[DENIED], eni_b.ip, seconds=2)
    assert denied.returncode == 28  # timed out: dropped at the ENI, no reset
    report = lab_json("metrics", "--name", name, "--since", "10m")
    got = per_eni(report, "BytesProcessed", eni_a.subnet_id)["Sum"]
    assert abs(got - sent) <= ACCURACY * sent, f"BytesProcessed {got}, curl moved {sent}"
    assert per_eni(report, "NewConnections", eni_a.subnet_id)["Sum"] == REQUESTS
    assert per_eni(report, "PacketsDropped", eni_b.subnet_id)["Sum"] >= 1  # the SYN (and its retries)
    assert per_eni(report, "PacketsDropped", eni_a.subnet_id)["Sum"] == 0
    assert per_eni(report, "ActiveConnections", eni_a.subnet_id)["Maximum"] is not None
    svc = next(m for m in report["Metrics"] if m["Namespace"] == "AWS/PrivateLinkServices"
               and m["MetricName"] == "EndpointsCount")
    assert svc["Maximum"] == 1
    only = lab_json("metrics", "--name", name, "--endpoint", endpoint.id)
    dims = [d for m in only["Metrics"] for d in m["Dimensions"] if d["Name"] == "VPC Endpoint Id"]
    assert dims and all(d["Value"] == endpoint.id for d in dims)


def test_the_sampler_keeps_datapoints_every_10_s_without_anyone_asking(lab):
    """`lab up` started the lab's sampler (journaled, owned): the store gains a sample about every
    10 s although this test only reads the SQLite file (no `lab metrics`, no `lab ui`)."""
    import sqlite3
    import time

    from lab.metrics.store import FILENAME
    from lab.state.store import LabState
    from lab.usecases.sampler import INTERVAL_S

    name, _plan = lab
    state = LabState(name)
    assert [e for e in state.journal.entries() if e.get("role") == "metrics-sampler"], "no sampler journaled"

    def sample_times() -> list[float]:
        db = sqlite3.connect(state.dir / FILENAME, timeout=5)
        try:
            return [t for (t,) in db.execute("SELECT DISTINCT t FROM samples ORDER BY t")]
        finally:
            db.close()

    before = sample_times()
    deadline = time.monotonic() + 2.5 * INTERVAL_S  # bounded: two intervals and a margin
    while time.monotonic() < deadline and len(set(sample_times()) - set(before)) < 2:
        time.sleep(0.5)
    after = sample_times()
    recent = [t for t in after if t not in before]
    assert len(recent) >= 2, f"the sampler wrote {len(recent)} sample(s) in {2.5 * INTERVAL_S:.0f} s"
    gaps = [b - a for a, b in zip(recent, recent[1:])]
    assert all(0.5 * INTERVAL_S <= g <= 1.5 * INTERVAL_S for g in gaps), gaps
