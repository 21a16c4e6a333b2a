"""Direct Connect end to end (topologies/direct-connect.yaml, the GE case): a real BGP session (BIRD on
both ends), the on-prem resolver forwarding to a Route 53 Resolver inbound endpoint, `lab verify`'s
on-prem path, and the faults: the DX link down (and the BGP session cut while the link stays up) makes
on-prem lose the route within the hold time and the flow fail cleanly; undoing it recovers without
`lab down`. Routes are read independently with `ip route` (not through the lab's code).

Each fault loop is bounded in time (FAULT_BOUND_S) and polls at 0.1 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from lab.state.store import LabState

pytestmark = [pytest.mark.root, pytest.mark.lab_topology("direct-connect")]

HOLD_S = 9
FAULT_BOUND_S = 30.0  # the loops give up here; the assertions are about the hold time


def _ns(plan: dict) -> tuple[str, str, str]:
    """(on-prem router, VPC router, on-prem client) namespaces of the single DX link."""
    dx = plan["direct_connect"][0]
    client = next(i for i in plan["inventory"]["instances"] if i.get("OnPremises"))
    return dx["speakers"][0]["netns"], dx["speakers"][1]["netns"], client["Netns"]


def _routes(ns: str) -> list[dict]:
    out = subprocess.run(["ip", "-n", ns, "-j", "route", "show", "proto", "bird"], capture_output=True, text=True,
                         check=True, timeout=5)
    return json.loads(out.stdout or "[]")


def _has_route(ns: str, dst: str) -> bool:
    return any(r.get("dst") == dst for r in _routes(ns))


def _wait(predicate, bound: float = FAULT_BOUND_S) -> float | None:
    """Seconds until predicate() holds, polling at 0.1 s; None when the bound passed first."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < bound:
        if predicate():
            return time.monotonic() - t0
        time.sleep(0.1)
    return None


def _curl(client_ns: str, url: str, timeout_s: int = 3) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", client_ns, "curl", "-s", "-m", str(timeout_s), url],
                          capture_output=True, text=True, timeout=timeout_s + 5)


@pytest.fixture(scope="module")
def plan(lab) -> dict:
    return LabState(lab.name).load_plan()


def test_bgp_installs_each_sides_prefixes_in_the_other(plan) -> None:
    dc, vpc, _client = _ns(plan)
    assert _has_route(dc, "10.0.0.0/16"), _routes(dc)  # the VPC CIDR, learned by the data centre
    assert _has_route(vpc, "172.16.0.0/16"), _routes(vpc)  # the data centre, in the VPC's route table
    assert not any(r.get("dst") == "10.0.0.0/16" for r in _routes(vpc))  # nothing of its own comes back


