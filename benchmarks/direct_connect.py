"""Direct Connect benchmarks: `lab up` of topologies/direct-connect.yaml (BGP Established included), and
the fault times on one live lab, each a median of `repeats` rounds:

- link down: the VPC router's end of the DX veth set down -> the data centre's router loses 10.0.0.0/16
  (routes read with `ip route ... proto bird`, polled every 50 ms); link up -> both routes back;
- BGP cut: tcp/179 dropped in the data centre's router (the link stays up, so only the hold timer,
  9 s, can notice) -> route lost; drop removed -> routes back.

Bounded: every wait gives up after BOUND_S; 3 rounds of each take about 1.5 minutes on a quiet machine.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable

from common import median, unique
from lifecycle import _lab_cli

from lab.state.store import LabState

BOUND_S = 30.0
TABLE = "bench_dxcut"
CUT = (f"table inet {TABLE} {{\n  chain input {{\n    type filter hook input priority -10\n    tcp dport 179 drop\n"
       f"    tcp sport 179 drop\n  }}\n  chain output {{\n    type filter hook output priority -10\n"
       f"    tcp dport 179 drop\n    tcp sport 179 drop\n  }}\n}}\n")


def _has(ns: str, dst: str) -> bool:
    out = subprocess.run(["ip", "-n", ns, "-j", "route", "show", "proto", "bird"], capture_output=True, text=True,
                         timeout=5)
    return any(r.get("dst") == dst for r in json.loads(out.stdout or "[]"))


def _until(predicate: Callable[[], bool]) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < BOUND_S:
        if predicate():
            return time.perf_counter() - t0
        time.sleep(0.05)
    raise RuntimeError(f"no change within {BOUND_S:.0f} s")


def _both_up(dc: str, vpc: str, vpc_cidr: str, onprem_cidr: str) -> bool:
    return _has(dc, vpc_cidr) and _has(vpc, onprem_cidr)


def run(quick: bool, progress: Callable[[str], None]) -> dict:
    repeats = 3
    ups, downs = [], []
    link_lost, link_back, cut_lost, cut_back = [], [], [], []
    for i in range(repeats):
        lab = unique("dx")
        try:
            wall, report = _lab_cli("up", "--name", lab, "--topology", "direct-connect")
            ups.append(wall)
            if i == 0:  # the faults run on the first lab
                plan = LabState(lab).load_plan()
                dx = plan["direct_connect"][0]
                dc, vpc = dx["speakers"][0]["netns"], dx["speakers"][1]["netns"]
                vpc_cidr, onprem_cidr = dx["speakers"][1]["announce"][0], dx["speakers"][0]["announce"][0]
                for k in range(repeats):
                    subprocess.run(["ip", "-n", vpc, "link", "set", dx["ifname"], "down"], check=True, timeout=5)
                    link_lost.append(_until(lambda: not _has(dc, vpc_cidr)))
                    subprocess.run(["ip", "-n", vpc, "link", "set", dx["ifname"], "up"], check=True, timeout=5)
                    link_back.append(_until(lambda: _both_up(dc, vpc, vpc_cidr, onprem_cidr)))
                    subprocess.run(["ip", "netns", "exec", dc, "nft", "-f", "-"], input=CUT, text=True, check=True,
                                   timeout=5)
                    try:
                        cut_lost.append(_until(lambda: not _has(dc, vpc_cidr)))
                    finally:
                        subprocess.run(["ip", "netns", "exec", dc, "nft", "delete", "table", "inet", TABLE],
                                       check=True, timeout=5)
                    cut_back.append(_until(lambda: _both_up(dc, vpc, vpc_cidr, onprem_cidr)))
                    progress(f"  faults [{k + 1}/{repeats}]: link down -> route lost {link_lost[-1]:.2f} s, back "
                             f"{link_back[-1]:.2f} s; BGP cut -> lost {cut_lost[-1]:.2f} s, back {cut_back[-1]:.2f} s")
        finally:
            wall_down, _ = _lab_cli("down", "--name", lab)
        downs.append(wall_down)
        progress(f"  lab up direct-connect {ups[-1]:.2f} s (dx step {report['steps_ms'].get('dx', 0):.0f} ms), "
                 f"lab down {downs[-1]:.2f} s  [{i + 1}/{repeats}]")
    return {"repeats": repeats, "up_s": median(ups), "down_s": median(downs),
            "link_down_route_lost_s": median(link_lost), "link_up_routes_back_s": median(link_back),
            "bgp_cut_route_lost_s": median(cut_lost), "bgp_restored_routes_back_s": median(cut_back),
            "hold_s": 9, "keepalive_s": 3}
