"""privatelink-lab benchmarks: one command, a table and JSON. Needs root and Docker.

    sudo .venv/bin/python benchmarks/run.py            # everything, full repeats (~10 min)
    sudo .venv/bin/python benchmarks/run.py --quick    # fewer repeats and sizes (~4 min)
    sudo .venv/bin/python benchmarks/run.py --json out.json --only datapath,updown

Every figure is a median of several runs; ratios divide figures measured in the same run.
These are measurements, not tests: nothing here passes or fails on a timing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import common  # noqa: F401  (puts the checkout on sys.path)
import datapath
import direct_connect
import lifecycle
import multi_tenant

SECTIONS = ("datapath", "updown", "scale", "image", "dx", "internet", "modes")
GOALS = {"throughput_ratio_1": 0.8, "added_p50_us": 100, "up_s": 3.0, "down_s": 2.0, "ms_per_vpc": 60, "build_s": 30}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def table(results: dict) -> str:
    rows = []

    def add(what, value, goal="", note=""):
        rows.append((what, value, goal, note))

    if "datapath" in results:
        d = results["datapath"]
        for streams in (1, 4):
            t = d[f"throughput_{streams}"]
            g = t["gbps"]
            big = t.get("ratio_vs_big_tcp")
            lfl = t.get("ratio_like_for_like")
            add(f"iperf3 {streams} stream(s): direct veth", f"{g['direct']:.1f} Gbit/s", "", "as `ip link add` makes it")
            add(f"iperf3 {streams} stream(s): direct veth, BIG TCP", f"{g['direct_big_tcp']:.1f} Gbit/s" if big else
                "n/a", "", "tuned like the lab's links" if big else d.get("big_tcp_unavailable", ""))
            if lfl:
                add(f"iperf3 {streams} stream(s): direct veth, BIG TCP, MTU 8500", f"{g['direct_like_for_like']:.1f} Gbit/s",
                    "", "like for like: the endpoint path's MTU and offloads")
            for name, label, note in (("endpoint", "PPv2 off", ""), ("endpoint_ppv2", "PPv2 on", "target = strip_relay.py -> iperf3")):
                versus = f", {big[name]:.2f}x vs BIG TCP veth" if big else ""
                versus += f", {lfl[name]:.2f}x like for like" if lfl else ""
                add(f"iperf3 {streams} stream(s): endpoint, {label}",
                    f"{g[name]:.1f} Gbit/s ({t['ratio'][name]:.2f}x{versus})",
                    ">= 0.8x" if streams == 1 and name == "endpoint" else "", note)
        for mode, label in (("rr", "request latency, open connection"), ("crr", "request latency, new connection")):
            lat = d["latency_us"][mode]
            add(f"{label}: direct p50/p99", f"{lat['direct']['p50']:.0f} / {lat['direct']['p99']:.0f} us")
            add(f"{label}: endpoint p50/p99", f"{lat['endpoint']['p50']:.0f} / {lat['endpoint']['p99']:.0f} us")
            add(f"{label}: added p50/p99", f"{lat['added']['p50']:.0f} / {lat['added']['p99']:.0f} us",
                "p50 <= 100 us" if mode == "rr" else "")
    if "updown" in results:
        u = results["updown"]
        add("lab up (default lab, CLI wall time)", f"{u['up_s']:.2f} s", "<= 3 s", f"inside lab: {u['up_internal_s']:.2f} s")
        add("lab down (CLI wall time)", f"{u['down_s']:.2f} s", "<= 2 s")
        add("lab up steps (ms)", ", ".join(f"{k} {v:.0f}" for k, v in u["steps_ms"].items()))
    if "scale" in results:
        s = results["scale"]
        for row in s["rows"]:
            add(f"scale N={row['n']} consumer VPCs: up / down", f"{row['up_s']:.2f} s / {row['down_s']:.2f} s", "",
                f"{row['namespaces']} netns, {row['veths']} veths; RSS {row['process_rss_mib']} MiB, "
                f"containers {row['container_mib']} MiB; works={row['works']}")
        for span, ms in s["ms_per_added_vpc"].items():
            add(f"time per added consumer VPC ({span})", f"{ms:.0f} ms", "<= 60 ms")
    if "internet" in results:
        n = results["internet"]
        add("lab up internet-vs-private (CLI wall time)", f"{n['internet']['up_s']:.2f} s", "",
            f"{n['ratio']:.2f}x the default lab's {n['basic']['up_s']:.2f} s in the same run; internet step "
            f"{n['internet']['steps_ms'].get('internet', 0):.0f} ms")
    if "image" in results:
        i = results["image"]
        add("NLB image build (forced)", f"{i['build_s']:.1f} s", "<= 30 s", f"median of {i['repeats']}")
    if "dx" in results:
        x = results["dx"]
        add("lab up direct-connect (CLI wall time)", f"{x['up_s']:.2f} s", "", "BGP Established included")
        add("DX link down: on-prem route lost", f"{x['link_down_route_lost_s']:.2f} s", f"<= hold {x['hold_s']} s")
        add("DX link up: routes back", f"{x['link_up_routes_back_s']:.2f} s", "", "no lab down")
        add("BGP cut (link up): on-prem route lost", f"{x['bgp_cut_route_lost_s']:.2f} s", f"~ hold {x['hold_s']} s")
        add("BGP restored: routes back", f"{x['bgp_restored_routes_back_s']:.2f} s", "", "no lab down")
    if "modes" in results:
        mt = results["modes"]
        for mode, r in mt["modes"].items():
            add(f"multi-tenant mode {mode} ({r['topology']}): lab up", f"{r['up_s']:.2f} s",
                "", f"{r['up_ratio_vs_ppv2']:.2f}x mode ppv2; median of {len(r['up_runs_s'])}; "
                f"{r['nlbs']} NLB(s), {r['services']} service(s), {r['enis']} ENIs")
            add(f"multi-tenant mode {mode}: added request latency p50", f"{r['added_p50_us']} us", "",
                f"endpoint {r['endpoint_p50_us']} us - direct {r['direct_p50_us']} us, {r['requests']} new "
                f"connections each; {r['added_ratio_vs_ppv2']:.2f}x mode ppv2")
    width = [max(len(str(r[c])) for r in rows + [("what", "measured", "goal", "note")]) for c in range(4)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(("what", "measured", "goal", "note"), width)),
             "-+-".join("-" * w for w in width)]
    lines += [" | ".join(str(v).ljust(w) for v, w in zip(r, width)) for r in rows]
    return "\n".join(lines)


def modes(quick: bool, progress) -> dict:
    """Each multi-tenant mode's shipped topology (benchmarks/multi_tenant.py), all in this run, with
    ratios to mode ppv2 (today's multi-tenant.yaml) measured alongside."""
    ups, requests = (2, 100) if quick else (3, 300)
    out = {}
    for mode in multi_tenant.MODES:
        progress(f"  mode {mode}: {ups} x lab up, {requests} requests")
        out[mode] = multi_tenant.measure(mode, ups, requests)
    base = out["ppv2"]
    for r in out.values():
        r["up_ratio_vs_ppv2"] = round(r["up_s"] / base["up_s"], 3)
        r["added_ratio_vs_ppv2"] = round(r["added_p50_us"] / base["added_p50_us"], 3) if base["added_p50_us"] else 0.0
    return {"ups": ups, "requests": requests, "modes": out}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, scale N = 1, 10, 50")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE", help="write JSON (to FILE, or stdout)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--scale", default=None, help="comma-separated N values (default 1,10,50; 1,10,50,200 full)")
    parser.add_argument("--profile-at", type=int, default=None, help="cProfile `lab up` at this N")
    args = parser.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; use {', '.join(SECTIONS)}")
    sizes = [int(n) for n in args.scale.split(",")] if args.scale else ([1, 10, 50] if args.quick else [1, 10, 50, 200])

    results: dict = {"machine": common.machine(), "quick": args.quick, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    t0 = time.perf_counter()
    if "datapath" in only:
        log("== data path (iperf3, latency)")
        results["datapath"] = datapath.run(args.quick, log)
    if "updown" in only:
        log("== lab up / lab down")
        results["updown"] = lifecycle.up_down(args.quick, log)
    if "scale" in only:
        log(f"== scale: N = {sizes}")
        results["scale"] = lifecycle.scale(sizes, log, args.profile_at)
    if "internet" in only:
        log("== lab up / down: internet-vs-private, and the default lab in the same run")
        internet = lifecycle.up_down(args.quick, log, "internet-vs-private")
        basic = lifecycle.up_down(args.quick, log)
        results["internet"] = {"internet": internet, "basic": basic, "ratio": internet["up_s"] / basic["up_s"]}
    if "image" in only:
        log("== NLB image build")
        results["image"] = lifecycle.image_build(args.quick, log)
    if "dx" in only:
        log("== Direct Connect: lab up, DX link and BGP faults")
        results["dx"] = direct_connect.run(args.quick, log)
    if "modes" in only:
        log("== the three multi-tenant modes: lab up and added latency, in one run")
        results["modes"] = modes(args.quick, log)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    results["goals"] = GOALS

    m = results["machine"]
    print(f"machine: {m['nproc']} CPUs ({m['cpu']}), kernel {m['kernel']}, {m['memory_gib']} GiB, Python {m['python']}")
    print(table(results))
    if args.json:
        text = json.dumps(results, indent=2, default=str)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w") as f:
                f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