def test_status_shows_the_vif_with_bgp_up_and_learned_routes(lab) -> None:
    proc = subprocess.run([sys.executable, "-m", "lab.cli.main", "status", "--name", lab.name, "--format", "json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    (vif,) = json.loads(proc.stdout)["virtual_interfaces"]
    assert vif["VirtualInterfaceType"] == "private" and vif["AmazonSideAsn"] == 64512 and vif["Asn"] == 65000
    assert vif["BgpPeers"][0]["BgpStatus"] == "up" and vif["VirtualInterfaceState"] == "available"
    sessions = {s["Side"]: s for s in vif["Lab"]["Sessions"]}
    assert sessions["customer"]["State"] == sessions["amazon"]["State"] == "Established"
    assert sessions["customer"]["LearnedRoutes"] == ["10.0.0.0/16"]
    assert sessions["amazon"]["LearnedRoutes"] == ["172.16.0.0/16"]


def test_on_prem_client_resolves_the_private_dns_name_and_the_target_sees_its_address(plan) -> None:
    _dc, _vpc, client = _ns(plan)
    enis = sorted(e["ip"] for ep in plan["endpoints"] for e in ep["enis"])
    dig = subprocess.run(["ip", "netns", "exec", client, "dig", "+short", "+time=2", "+tries=1",
                          "api.saas.example.com"], capture_output=True, text=True, timeout=10)
    answers = sorted(line for line in dig.stdout.split() if line[0].isdigit())
    assert answers == enis, dig.stdout
    zonal = next(e["DnsName"] for e in plan["endpoints"][0]["dns_entries"] if e["Scope"] == "zonal")
    dig = subprocess.run(["ip", "netns", "exec", client, "dig", "+short", "+time=2", "+tries=1", zonal],
                         capture_output=True, text=True, timeout=10)
    assert dig.stdout.split() and dig.stdout.split()[0] in enis
    body = json.loads(_curl(client, "http://api.saas.example.com/").stdout)
    assert body["client"].split(":")[0] == "172.16.1.10"  # PPv2: the on-prem client's own address
    assert body["vpce_id"] == plan["endpoints"][0]["id"]


def test_verify_proves_the_path_over_dx(lab) -> None:
    proc = subprocess.run([sys.executable, "-m", "lab.cli.main", "verify", "--name", lab.name, "--format", "json",
                           "--no-wait-health-checks"], capture_output=True, text=True, timeout=180)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["ok"], [c for c in report["checks"] if c["status"] == "fail"]
    paths = [c for c in report["checks"] if c["category"] == "path" and c["subject"].startswith("dc-client")]
    assert paths and all(c["status"] == "pass" for c in paths)
    assert all("onprem-subnet/dc-client -> dx/dx-primary -> endpoint-eni/" in c["message"] for c in paths)


def _flow_works(client: str) -> bool:
    return _curl(client, "http://api.saas.example.com/", 2).returncode == 0


def test_dx_link_down_loses_the_route_within_hold_time_and_recovers(plan) -> None:
    dc, vpc, client = _ns(plan)
    ifname = plan["direct_connect"][0]["ifname"]
    assert _flow_works(client)
    subprocess.run(["ip", "-n", vpc, "link", "set", ifname, "down"], check=True, timeout=5)  # the lab's own veth end
    try:
        lost = _wait(lambda: not _has_route(dc, "10.0.0.0/16"))
        t0 = time.monotonic()
        failed = _curl(client, "http://10.0.1.253/", 2)
        fail_s = time.monotonic() - t0
    finally:
        subprocess.run(["ip", "-n", vpc, "link", "set", ifname, "up"], check=True, timeout=5)
    back = _wait(lambda: _has_route(dc, "10.0.0.0/16") and _has_route(vpc, "172.16.0.0/16"))
    print(f"\nDX link down: on-prem lost the route in {lost} s; flow failed in {fail_s:.2f} s; "
          f"link up: routes back in {back} s")
    assert lost is not None and lost <= HOLD_S, lost
    assert failed.returncode != 0 and fail_s < 3  # fails cleanly: no route, refused at once, not a hang
    assert back is not None, "BGP did not come back within the bound"
    assert _wait(lambda: _flow_works(client), 10) is not None


def test_bgp_cut_with_the_link_up_expires_on_the_hold_timer_and_recovers(plan) -> None:
    """Drop BGP (tcp/179) in the data centre's router: the link stays up, so only the hold timer can tell."""
    dc, vpc, client = _ns(plan)
    table = "lab_test_dxcut"
    drop = "tcp dport 179 drop\n    tcp sport 179 drop"
    rules = (f"table inet {table} {{\n  chain input {{\n    type filter hook input priority -10\n    {drop}\n  }}\n"
             f"  chain output {{\n    type filter hook output priority -10\n    {drop}\n  }}\n}}\n")
    subprocess.run(["ip", "netns", "exec", dc, "nft", "-f", "-"], input=rules, text=True, check=True, timeout=5)
    try:
        lost = _wait(lambda: not _has_route(dc, "10.0.0.0/16"))
        vpc_lost = _wait(lambda: not _has_route(vpc, "172.16.0.0/16"), 5)
        flow_failed = not _flow_works(client)
    finally:
        subprocess.run(["ip", "netns", "exec", dc, "nft", "delete", "table", "inet", table], check=True, timeout=5)
    back = _wait(lambda: _has_route(dc, "10.0.0.0/16") and _has_route(vpc, "172.16.0.0/16"))
    print(f"\nBGP cut: on-prem lost the route in {lost} s (hold {HOLD_S} s); BGP allowed again: back in {back} s")
    # The hold timer (9 s after the last keepalive), plus BIRD's timer resolution and our 0.1 s polling on a
    # loaded machine: measured 7.9-10.0 s (benchmarks/direct_connect.py). Link-down is noticed at once.
    assert lost is not None and lost <= HOLD_S + 2.0, lost
    assert vpc_lost is not None and flow_failed
    assert back is not None
    assert _wait(lambda: _flow_works(client), 10) is not None


def _ours(lab_name: str) -> list[str]:
    needle = f"privatelink-lab:{lab_name}:".encode()
    found = []
    for pid in filter(str.isdigit, __import__("os").listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if needle in cmd:
            found.append(cmd.split(b"\0")[0].decode())
    return found


def test_a_crash_after_the_dx_step_leaves_nothing_once_lab_down_ran(lab_name) -> None:
    import os

    name = lab_name("dxcrash")
    env = {**os.environ, "LAB_FAULT_STEP": "nodes"}  # SIGKILL as the step after `dx` begins
    up = subprocess.run([sys.executable, "-m", "lab.cli.main", "up", "-t", "direct-connect", "--name", name],
                        capture_output=True, text=True, timeout=120, env=env)
    assert up.returncode == -9, up.stderr[-800:]
    assert _ours(name).count("bird") == 2  # both BIRDs were running, journaled, when it died
    down = subprocess.run([sys.executable, "-m", "lab.cli.main", "down", "--name", name], capture_output=True,
                          text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    assert _ours(name) == []
