"""Churn under load through the EC2 API: CHURN_CYCLES (default 300) create/accept/delete cycles driven
by boto3 while a client sends bounded traffic through another endpoint. Afterwards: 0 failed
requests on that endpoint; no leaked namespaces, ENI legs, nft chains, HAProxy binds or DNS
records (read from the system, not from the lab's plan); the server's RSS reported at start and
end, and bounded. Slow (~5 min on 2 busy cores): bounded in count and in time."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.config import Config

from lab import api as lifecycle
from lab.apply import netns
from lab.state.store import LabState

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

LAB = f"t-chn-{secrets.token_hex(2)}"
CLI = [sys.executable, "-m", "lab.cli.main"]
REPO = Path(__file__).resolve().parents[2]
CYCLES = int(os.environ.get("CHURN_CYCLES", "300"))
LIMIT_S = 1500  # the whole churn stops by itself after this, whatever CYCLES says
RSS_GROWTH_LIMIT_KB = 64 * 1024


class Traffic:
    """Requests through the steady endpoint, one new connection every 50 ms, bounded in count and time."""

    def __init__(self, ns: Path, ip: str, vpce: str, max_requests: int = 40_000):
        self.ns, self.ip, self.vpce, self.max = ns, ip, vpce, max_requests
        self.ok, self.failed, self.errors = 0, 0, []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _one(self) -> None:
        with netns.entered(self.ns):
            sock = socket.socket()
        sock.settimeout(3)
        try:
            sock.connect((self.ip, 80))
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        finally:
            sock.close()
        if self.vpce.encode() not in data:
            raise OSError(f"unexpected answer {data[:100]!r}")

    def _run(self) -> None:
        deadline = time.monotonic() + LIMIT_S
        for _ in range(self.max):
            if self.stop.is_set() or time.monotonic() > deadline:
                return
            try:
                self._one()
                self.ok += 1
            except OSError as err:
                self.failed += 1
                self.errors.append(str(err))
            time.sleep(0.05)


def rss_kb(pid: int) -> int:
    return next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("VmRSS:"))


def system_snapshot(pids: dict[str, int]) -> dict:
    """What the data plane holds, asked of the system itself: links and nft rules in each NLB node,
    HAProxy's config in each container, the lab's namespaces and DNS host records."""
    out = {"netns": sorted(n for n in os.listdir("/run/netns") if n.startswith(f"pl-{LAB}."))}
    for node, pid in sorted(pids.items()):
        links = json.loads(subprocess.run(["nsenter", "-t", str(pid), "-n", "ip", "-j", "link"], capture_output=True,
                                          text=True, check=True).stdout)
        nft = subprocess.run(["nsenter", "-t", str(pid), "-n", "nft", "list", "ruleset"], capture_output=True,
                             text=True, check=True).stdout
        cfg = Path(f"/proc/{pid}/root/usr/local/etc/haproxy/haproxy.cfg").read_text()
        out[node] = {"links": sorted(link["ifname"] for link in links),
                     "chains": sorted(line.strip() for line in nft.splitlines() if line.strip().startswith("chain ")),
                     "binds": sorted(line.strip() for line in cfg.splitlines() if line.strip().startswith("bind "))}
    dns = LabState(LAB).dir / "dns"
    out["dns"] = {str(p.relative_to(dns)): p.read_text() for p in sorted(dns.glob("*/hosts.d/*"))}
    return out


def test_churn_through_the_api(tmp_path):
    raw = yaml.safe_load((REPO / "topologies" / "basic.yaml").read_text())
    raw["endpoint_services"][0]["acceptance_required"] = True
    raw["endpoints"][0]["state"] = "available"
    path = tmp_path / "churn.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    up = lifecycle.up(path, LAB)
    server = None
    try:
        server = subprocess.Popen([*CLI, "api", "serve", "--name", LAB, "--port", "0"], stdout=subprocess.PIPE, text=True)
        url = server.stdout.readline().split(" on ")[1].split()[0]
        keys = {k["Account"]: k for k in json.loads(subprocess.run([*CLI, "api", "credentials", "--name", LAB],
                                                                   capture_output=True, text=True, check=True).stdout)}
        ec2 = {a: boto3.client("ec2", endpoint_url=url, region_name="us-east-1", aws_access_key_id=k["AccessKeyId"],
                               aws_secret_access_key=k["SecretAccessKey"], config=Config(retries={"max_attempts": 1}))
               for a, k in keys.items()}
        con, prov = ec2["consumer"], ec2["provider"]
        (svc,) = prov.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]
        vpc = con.describe_vpcs()["Vpcs"][0]["VpcId"]
        subnet_a = next(s["SubnetId"] for s in con.describe_subnets()["Subnets"] if s["AvailabilityZone"] == "us-east-1a")
        (steady,) = up.plan.endpoints
        eni_b = next(e for e in steady.enis if e.az == "us-east-1b")
        client_b = next(i["Netns"] for i in up.plan.inventory["instances"] if i["Name"] == "consumer-client-b")
        pids = json.loads((LabState(LAB).dir / "live.json").read_text())["node_pids"]  # beside the plan
        before = system_snapshot(pids)
        rss_start = rss_kb(server.pid)
        traffic = Traffic(netns.netns_path(client_b), eni_b.ip, steady.id)
        traffic.thread.start()
        deadline = time.monotonic() + LIMIT_S
        done = 0
        for _ in range(CYCLES):
            if time.monotonic() > deadline:
                break
            vpce = con.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=svc["ServiceName"],
                                           SubnetIds=[subnet_a])["VpcEndpoint"]["VpcEndpointId"]
            assert prov.accept_vpc_endpoint_connections(ServiceId=svc["ServiceId"],
                                                        VpcEndpointIds=[vpce])["Unsuccessful"] == []
            assert con.delete_vpc_endpoints(VpcEndpointIds=[vpce])["Unsuccessful"] == []
            done += 1
        traffic.stop.set()
        traffic.thread.join(10)
        rss_end = rss_kb(server.pid)
        after = system_snapshot(pids)
        print(f"{done} cycles; steady endpoint: {traffic.ok} requests ok, {traffic.failed} failed; "
              f"server RSS {rss_start} kB -> {rss_end} kB")
        assert done == CYCLES, f"only {done} of {CYCLES} cycles within {LIMIT_S} s"
        assert traffic.failed == 0, traffic.errors[:5]
        assert traffic.ok > 0
        assert after == before  # nothing of the 300 endpoints is left in the data plane
        assert [e["VpcEndpointId"] for e in con.describe_vpc_endpoints()["VpcEndpoints"]] == [steady.id]
        assert rss_end - rss_start < RSS_GROWTH_LIMIT_KB
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        lifecycle.down(LAB)
