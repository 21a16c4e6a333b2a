"""EC2 API benchmark (not a timed test): AWS's tools against `lab api serve` on a live lab.

1. DescribeVpcEndpoints with 50 endpoints in the consumer's account: p50 / p99 over many calls,
   through a real boto3 client over loopback HTTP (SigV4 signing and botocore parsing included).
2. CreateVpcEndpoint to a service with auto-accept -> the first successful request through the new
   endpoint (a client polling its ENI every 5 ms from inside its VPC).
3. AcceptVpcEndpointConnections -> first request, through the API (goal <= 1 s, as for the CLI).
Same-run ratio: DescribeVpcEndpoints through the API vs `lab endpoint list --format json`.

    sudo .venv/bin/python benchmarks/ec2_api.py [--calls 200] [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import yaml
from botocore.config import Config
from common import machine, median, percentile, unique
from control_plane import TOPOLOGY, FirstAnswer

from lab import api as lifecycle
from lab.apply import netns

CLI = [sys.executable, "-m", "lab.cli.main"]
ENDPOINTS = 50  # AWS's default quota of interface endpoints per VPC


def progress(msg: str) -> None:
    print(f"• {msg}", file=sys.stderr, flush=True)


def clients(lab: str, url: str) -> dict:
    keys = json.loads(subprocess.run([*CLI, "api", "credentials", "--name", lab], capture_output=True, text=True,
                                     check=True).stdout)
    return {k["Account"]: boto3.client("ec2", endpoint_url=url, region_name="us-east-1",
                                       aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"],
                                       config=Config(retries={"max_attempts": 1})) for k in keys}


def eni_ip(lab: str, vpce: str) -> str:
    shown = json.loads(subprocess.run([*CLI, "endpoint", "show", "--name", lab, vpce, "--format", "json"],
                                      capture_output=True, text=True, check=True).stdout)
    return next(e["PrivateIpAddress"] for e in shown["Lab"]["Enis"] if e["AvailabilityZone"] == "us-east-1a")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", dest="json_file", default=None)
    args = parser.parse_args(argv)
    lab = unique("api")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(TOPOLOGY, f, sort_keys=False)
    server = None
    try:
        up = lifecycle.up(f.name, lab)
        client_ns = netns.netns_path(next(i["Netns"] for i in up.plan.inventory["instances"] if i["Name"] == "client"))
        server = subprocess.Popen([*CLI, "api", "serve", "--name", lab, "--port", "0"], stdout=subprocess.PIPE,
                                  text=True)
        url = server.stdout.readline().split(" on ")[1].split()[0]
        ec2 = clients(lab, url)
        con, prov = ec2["consumer"], ec2["provider"]
        (svc,) = prov.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]
        vpc = con.describe_vpcs()["Vpcs"][0]["VpcId"]
        subnet_a = next(s["SubnetId"] for s in con.describe_subnets()["Subnets"] if s["AvailabilityZone"] == "us-east-1a")
        create = dict(VpcEndpointType="Interface", VpcId=vpc, ServiceName=svc["ServiceName"], SubnetIds=[subnet_a])

        # 3. accept -> first request (acceptance required, as the topology says)
        accept = []
        for _ in range(args.repeats):
            vpce = con.create_vpc_endpoint(**create)["VpcEndpoint"]["VpcEndpointId"]
            poller = FirstAnswer(client_ns, eni_ip(lab, vpce), vpce)
            t0 = time.perf_counter()
            prov.accept_vpc_endpoint_connections(ServiceId=svc["ServiceId"], VpcEndpointIds=[vpce])
            answered = poller.wait()
            if answered is None:
                raise RuntimeError(f"{vpce} did not answer after its acceptance")
            accept.append(answered - t0)
            con.delete_vpc_endpoints(VpcEndpointIds=[vpce])
        progress(f"AcceptVpcEndpointConnections -> first request: median {median(accept) * 1000:.0f} ms")

        # 2. create (auto-accept) -> first request
        prov.modify_vpc_endpoint_service_configuration(ServiceId=svc["ServiceId"], AcceptanceRequired=False)
        flows = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            ep = con.create_vpc_endpoint(**create)["VpcEndpoint"]
            (eni,) = con.describe_network_interfaces(NetworkInterfaceIds=ep["NetworkInterfaceIds"])["NetworkInterfaces"]
            poller = FirstAnswer(client_ns, eni["PrivateIpAddress"], ep["VpcEndpointId"])
            answered = poller.wait()
            if answered is None:
                raise RuntimeError(f"{ep['VpcEndpointId']} did not answer")
            flows.append(answered - t0)
            con.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])
        progress(f"CreateVpcEndpoint (auto-accept) -> first request: median {median(flows) * 1000:.0f} ms")

        # 1. DescribeVpcEndpoints with 50 endpoints
        t0 = time.perf_counter()
        for _ in range(ENDPOINTS):
            con.create_vpc_endpoint(**create)
        progress(f"{ENDPOINTS} endpoints created through the API in {time.perf_counter() - t0:.1f} s")
        times = []
        for _ in range(args.calls):
            t = time.perf_counter()
            found = con.describe_vpc_endpoints()["VpcEndpoints"]
            times.append(time.perf_counter() - t)
        assert len(found) == ENDPOINTS
        times.sort()
        cli = []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run([*CLI, "endpoint", "list", "--name", lab, "--format", "json"], capture_output=True, check=True)
            cli.append(time.perf_counter() - t)
        progress(f"DescribeVpcEndpoints ({ENDPOINTS}): p50 {percentile(times, 50) * 1000:.1f} ms, "
                 f"p99 {percentile(times, 99) * 1000:.1f} ms; `lab endpoint list`: {median(cli) * 1000:.0f} ms")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        lifecycle.down(lab)
        Path(f.name).unlink(missing_ok=True)
    report = {
        "machine": machine(),
        "describe_vpc_endpoints_50": {"p50_ms": percentile(times, 50) * 1000, "p99_ms": percentile(times, 99) * 1000,
                                      "calls": args.calls, "lab_endpoint_list_median_ms": median(cli) * 1000,
                                      "ratio_api_vs_cli": percentile(times, 50) / median(cli)},
        "create_to_first_request_auto_accept": {"median_s": median(flows), "runs_s": flows},
        "accept_to_first_request_api": {"median_s": median(accept), "runs_s": accept, "goal_s": 1.0},
    }
    print(f"{'DescribeVpcEndpoints, 50 endpoints (boto3)':55} p50 {report['describe_vpc_endpoints_50']['p50_ms']:.1f} ms"
          f" / p99 {report['describe_vpc_endpoints_50']['p99_ms']:.1f} ms")
    print(f"{'`lab endpoint list --format json` (same lab, CLI process)':55} {median(cli) * 1000:.0f} ms")
    print(f"{'CreateVpcEndpoint (auto-accept) -> first request':55} {median(flows) * 1000:.0f} ms")
    print(f"{'AcceptVpcEndpointConnections -> first request':55} {median(accept) * 1000:.0f} ms (goal <= 1000 ms)")
    if args.json_file:
        Path(args.json_file).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
