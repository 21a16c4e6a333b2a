"""The three multi-tenant modes, measured in one run: `lab up` time and request latency added by the
endpoint, per mode (medians). Needs root and Docker; ~1-2 minutes.

    sudo .venv/bin/python benchmarks/multi_tenant.py [--ups 3] [--requests 200] [--json out.json]

Per mode, the shipped topology is brought up `--ups` times (the lab's own clock, `UpResult.seconds`)
and taken down. On the last lab, a-client sends `--requests` HTTP requests, a new connection each,
to its endpoint's ENI in its own AZ, presenting what its mode needs; the baseline is the same request
sent to target-a directly from target-b's namespace in the provider VPC (with an AWS-shaped PROXY
header where the target expects one). Added = median through the endpoint - median direct.
These are measurements, not tests.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time

import common

from lab import api
from lab.apply import netns
from lab.ppv2 import aws_nlb_header, encode

MODES = {"token": "multi-tenant-auth", "port": "multi-tenant-ports", "ppv2": "multi-tenant"}


def request(ns: str, dst: tuple[str, int], payload: bytes, timeout: float = 3.0) -> float:
    with netns.entered(netns.netns_path(ns)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t0 = time.perf_counter()
    try:
        sock.settimeout(timeout)
        sock.connect(dst)
        sock.sendall(payload)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    finally:
        sock.close()
    took = time.perf_counter() - t0
    if b" 200 " not in data.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"{dst}: not answered 200: {data[:120]!r}")
    return took


def _inst(plan, name: str) -> dict:
    return next(i for i in plan.inventory["instances"] if i["Name"] == name)


def measure(mode: str, ups: int, requests: int) -> dict:
    topology = common.REPO / "topologies" / f"{MODES[mode]}.yaml"
    up_s = []
    for i in range(ups):
        name = common.unique(f"mt{mode}")
        result = api.up(topology, name)
        up_s.append(result.seconds)
        try:
            if i == ups - 1:
                latency = _latency(mode, result.plan, requests)
        finally:
            api.down(name)
    return {"topology": topology.name, "up_s": round(common.median(up_s), 3), "up_runs_s": [round(x, 3) for x in up_s],
            "nlbs": len({n.nlb for n in result.plan.nodes}), "nodes": len(result.plan.nodes),
            "services": len(result.plan.inventory.get("services", [])),
            "enis": sum(len(ep.enis) for ep in result.plan.endpoints), **latency}


def _latency(mode: str, plan, requests: int) -> dict:
    tenant = next(t for t in plan.tenancy["tenants"] if t["account"] == "tenant-a")
    client, target_a, target_b = _inst(plan, "a-client"), _inst(plan, "target-a"), _inst(plan, "target-b")
    ep = next(e for e in plan.endpoints if e.name == "tenant-a-saas")
    eni = next(e for e in ep.enis if e.az == client["AvailabilityZone"])
    auth = f"Authorization: Bearer {tenant['token']}\r\n" if mode == "token" else ""
    get = f"GET / HTTP/1.0\r\nHost: bench\r\n{auth}\r\n".encode()
    port = tenant["port"] if mode == "port" else 8080
    direct_payload = get
    if mode == "ppv2":  # what the NLB would have written: the target insists on it
        direct_payload = encode(aws_nlb_header(target_b["PrivateIpAddress"], 40000, eni.ip, 80, tenant["vpce_id"])) + get
    for _ in range(10):  # warm-up: ARP, the bridges' MAC tables, the targets' first connections
        request(client["Netns"], (eni.ip, 80), get)
        request(target_b["Netns"], (target_a["PrivateIpAddress"], port), direct_payload)
    via, direct = [], []
    for _ in range(requests):  # interleaved, so both see the same load on a shared machine
        via.append(request(client["Netns"], (eni.ip, 80), get))
        direct.append(request(target_b["Netns"], (target_a["PrivateIpAddress"], port), direct_payload))
    p50_via, p50_direct = common.median(via) * 1e6, common.median(direct) * 1e6
    return {"requests": requests, "endpoint_p50_us": round(p50_via), "direct_p50_us": round(p50_direct),
            "added_p50_us": round(p50_via - p50_direct)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ups", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    results = {"machine": common.machine(), "modes": {}}
    for mode in MODES:
        print(f"measuring mode {mode} ...", file=sys.stderr, flush=True)
        results["modes"][mode] = measure(mode, args.ups, args.requests)
    print(f"{'mode':<6} {'topology':<24} {'NLBs':>4} {'nodes':>5} {'svcs':>4} {'ENIs':>4} {'lab up':>8} "
          f"{'endpoint p50':>13} {'direct p50':>11} {'added p50':>10}")
    for mode, r in results["modes"].items():
        print(f"{mode:<6} {r['topology']:<24} {r['nlbs']:>4} {r['nodes']:>5} {r['services']:>4} {r['enis']:>4} "
              f"{r['up_s']:>6.2f} s {r['endpoint_p50_us']:>10} us {r['direct_p50_us']:>8} us {r['added_p50_us']:>7} us")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
