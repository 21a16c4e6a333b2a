"""Control-plane benchmarks: `lab up` / `lab down` of the default lab (per step), scale with N
consumer VPCs (one endpoint each, all on one service), and the NLB image build."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from common import median, unique

from lab import api


def _lab_cli(*args: str, timeout: float = 600) -> tuple[float, dict]:
    script = Path(sys.executable).parent / "lab"
    t0 = time.perf_counter()
    out = subprocess.run([str(script), *args, "--format", "json"], capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"lab {' '.join(args)} failed: {out.stderr.strip()[-800:]}")
    return wall, json.loads(out.stdout)


def up_down(quick: bool, progress: Callable[[str], None], topology: str | None = None) -> dict:
    """`lab up` / `lab down` of the default lab (or `topology`) through the CLI, as a user runs them (image cached)."""
    repeats = 3 if quick else 7
    ups, downs, internal, steps = [], [], [], []
    for i in range(repeats):
        lab = unique("up")
        try:
            wall, report = _lab_cli("up", "--name", lab, *(["-t", topology] if topology else []))
            ups.append(wall)
            internal.append(report["seconds"])
            steps.append(report["steps_ms"])
        finally:
            wall_down, _ = _lab_cli("down", "--name", lab)
        downs.append(wall_down)
        progress(f"  lab up {ups[-1]:.2f} s (inside: {internal[-1]:.2f} s), lab down {downs[-1]:.2f} s  [{i + 1}/{repeats}]")
    return {"repeats": repeats, "up_s": median(ups), "up_internal_s": median(internal), "down_s": median(downs),
            "steps_ms": {k: median([s[k] for s in steps]) for k in steps[0]}}


def scale_topology(n: int) -> dict:
    """One provider VPC + NLB (2 AZs) + service, and N consumer VPCs (all 10.0.0.0/16, one client
    each) with one endpoint each, in AZ a."""
    consumers = [{"name": f"consumer-{i}", "account": "consumer", "cidr": "10.0.0.0/16",
                  "subnets": [{"name": "consumer-a", "az": "us-east-1a", "cidr": "10.0.1.0/24"}],
                  "instances": [{"name": f"client-{i}", "subnet": "consumer-a", "ip": "10.0.1.20"}]}
                 for i in range(n)]
    return {
        "description": f"scale: one service, {n} consumer VPCs",
        "azs": [{"name": "us-east-1a", "id": "use1-az1"}, {"name": "us-east-1b", "id": "use1-az2"}],
        "accounts": {"provider": "111111111111", "consumer": "222222222222"},
        "vpcs": [{"name": "provider", "account": "provider", "cidr": "10.0.0.0/16",
                  "subnets": [{"name": "provider-a", "az": "us-east-1a", "cidr": "10.0.1.0/24"},
                              {"name": "provider-b", "az": "us-east-1b", "cidr": "10.0.2.0/24"}],
                  "instances": [{"name": "target-a", "subnet": "provider-a", "app": "demo-target"},
                                {"name": "target-b", "subnet": "provider-b", "app": "demo-target"}]},
                 *consumers],
        "nlbs": [{"name": "web-nlb", "vpc": "provider", "subnets": ["provider-a", "provider-b"],
                  "listeners": [{"port": 80, "target_group": "web"}],
                  "target_groups": [{"name": "web", "port": 8080, "proxy_protocol_v2": True,
                                     "targets": ["target-a", "target-b"]}]}],
        "endpoint_services": [{"name": "web-service", "account": "provider", "nlb": "web-nlb",
                               "acceptance_required": False, "allowed_principals": ["*"]}],
        "endpoints": [{"name": f"endpoint-{i}", "vpc": f"consumer-{i}", "service": "web-service",
                       "subnets": ["consumer-a"]} for i in range(n)],
    }


def _memory(plan) -> dict:
    """RSS of the lab's processes (demo targets, HAProxy master + worker) and the containers' memory."""
    rt = api.runtime()
    rss_kb = 0
    pids = []
    for node in plan.nodes:
        pid = rt.pid(node.container)
        if pid:
            pids += [pid, *_children(pid)]
    journal = Path(f"/var/lib/privatelink-lab/{plan.lab}/journal.jsonl")
    from lab.apply.processes import pids_with_token

    for entry in map(json.loads, journal.read_text().splitlines()):
        if entry["kind"] == "process":
            pids += pids_with_token(entry["token"])
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        rss_kb += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")), 0)
    container_bytes = 0
    for node in plan.nodes:
        stats = rt.client.containers.get(node.container).stats(stream=False, one_shot=True)
        container_bytes += stats.get("memory_stats", {}).get("usage", 0)
    return {"process_rss_mib": round(rss_kb / 1024, 1), "container_mib": round(container_bytes / (1 << 20), 1)}


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found + [g for c in found for g in _children(c)]


def _check_one(plan) -> bool:
    """The last consumer's client reaches the service through its endpoint (the lab really works)."""
    ns = plan.inventory["instances"][-1]["Netns"]
    eni = plan.endpoints[-1].enis[0].ip
    out = subprocess.run(["ip", "netns", "exec", ns, "curl", "-s", "-m", "5", f"http://{eni}/"],
                         capture_output=True, text=True, timeout=15)
    return out.returncode == 0 and plan.endpoints[-1].id in out.stdout


def scale(sizes: list[int], progress: Callable[[str], None], profile_at: int | None = None) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"scale-{n}.yaml"
            path.write_text(yaml.safe_dump(scale_topology(n), sort_keys=False))
            lab = unique(f"s{n}")
            profiler = None
            if n == profile_at:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            try:
                t0 = time.perf_counter()
                result = api.up(path, lab)
                up_s = time.perf_counter() - t0
                if profiler:
                    profiler.disable()
                works = _check_one(result.plan)
                memory = _memory(result.plan)
            finally:
                t0 = time.perf_counter()
                api.down(lab)
                down_s = time.perf_counter() - t0
            rows.append({"n": n, "up_s": round(up_s, 3), "down_s": round(down_s, 3), "works": works,
                         "namespaces": len(result.plan.namespaces), "veths": len(result.plan.veths),
                         "steps_ms": {k: round(v * 1000, 1) for k, v in result.steps_s.items()}, **memory})
            progress(f"  scale N={n}: up {up_s:.2f} s, down {down_s:.2f} s, works={works}, {memory}")
            if profiler:
                import io
                import pstats

                buf = io.StringIO()
                pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(25)
                rows[-1]["profile_top"] = buf.getvalue()
    per_vpc = {}
    for a, b in zip(rows, rows[1:]):
        per_vpc[f"{a['n']}->{b['n']}"] = round((b["up_s"] - a["up_s"]) / (b["n"] - a["n"]) * 1000, 1)
    return {"rows": rows, "ms_per_added_vpc": per_vpc}


def image_build(quick: bool, progress: Callable[[str], None]) -> dict:
    """A forced build under a tag of our own, so labs running on the engine keep theirs; then untag it."""
    from lab.image import ensure_image

    tag = f"privatelink-lab/nlb:bench-{unique('img')[-4:]}"
    rt = api.runtime()
    times = []
    try:
        for i in range(1 if quick else 3):
            result = ensure_image(rt.client, force=True, tag=tag, progress=lambda _m: None)
            times.append(result.seconds)
            progress(f"  image build {result.seconds:.1f} s ({result.source}, HAProxy {result.haproxy_version})"
                     f"  [{i + 1}]")
    finally:
        try:
            rt.client.images.remove(tag)
        except Exception:  # noqa: BLE001 - already gone
            pass
    return {"repeats": len(times), "build_s": median(times), "runs_s": times}
