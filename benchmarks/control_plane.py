"""Control-plane benchmark (not a timed test): how fast the live lab follows the PrivateLink workflow.

1. accept -> first request: from the moment `lab endpoint accept` (the CLI, as a user runs it) starts
   to the first successful request through the new endpoint, made by a client polling its ENI
   every 5 ms from inside its VPC (goal: <= 1 s). Also the same through the Python API.
2. adding the N-th endpoint to a service, for N = 1, 10, 50: create + accept through the Python API
   with N-1 endpoints already live (one consumer VPC, two AZs: N-1 ENI legs and frontends per
   NLB node), until the new endpoint answers.

Medians of several repeats. Table on stdout, and JSON with --json FILE (or --format json).

    sudo .venv/bin/python benchmarks/control_plane.py [--repeats 5] [--sizes 1,10,50] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml
from common import machine, median, unique

from lab import api
from lab.apply import netns
from lab.privatelink import control

POLL_S = 0.005
ATTEMPT_TIMEOUT_S = 0.1
POLL_LIMIT_S = 15.0
POLL_MAX_ATTEMPTS = 3000  # bounded in count as well as in time

TOPOLOGY = {
    "description": "control-plane benchmark: one service, one consumer VPC that takes up to 50 endpoints",
    "azs": [{"name": "us-east-1a", "id": "use1-az1"}, {"name": "us-east-1b", "id": "use1-az2"}],
    "accounts": {"provider": "111111111111", "consumer": "222222222222"},
    "vpcs": [
        {"name": "provider", "account": "provider", "cidr": "10.0.0.0/16",
         "subnets": [{"name": "provider-a", "az": "us-east-1a", "cidr": "10.0.1.0/24"},
                     {"name": "provider-b", "az": "us-east-1b", "cidr": "10.0.2.0/24"}],
         "instances": [{"name": "target-a", "subnet": "provider-a", "ip": "10.0.1.10", "app": "demo-target"},
                       {"name": "target-b", "subnet": "provider-b", "ip": "10.0.2.10", "app": "demo-target"}]},
        {"name": "consumer", "account": "consumer", "cidr": "10.0.0.0/16",
         "subnets": [{"name": "consumer-a", "az": "us-east-1a", "cidr": "10.0.1.0/24"},
                     {"name": "consumer-b", "az": "us-east-1b", "cidr": "10.0.2.0/24"}],
         "instances": [{"name": "client", "subnet": "consumer-a", "ip": "10.0.1.10"}]},
    ],
    "nlbs": [{"name": "nlb", "vpc": "provider", "subnets": ["provider-a", "provider-b"],
              "listeners": [{"port": 80, "target_group": "web"}],
              "target_groups": [{"name": "web", "port": 8080, "proxy_protocol_v2": True,
                                 "targets": ["target-a", "target-b"]}]}],
    "endpoint_services": [{"name": "svc", "account": "provider", "nlb": "nlb", "acceptance_required": True,
                           "allowed_principals": ["arn:aws:iam::222222222222:root"]}],
    "endpoints": [],
}


class FirstAnswer:
    """A client polling an address (new connection every POLL_S) until one request is answered."""

    def __init__(self, ns: Path, ip: str, vpce_id: str):
        self.ns, self.ip, self.vpce_id = ns, ip, vpce_id
        self.answered_at: float | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + POLL_LIMIT_S
        for _ in range(POLL_MAX_ATTEMPTS):
            if self.stop.is_set() or time.monotonic() > deadline:
                return
            with netns.entered(self.ns):
                sock = socket.socket()
            try:
                # Short: an attempt started before the ENI existed may have gone to a stale address
                # (a freed ENI address reused by the new endpoint), and TCP would retry it only after 1 s.
                sock.settimeout(ATTEMPT_TIMEOUT_S)
                sock.connect((self.ip, 80))
                sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
                if self.vpce_id.encode() in data:
                    self.answered_at = time.perf_counter()
                    return
            except OSError:
                pass
            finally:
                sock.close()
            time.sleep(POLL_S)

    def wait(self) -> float | None:
        self.thread.join(POLL_LIMIT_S + 5)
        self.stop.set()
        return self.answered_at


def _create(lab: str, name: str) -> dict:
    change = control.create_endpoint(lab, "consumer", "consumer", "svc", name=name)
    return change.endpoints[0]


def _eni_a(endpoint: dict) -> str:
    return next(e["PrivateIpAddress"] for e in endpoint["Lab"]["Enis"] if e["AvailabilityZone"] == "us-east-1a")


def accept_to_first_request(lab: str, client_ns: Path, repeats: int, via_cli: bool, serial: list[int]) -> list[float]:
    out = []
    for _ in range(repeats):
        serial[0] += 1
        ep = _create(lab, f"acc-{serial[0]}")
        poller = FirstAnswer(client_ns, _eni_a(ep), ep["VpcEndpointId"])
        t0 = time.perf_counter()
        if via_cli:
            subprocess.run([sys.executable, "-m", "lab.cli.main", "endpoint", "accept", "--name", lab, "--account",
                            "provider", ep["VpcEndpointId"]], check=True, capture_output=True, timeout=60)
        else:
            control.accept_connections(lab, "provider", [ep["VpcEndpointId"]])
        answered = poller.wait()
        if answered is None:
            raise RuntimeError(f"no answer through {ep['VpcEndpointId']} within {POLL_LIMIT_S} s of its acceptance")
        out.append(answered - t0)
        control.delete_endpoints(lab, "consumer", [ep["VpcEndpointId"]])
    return out


def add_nth(lab: str, client_ns: Path, sizes: list[int], repeats: int, serial: list[int], progress) -> dict:
    """Seconds to add the N-th endpoint (create + accept, until it answers) with N-1 live."""
    live: list[str] = []
    results = {}
    for n in sorted(sizes):
        while len(live) < n - 1:
            serial[0] += 1
            ep = _create(lab, f"bg-{serial[0]}")
            control.accept_connections(lab, "provider", [ep["VpcEndpointId"]])
            live.append(ep["VpcEndpointId"])
        times, data_plane = [], []
        for _ in range(repeats):
            serial[0] += 1
            t0 = time.perf_counter()
            ep = _create(lab, f"nth-{serial[0]}")
            accepted = control.accept_connections(lab, "provider", [ep["VpcEndpointId"]])
            poller = FirstAnswer(client_ns, _eni_a(ep), ep["VpcEndpointId"])
            answered = poller.wait()
            if answered is None:
                raise RuntimeError(f"endpoint #{n} did not answer")
            times.append(answered - t0)
            data_plane.append(sum(accepted.timings.values()))
            control.delete_endpoints(lab, "consumer", [ep["VpcEndpointId"]])
        results[n] = {"median_s": median(times), "runs_s": times, "reconcile_median_s": median(data_plane)}
        progress(f"N={n}: {median(times) * 1000:.0f} ms (reconcile {median(data_plane) * 1000:.0f} ms)")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="1,10,50", help="N values for 'add the N-th endpoint' (max 50: AWS quota)")
    parser.add_argument("--json", dest="json_file", default=None, help="also write the results to this file")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    if max(sizes) > 50 or min(sizes) < 1:
        parser.error("sizes must be 1..50 (AWS's quota of interface endpoints per VPC)")

    def progress(msg: str) -> None:
        print(f"• {msg}", file=sys.stderr, flush=True)

    lab = unique("cp")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(TOPOLOGY, f, sort_keys=False)
    serial = [0]
    try:
        up = api.up(f.name, lab)
        client_ns = netns.netns_path(next(i["Netns"] for i in up.plan.inventory["instances"] if i["Name"] == "client"))
        progress(f"lab {lab} up in {up.seconds:.2f} s")
        cli = accept_to_first_request(lab, client_ns, args.repeats, True, serial)
        progress(f"accept (CLI) -> first request: median {median(cli) * 1000:.0f} ms")
        api_runs = accept_to_first_request(lab, client_ns, args.repeats, False, serial)
        progress(f"accept (API) -> first request: median {median(api_runs) * 1000:.0f} ms")
        nth = add_nth(lab, client_ns, sizes, max(3, args.repeats // 2), serial, progress)
    finally:
        api.down(lab)
        Path(f.name).unlink(missing_ok=True)
    report = {
        "machine": machine(),
        "accept_to_first_request": {"cli_median_s": median(cli), "cli_runs_s": cli,
                                    "api_median_s": median(api_runs), "api_runs_s": api_runs, "goal_s": 1.0},
        "add_nth_endpoint": {str(n): r for n, r in nth.items()},
    }
    if args.json_file:
        Path(args.json_file).write_text(json.dumps(report, indent=2))
    if args.format == "json":
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'measure':<44} {'median':>10}")
    print(f"{'accept (lab endpoint accept) -> 1st request':<44} {median(cli) * 1000:>8.0f} ms  (goal <= 1000 ms)")
    print(f"{'accept (Python API) -> 1st request':<44} {median(api_runs) * 1000:>8.0f} ms")
    for n, r in nth.items():
        label = f"add endpoint #{n} (create+accept -> answers)"
        print(f"{label:<44} {r['median_s'] * 1000:>8.0f} ms  (reconcile {r['reconcile_median_s'] * 1000:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
