"""Availability Zones under bounded load: `lab az fail|recover` as AWS documents NLB and endpoint DNS.

One lab for the module: two AZs, one target per AZ, health checks every 5 s with unhealthy threshold
2, an endpoint in both AZs, cross-zone off. The client resolves the endpoint's regional name with
its VPC's resolver before every request (no caching: each request shows what DNS says now) and
connects to one of the answers, as a client library would. Every loop is bounded in count and time.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from labs import two_az  # noqa: E402
from test_faults import Client  # noqa: E402 - the fault tests' client: one thread inside a namespace

from lab import api
from lab.cli.main import main as lab_main
from lab.verify.engine import Options, verify

pytestmark = pytest.mark.root

TOPOLOGY = two_az("AZ tests: one target per AZ, 5 s health checks, an endpoint in both AZs",
                  {"target-a": "a", "target-b": "b"}, cross_zone=False)


def _resolve(resolver: str, qname: str, timeout: float = 1.0) -> list[str]:
    """One A query from the client's namespace (run on the Client's worker thread)."""
    import socket

    from scapy.layers.dns import DNS, DNSQR

    ident = random.randrange(1, 65536)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(bytes(DNS(id=ident, rd=1, qd=DNSQR(qname=qname, qtype="A"))), (resolver, 53))
        reply = DNS(sock.recv(4096))
    return [str(reply.an[i].rdata) for i in range(int(reply.ancount or 0)) if int(reply.an[i].type) == 1]


class NamedClient(Client):
    def resolve(self, resolver: str, qname: str) -> list[str]:
        return self.pool.submit(_resolve, resolver, qname).result(5)

    def by_name(self, resolver: str, qname: str, timeout: float = 2.0) -> tuple[float, bool, str, str]:
        """(start time, ok, answer or error, address used): resolve, then request one of the answers."""
        start = time.monotonic()
        try:
            answers = self.resolve(resolver, qname)
        except OSError as err:
            return start, False, f"DNS: {err}", ""
        ip = random.choice(answers)
        ok, detail = self.request(ip, timeout)
        return start, ok, detail, ip


@pytest.fixture(scope="module")
def lab(lab_runner, tmp_path_factory):
    with lab_runner(TOPOLOGY, "azs", tmp_path_factory.mktemp("azs")) as (name, plan):
        inst = next(i for i in plan.inventory["instances"] if i["Name"] == "consumer-client")
        client = NamedClient(inst["Netns"])
        ep = plan.endpoints[0]
        names = {e.get("AvailabilityZone", "regional"): e["DnsName"] for e in ep.dns_entries}
        resolver = next(r.ip for r in plan.resolvers if r.vpc == "consumer")
        enis = {e.az: e.ip for e in ep.enis}
        try:
            yield name, client, resolver, names, enis
        finally:
            client.close()


def _load(client, resolver, qname, results, stop, seconds=30.0):
    deadline = time.monotonic() + seconds
    for _ in range(3000):  # bounded in count and time; stopped by the test
        if stop.is_set() or time.monotonic() > deadline:
            return
        results.append(client.by_name(resolver, qname))
        time.sleep(0.02)


def test_unknown_az_and_az_without_a_node_are_refused_in_one_line(lab, capsys):
    name = lab[0]
    assert lab_main(["az", "fail", "--name", name, "us-east-1z"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: AZ: lab {name!r} has no AZ 'us-east-1z'; fix: use one of: us-east-1a, us-east-1b"]
    assert lab_main(["az", "recover", "--name", name, "us-east-1a"]) == 2
    assert "is not failed" in capsys.readouterr().err


def test_an_az_failed_and_recovered_with_the_regional_name_in_use(lab):
    name, client, resolver, names, enis = lab
    regional, zonal_b = names["regional"], names["us-east-1b"]
    assert sorted(client.resolve(resolver, regional)) == sorted(enis.values())
    results: list = []
    stop = threading.Event()
    worker = threading.Thread(target=_load, args=(client, resolver, regional, results, stop))
    worker.start()
    try:
        time.sleep(1.0)
        t_fail = time.monotonic()
        failed = api.az_fail(name, "us-east-1b")
        failed_at = time.monotonic()
        # The regional name answers only the surviving AZ's ENI; the zonal name keeps its one address.
        assert client.resolve(resolver, regional) == [enis["us-east-1a"]]
        assert client.resolve(resolver, zonal_b) == [enis["us-east-1b"]]
        t0 = time.monotonic()
        ok, detail = client.request(enis["us-east-1b"], timeout=2.0)
        took = time.monotonic() - t0
        assert not ok and "Refused" in detail and took < 1.0, (detail, took)  # a clean failure, not a hang
        time.sleep(3.0)
        # A request that starts while az_recover runs may already see the restored regional name.
        recovering_at = time.monotonic()
        recovered = api.az_recover(name, "us-east-1b")
        recovered_at = time.monotonic()
        assert sorted(client.resolve(resolver, regional)) == sorted(enis.values())
        assert client.request(enis["us-east-1b"]) == (True, "target-b")
        time.sleep(3.0)
    finally:
        stop.set()
        worker.join(timeout=30)
    during = [r for r in results if failed_at <= r[0] < recovering_at]
    after_fail = [r for r in results if r[0] >= failed_at and not r[1]]
    window = failed_at - t_fail
    print(f"\nAZ failover: lab az fail took {failed['Seconds']:.2f} s (regional names updated "
          f"{failed['DnsFailoverSeconds']:.3f} s after the node stopped); {len(results)} requests, "
          f"{sum(not r[1] for r in results)} failed, all before the detection window ended ({window:.2f} s); "
          f"recovery took {recovered['Seconds']:.2f} s")
    assert len(during) > 20 and {r[3] for r in during} == {enis["us-east-1a"]}
    assert after_fail == [], f"failed after the detection window: {after_fail[:5]}"
    later = [r for r in results if r[0] >= recovered_at]
    assert later and all(r[1] for r in later)
    assert {r[2] for r in later} == {"target-a", "target-b"} or len(later) < 10  # both AZs serve again


def _cross_zone(name: str, enabled: bool) -> None:
    flag = "--enable" if enabled else "--disable"
    assert lab_main(["service", "cross-zone", "--name", name, "--account", "provider", "web-service", flag]) == 0


def _fail_targets_under_load(lab) -> tuple[dict, list, float]:
    name, client, resolver, names, _enis = lab
    results: list = []
    stop = threading.Event()
    worker = threading.Thread(target=_load, args=(client, resolver, names["regional"], results, stop))
    worker.start()
    try:
        time.sleep(0.5)
        failed = api.az_fail(name, "us-east-1b", targets_only=True)
        failed_at = time.monotonic()
        time.sleep(2.0)
    finally:
        stop.set()
        worker.join(timeout=30)
    return failed, results, failed_at


def test_all_targets_of_one_az_failed_cross_zone_off_then_on(lab):
    name, client, resolver, names, enis = lab
    # Cross-zone off: node b has no healthy target left, so DNS fails over away from its ENI.
    failed, results, failed_at = _fail_targets_under_load(lab)
    try:
        assert failed["HealthCheckDetectionSeconds"] <= 5 * 2 + 3
        assert client.resolve(resolver, names["regional"]) == [enis["us-east-1a"]]
        ok, detail = client.request(enis["us-east-1b"], timeout=2.0)  # the zonal address: nothing behind it
        assert not ok, detail
        late = [r for r in results if r[0] >= failed_at and not r[1]]
        assert late == [], late[:5]
        print(f"\ntargets of us-east-1b failed, cross-zone off: health checks saw them down after "
              f"{failed['HealthCheckDetectionSeconds']:.1f} s, DNS updated {failed['DnsFailoverSeconds']:.3f} s later")
    finally:
        api.az_recover(name, "us-east-1b")
    # Cross-zone on: node b still has target-a, so it stays in DNS and its zonal address still serves.
    _cross_zone(name, True)
    try:
        failed, results, failed_at = _fail_targets_under_load(lab)
        try:
            assert sorted(client.resolve(resolver, names["regional"])) == sorted(enis.values())
            assert client.request(enis["us-east-1b"]) == (True, "target-a")  # crossed from node b to AZ a
            late = [r for r in results if r[0] >= failed_at and not r[1]]
            assert late == [], late[:5]
            report = verify(name, Options(wait_health_checks=False, probes=False))
            crossings = [c for c in report.checks if c.category == "az" and "crossed AZs" in c.message and "node->target" in c.message]
            assert crossings, [c.message for c in report.checks if c.category == "az"]
        finally:
            api.az_recover(name, "us-east-1b")
    finally:
        _cross_zone(name, False)
