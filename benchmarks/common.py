"""Shared helpers for the benchmarks: medians, processes in namespaces, a direct veth baseline."""

from __future__ import annotations

import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))  # run from a checkout: `python benchmarks/run.py`


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def unique(prefix: str) -> str:
    """A lab or namespace name of ours: `bn-<prefix>-<hex4>` (<= 16 characters)."""
    return f"bn-{prefix[:7]}-{secrets.token_hex(2)}"


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu": cpu,
            "memory_gib": round(mem_kb / (1 << 20), 1), "python": platform.python_version()}


def in_netns(ns: str, argv: list[str], timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} in {ns} failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    return out


@contextmanager
def background(ns: str, argv: list[str], ready_port: int | None = None) -> Iterator[subprocess.Popen]:
    """A server of ours inside a namespace, killed (by our own handle) when the block ends."""
    proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if ready_port is not None:
            _wait_listening(proc, ready_port)
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _wait_listening(proc: subprocess.Popen, port: int, timeout: float = 10) -> None:
    want = f":{port:04X} "
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early ({proc.returncode}): {proc.args}")
        tcp = ""
        for table in ("tcp", "tcp6"):  # iperf3 listens on a dual-stack socket
            try:
                tcp += Path(f"/proc/{proc.pid}/net/{table}").read_text()
            except OSError:
                pass
        if any(want in line and line.split()[3] == "0A" for line in tcp.splitlines()[1:]):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on :{port} after {timeout} s: {proc.args}")


@contextmanager
def veth_pair_baseline(big_tcp: bool = False, mtu: int | None = None) -> Iterator[tuple[str, str, str]]:
    """Two namespaces of ours joined by one veth pair (10.99.0.1 <-> 10.99.0.2): the direct path.

    Yields (client netns, server netns, server address). Made with pyroute2 through the lab's own
    namespace helpers; both namespaces are removed afterwards (which deletes the pair). With
    `big_tcp`, both ends get the GSO/GRO limits the lab gives its own links (lab.apply.offload);
    raises RuntimeError when this kernel cannot. `mtu` sets both ends' MTU (the like-for-like baseline:
    the endpoint path runs at 8500, lab.plan.mtu).
    """
    from pyroute2 import IPRoute

    from lab.apply import netns, offload

    base = unique("veth")
    names = (f"{base}-c", f"{base}-s")
    created = []
    try:
        for name in names:
            netns.create(name)
            created.append(name)
        with IPRoute() as root:
            root.link("add", ifname=f"{base[-4:]}c0", kind="veth", peer=f"{base[-4:]}s0")
            for ifname, name in ((f"{base[-4:]}c0", names[0]), (f"{base[-4:]}s0", names[1])):
                fd = os.open(netns.netns_path(name), os.O_RDONLY)
                try:
                    root.link("set", index=root.link_lookup(ifname=ifname)[0], net_ns_fd=fd)
                finally:
                    os.close(fd)
        for (ifname, ip), name in zip(((f"{base[-4:]}c0", "10.99.0.1"), (f"{base[-4:]}s0", "10.99.0.2")), names):
            with netns.netlink(netns.netns_path(name)) as ipr:
                lo = ipr.link_lookup(ifname="lo")[0]
                ipr.link("set", index=lo, state="up")
                idx = ipr.link_lookup(ifname=ifname)[0]
                ipr.addr("add", index=idx, address=ip, prefixlen=24)
                if mtu is not None:
                    ipr.link("set", index=idx, mtu=mtu)
                refusal = offload.enlarge(ipr, idx, confirm=True) if big_tcp else None
                if refusal is not None:
                    raise RuntimeError(refusal)
                ipr.link("set", index=idx, state="up")
        yield names[0], names[1], "10.99.0.2"
    finally:
        for name in created:
            netns.remove(name)
