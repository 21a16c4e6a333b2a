"""Data-path benchmarks: iperf3 throughput and request latency through an interface endpoint,
each against a direct veth between two namespaces measured in the same run (interleaved, so
machine drift hits both sides alike).

Three direct baselines: a veth as `ip link add` makes it (MTU 1500, 64 KiB GSO batches: the figure
the goal is stated against), a veth tuned like the lab's own links (BIG TCP, lab.apply.offload), and
the same at the endpoint path's MTU of 8500 (like for like: same MTU, same offloads), so the cost of
the endpoint path itself is visible too. All three ratios are reported."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack

from common import HERE, background, in_netns, median, percentile, unique, veth_pair_baseline

from lab import api
from lab.plan.mtu import ENDPOINT_MTU

TOPOLOGY = HERE / "datapath.yaml"
PORT_RAW, PORT_PP, PORT_ECHO, PORT_IPERF = 5201, 5202, 7000, 5201
HEALTHY_TIMEOUT_S = 30


def _netns(plan, instance: str) -> str:
    return next(i["Netns"] for i in plan.inventory["instances"] if i["Name"] == instance)


def _wait_healthy(plan) -> None:
    """The first health check may run before our servers started; wait until every target is UP."""
    from lab.apply.nodes import server_states

    rt = api.runtime()
    deadline = time.monotonic() + HEALTHY_TIMEOUT_S
    states: list[dict] = []
    while time.monotonic() < deadline:
        states = [row for node in plan.nodes for row in server_states(rt.pid(node.container))]
        if states and all(row.get("status", "").startswith("UP") for row in states):
            return
        time.sleep(0.5)
    raise RuntimeError(f"targets not healthy after {HEALTHY_TIMEOUT_S} s: {[(r['pxname'], r['status']) for r in states]}")


def iperf3(client_ns: str, host: str, port: int, streams: int, seconds: float) -> float:
    out = in_netns(client_ns, ["iperf3", "-c", host, "-p", str(port), "-P", str(streams), "-t", str(seconds),
                               "-J", "--connect-timeout", "3000"], timeout=seconds + 30)
    return json.loads(out.stdout)["end"]["sum_received"]["bits_per_second"] / 1e9


def rr(client_ns: str, host: str, port: int, mode: str, count: int) -> dict:
    out = in_netns(client_ns, [sys.executable, str(HERE / "rr.py"), mode, host, str(port), str(count)], timeout=120)
    data = json.loads(out.stdout)
    samples = data["samples_us"]
    if data["error_count"]:
        raise RuntimeError(f"{mode} to {host}:{port}: {data['error_count']} errors, e.g. {data['errors']}")
    return {"p50": percentile(samples, 50), "p99": percentile(samples, 99), "n": len(samples)}


def run(quick: bool, progress: Callable[[str], None]) -> dict:
    seconds = 2 if quick else 5
    repeats = 3 if quick else 5
    rr_count = 500 if quick else 3000
    lab = unique("dp")
    results: dict = {"iperf3_seconds": seconds, "repeats": repeats, "rr_count": rr_count}
    with ExitStack() as stack:
        progress(f"data path: lab {lab} from {TOPOLOGY.name}")
        plan = api.up(TOPOLOGY, lab).plan
        stack.callback(api.down, lab)
        server, client = _netns(plan, "server"), _netns(plan, "client")
        eni = plan.endpoints[0].enis[0].ip
        stack.enter_context(background(server, ["iperf3", "-s", "-p", str(PORT_IPERF)], PORT_IPERF))
        stack.enter_context(background(server, [sys.executable, str(HERE / "strip_relay.py"), str(PORT_PP),
                                                str(PORT_IPERF)], PORT_PP))
        stack.enter_context(background(server, [sys.executable, str(HERE / "rr.py"), "serve", str(PORT_ECHO)], PORT_ECHO))
        base_client, base_server, base_ip = stack.enter_context(veth_pair_baseline())
        stack.enter_context(background(base_server, ["iperf3", "-s", "-p", str(PORT_IPERF)], PORT_IPERF))
        paths = {"direct": (base_client, base_ip, PORT_IPERF)}
        try:
            big_client, big_server, big_ip = stack.enter_context(veth_pair_baseline(big_tcp=True))
            stack.enter_context(background(big_server, ["iperf3", "-s", "-p", str(PORT_IPERF)], PORT_IPERF))
            paths["direct_big_tcp"] = (big_client, big_ip, PORT_IPERF)
            # Like for like: the same offloads and the MTU the endpoint path runs at (lab.plan.mtu).
            lfl_client, lfl_server, lfl_ip = stack.enter_context(veth_pair_baseline(big_tcp=True, mtu=ENDPOINT_MTU))
            stack.enter_context(background(lfl_server, ["iperf3", "-s", "-p", str(PORT_IPERF)], PORT_IPERF))
            paths["direct_like_for_like"] = (lfl_client, lfl_ip, PORT_IPERF)
        except RuntimeError as err:
            results["big_tcp_unavailable"] = str(err)
            progress(f"  no BIG TCP baseline: {err}")
        stack.enter_context(background(base_server, [sys.executable, str(HERE / "rr.py"), "serve", str(PORT_ECHO)],
                                       PORT_ECHO))
        _wait_healthy(plan)

        paths.update(endpoint=(client, eni, PORT_RAW), endpoint_ppv2=(client, eni, PORT_PP))
        for streams in (1, 4):
            runs: dict[str, list[float]] = {name: [] for name in paths}
            for i in range(repeats):
                for name, (ns, host, port) in paths.items():  # interleaved: drift hits every path alike
                    runs[name].append(iperf3(ns, host, port, streams, seconds))
                progress(f"  iperf3 -P {streams} run {i + 1}/{repeats}: "
                         + ", ".join(f"{n} {v[-1]:.1f}" for n, v in runs.items()) + " Gbit/s")
            gbps = {name: median(v) for name, v in runs.items()}
            results[f"throughput_{streams}"] = {
                "gbps": gbps, "runs": runs,
                "ratio": {name: gbps[name] / gbps["direct"] for name in ("endpoint", "endpoint_ppv2")},
                "ratio_vs_big_tcp": {name: gbps[name] / gbps["direct_big_tcp"] for name in ("endpoint", "endpoint_ppv2")}
                if "direct_big_tcp" in gbps else None,
                "ratio_like_for_like": {name: gbps[name] / gbps["direct_like_for_like"]
                                        for name in ("endpoint", "endpoint_ppv2")}
                if "direct_like_for_like" in gbps else None,
            }

        latency: dict = {}
        for mode in ("rr", "crr"):
            per = {"direct": [], "endpoint": []}
            for _ in range(repeats):
                per["direct"].append(rr(base_client, base_ip, PORT_ECHO, mode, rr_count))
                per["endpoint"].append(rr(client, eni, PORT_ECHO, mode, rr_count))
            summary = {side: {q: median([r[q] for r in runs]) for q in ("p50", "p99")} for side, runs in per.items()}
            summary["added"] = {q: summary["endpoint"][q] - summary["direct"][q] for q in ("p50", "p99")}
            latency[mode] = summary
            progress(f"  latency {mode}: direct p50 {summary['direct']['p50']:.0f} us, endpoint p50 "
                     f"{summary['endpoint']['p50']:.0f} us (added {summary['added']['p50']:.0f} us)")
        results["latency_us"] = latency
    return results
