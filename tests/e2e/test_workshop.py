"""The workshop grades itself (issue 17): for every exercise, `lab workshop check` FAILs on the
untouched starting lab, FAILs on a plausible wrong answer, and PASSes on the reference solution.

The reference solutions live here, not in the participant's guide. Each test drives the exercise
through the same `lab workshop` commands a participant runs (JSON output), and every `check` reports
how long it took (the closing note quotes them). Every lab is taken down at the end, even on failure;
traffic goes only to lab addresses, and the EC2 API server binds to loopback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.config import Config

from lab import api
from lab.ppv2.pcap import find_headers

pytestmark = [pytest.mark.root, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

CLI = [sys.executable, "-m", "lab.cli.main"]
REPO = Path(__file__).resolve().parents[2]


def ws(base: Path, *args: str) -> tuple[int, dict]:
    done = subprocess.run([*CLI, "workshop", *args, "--dir", str(base), "--format", "json"], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode in (0, 1), f"lab workshop {' '.join(args)}: {done.stderr}"
    return done.returncode, json.loads(done.stdout)


def check(base: Path, number: int) -> dict:
    rc, result = ws(base, "check", str(number))
    assert rc == (0 if result["Passed"] else 1), result
    print(f"\nworkshop check {number}: {'PASS' if result['Passed'] else 'FAIL'} in {result['Seconds']:.2f} s")
    return result


def failing(result: dict) -> list[str]:
    return [c["Title"] for c in result["Criteria"] if not c["Passed"]]


def answer(base: Path, number: int, **values) -> None:
    folder = next(base.glob(f"{number:02d}-*"))
    (folder / "answers.yaml").write_text(yaml.safe_dump(values))


@pytest.fixture
def exercise(tmp_path):
    """`start(N)` brings exercise N up in a fresh participant folder; every lab started goes at the end."""
    started = []

    def start(number: int) -> dict:
        rc, result = ws(tmp_path, "start", str(number))
        assert rc == 0 and result["Lab"] == f"ws-{number:02d}", result
        started.append(number)
        return result

    yield tmp_path, start
    for number in started:
        subprocess.run([*CLI, "workshop", "stop", str(number)], capture_output=True, timeout=120, check=False)


def _capture_request(lab: str, folder: Path) -> Path:
    """While `lab capture` records the targets' side, consumer-client calls its own AZ's ENI."""
    plan = api.load_plan(lab)
    zonal = next(e["DnsName"] for e in plan["endpoints"][0]["dns_entries"] if e.get("AvailabilityZone") == "us-east-1a")
    out = folder / "caps"
    done = {}
    worker = threading.Thread(target=lambda: done.update(api.capture(lab, ["nlb-target"], 3.0, out)))
    worker.start()
    time.sleep(1.0)  # tcpdump is listening by then
    got = api.probe_request(lab, "consumer-client", zonal)
    worker.join(30)
    assert got["Status"] == 200, got
    with_headers = [p for p in sorted(out.glob("*.pcap")) if any(f.header for f in find_headers(p))]
    assert with_headers, sorted(out.iterdir())
    return with_headers[0]


def test_01_internet_or_private(exercise):
    base, start = exercise
    start(1)
    assert "lab verify passes on packets (the private flow crosses no internet gateway)" in failing(check(base, 1))
    # Wrong: cutting the endpoint (the provider rejects it) leaves the application on the internet.
    api.reject_connections("ws-01", "provider", ["web-endpoint"])
    assert not check(base, 1)["Passed"]
    ws(base, "reset", "1")
    # Right: private DNS on the existing endpoint, live.
    done = subprocess.run([*CLI, "endpoint", "modify", "-n", "ws-01", "-a", "consumer", "web-endpoint", "--private-dns"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = check(base, 1)
    assert result["Passed"], result


def test_02_same_cidr(exercise):
    base, start = exercise
    started = start(2)
    folder = Path(started["Folder"])
    assert failing(check(base, 2))
    pcap = _capture_request("ws-02", folder)
    # Wrong: the client's own address as the TCP source the target sees (it is also the target's).
    answer(base, 2, source_at_target="10.0.1.10", client_in_header="10.0.1.10", pcap=str(pcap))
    assert failing(check(base, 2)) == ["the TCP source target-a sees is the NLB node's own address"]
    node_a = next(n["PrivateIpAddress"] for n in api.load_plan("ws-02")["inventory"]["nlb_nodes"]
                  if n["AvailabilityZone"] == "us-east-1a")
    answer(base, 2, source_at_target=node_a, client_in_header="10.0.1.10", pcap=str(pcap))
    result = check(base, 2)
    assert result["Passed"], result


def test_05_read_the_bytes(exercise):
    base, start = exercise
    started = start(5)
    assert failing(check(base, 5))
    pcap = _capture_request("ws-05", Path(started["Folder"]))
    plan = api.load_plan("ws-05")
    service_id = plan["endpoints"][0]["service_id"]
    answer(base, 5, endpoint_id=service_id, pcap=str(pcap))  # wrong: the service's ID
    assert not check(base, 5)["Passed"]
    vpce = next(f.header.aws_vpce_id for f in find_headers(pcap) if f.header and f.header.aws_vpce_id)
    answer(base, 5, endpoint_id=vpce, pcap=str(pcap))
    result = check(base, 5)
    assert result["Passed"], result


def test_07_lose_an_az(exercise):
    base, start = exercise
    start(7)
    assert failing(check(base, 7))
    api.az_fail("ws-07", "us-east-1a")
    entries = api.load_plan("ws-07")["endpoints"][0]["dns_entries"]
    zonal_a = next(e["DnsName"] for e in entries if e.get("AvailabilityZone") == "us-east-1a")
    regional = next(e["DnsName"] for e in entries if e["Scope"] == "regional")
    answer(base, 7, name=zonal_a)  # wrong: the failed AZ's own name
    assert not check(base, 7)["Passed"]
    answer(base, 7, name=regional)
    result = check(base, 7)
    assert result["Passed"], result


def test_08_keep_it_in_the_eu(exercise):
    base, start = exercise
    started = start(8)
    topology = Path(started["Folder"]) / "topology.yaml"
    assert failing(check(base, 8))
    # Wrong: relax the rule, keep the design.
    wrong = yaml.safe_load(topology.read_text())
    wrong["verify"]["residency"] = [{"endpoints": ["web-xr"], "regions": ["eu-west-1", "us-east-1"]}]
    topology.write_text(yaml.safe_dump(wrong, sort_keys=False))
    api.down("ws-08")
    api.up(topology, "ws-08")
    assert failing(check(base, 8)) == ["the EU consumer has an available endpoint to a service in eu-west-1"]
    # Right: an EU service for the EU consumer (topologies/cross-region.yaml is that design).
    topology.write_text((REPO / "topologies" / "cross-region.yaml").read_text())
    api.down("ws-08")
    api.up(topology, "ws-08")
    result = check(base, 8)
    assert result["Passed"], result


def test_10_aws_tools(exercise):
    base, start = exercise
    start(10)
    assert failing(check(base, 10))
    proc = subprocess.Popen([*CLI, "api", "serve", "--name", "ws-10", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = line.split(" on ")[1].split()[0]
        keys = {c["Account"]: c for c in json.loads(subprocess.run(
            [*CLI, "api", "credentials", "--name", "ws-10"], capture_output=True, text=True, check=True,
            timeout=60).stdout) if not c.get("UserName")}

        def ec2(account: str):
            k = keys[account]
            return boto3.client("ec2", endpoint_url=url, region_name="us-east-1", aws_access_key_id=k["AccessKeyId"],
                                aws_secret_access_key=k["SecretAccessKey"], config=Config(retries={"max_attempts": 1}))

        consumer = ec2("consumer")
        provider = ec2("provider")
        service = consumer.describe_vpc_endpoint_services()["ServiceDetails"][0]
        vpc = consumer.describe_vpcs()["Vpcs"][0]  # the consumer account owns one VPC
        subnets = [s["SubnetId"] for s in consumer.describe_subnets()["Subnets"] if s["VpcId"] == vpc["VpcId"]]
        created = consumer.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc["VpcId"],
                                               ServiceName=service["ServiceName"], SubnetIds=subnets)["VpcEndpoint"]
        answer(base, 10, endpoint_id=created["VpcEndpointId"])
        assert not check(base, 10)["Passed"]  # wrong: created, never accepted (pendingAcceptance)
        provider.accept_vpc_endpoint_connections(ServiceId=service["ServiceId"],
                                                 VpcEndpointIds=[created["VpcEndpointId"]])
        result = check(base, 10)
        assert result["Passed"], result
    finally:
        proc.terminate()  # the server this test started, by its own handle
        proc.wait(timeout=10)
