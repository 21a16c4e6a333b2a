"""Security groups on endpoint ENIs end to end: real nftables in the NLB nodes' namespaces.

A client in an allowed CIDR gets an answer; one outside gets none at all (dropped: curl times out,
no reset), and the ENI's drop counter shows it. Changes (another rule, the default group, a group
that lets nothing in) are applied by firewall.sync on a re-planned topology, as the control plane
does; an unchanged sync keeps the counters. The tables are checked with `nft` run independently
(nsenter into the node's namespace), and vanish with `lab down`.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
import time

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from labs import ALLOWED, DENIED, basic_with_web_clients  # noqa: E402

from lab import api
from lab.apply import firewall
from lab.apply.context import ApplyContext
from lab.plan.build import build_plan
from lab.state.store import LabState
from lab.topology.load import parse_topology

pytestmark = pytest.mark.root



@pytest.fixture(scope="module")
def lab(tmp_path_factory, lab_runner):
    with lab_runner(basic_with_web_clients(), "sg", tmp_path_factory.mktemp("sg")) as running:
        yield running


def lab_cli(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "lab.cli.main", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"lab {' '.join(args)}: {out.returncode} {out.stderr}"
    return out.stdout


def curl(lab: str, client: str, ip: str, seconds: int = 2) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab.cli.main", "exec", "-n", lab, client, "--", "curl", "-s",
                           "-m", str(seconds), f"http://{ip}/"], capture_output=True, text=True, timeout=30)


def guards(lab: str) -> dict[str, dict]:
    return {g["PrivateIpAddress"]: g for g in json.loads(lab_cli("sg", "show", "-n", lab, "--format", "json"))[
        "NetworkInterfaces"]}


def node_nft(node: str, *args: str) -> str:
    """`nft` in a node's namespace, run independently of the lab's code (nsenter by the container's PID)."""
    pid = api.runtime().pid(node)
    out = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "nft", *args], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 0, out.stderr
    return out.stdout


def resync(name: str, edit) -> None:
    """Re-plan the lab's stored topology after `edit(data)`, sync the security groups and save the plan
    (what the control plane does after a change; `lab sg show` reads the saved plan)."""
    state = LabState(name)
    data = copy.deepcopy(yaml.safe_load(state.topology_file.read_text()))
    edit(data)
    previous = state.load_plan()
    plan = build_plan(parse_topology(yaml.safe_dump(data)), name, previous=previous)
    ctx = ApplyContext(plan=plan, state=state, progress=lambda _m: None, runtime=api.runtime())
    try:
        firewall.sync(ctx)
    finally:
        ctx.close()
    state.save_plan({**previous, **plan.to_dict()})


def test_each_eni_has_its_own_chain_reached_by_one_map_lookup(lab):
    name, plan = lab
    for eni in plan.endpoints[0].enis:
        guard = next(g for g in plan.eni_guards if g.eni_id == eni.id)
        tables = node_nft(eni.node, "list", "tables")
        assert f"table inet {guard.table}" in tables
        ruleset = node_nft(eni.node, "list", "table", "inet", guard.table)
        assert ruleset.count("hook input") == 1 and "iifname vmap @legs" in ruleset
        assert f'"{eni.ifname}" : jump {eni.ifname}' in ruleset
        chain = node_nft(eni.node, "list", "chain", "inet", guard.table, eni.ifname)
        assert "ct state established,related accept" in chain
        assert "ip saddr 10.0.1.0/24 tcp dport 80" in chain and "drop" in chain


def test_allowed_cidr_gets_an_answer_and_the_rule_counts_it(lab):
    name, plan = lab
    before = guards(name)
    for eni in plan.endpoints[0].enis:
        out = curl(name, ALLOWED, eni.ip, seconds=5)
        assert out.returncode == 0 and json.loads(out.stdout)["vpce_id"] == plan.endpoints[0].id
    after = guards(name)
    for eni in plan.endpoints[0].enis:
        assert after[eni.ip]["Enforced"]
        assert after[eni.ip]["Rules"][0]["packets"] > before[eni.ip]["Rules"][0]["packets"]


def test_a_client_outside_gets_no_answer_and_the_drop_is_counted(lab):
    name, plan = lab
    eni = plan.endpoints[0].enis[0]
    before = guards(name)[eni.ip]["Dropped"]["packets"]
    t0 = time.monotonic()
    out = curl(name, DENIED, eni.ip, seconds=2)
    # 28 = curl's timeout: no SYN-ACK and no reset came back (a refused connection would be 7, at once).
    assert out.returncode == 28 and out.stdout == "" and time.monotonic() - t0 >= 1.9
    after = guards(name)[eni.ip]
    assert after["Dropped"]["packets"] >= before + 1
    text = lab_cli("sg", "show", "-n", name, "--endpoint", plan.endpoints[0].name)
    assert "drop" in text and eni.id in text


def test_an_unchanged_sync_keeps_tables_and_counters(lab):
    name, plan = lab
    eni = plan.endpoints[0].enis[0]
    before = guards(name)[eni.ip]
    handle = node_nft(eni.node, "-a", "list", "tables")
    resync(name, lambda data: None)
    after = guards(name)[eni.ip]
    assert after["Dropped"] == before["Dropped"] and after["Rules"] == before["Rules"]
    assert node_nft(eni.node, "-a", "list", "tables") == handle
    assert before["Dropped"]["packets"] > 0  # there was something to lose


def test_a_new_rule_lets_the_other_subnet_in(lab):
    name, plan = lab
    eni = plan.endpoints[0].enis[0]

    def widen(data):
        data["vpcs"][1]["security_groups"][0]["ingress"].append({"cidr": "10.0.2.0/24", "ports": [80, 443]})

    resync(name, widen)
    out = curl(name, DENIED, eni.ip, seconds=5)
    assert out.returncode == 0 and json.loads(out.stdout)["client"].startswith("10.0.2.20:")
    rules = guards(name)[eni.ip]["Rules"]
    assert [(r["Cidr"], r["FromPort"], r["ToPort"]) for r in rules] == [("10.0.1.0/24", 80, 80), ("10.0.2.0/24", 80, 443)]
    assert rules[1]["packets"] >= 1


def test_without_groups_the_default_allows_the_vpc_and_a_closed_default_allows_nothing(lab):
    name, plan = lab
    eni = plan.endpoints[0].enis[1]

    def no_groups(data):
        data["endpoints"][0]["security_groups"] = []

    resync(name, no_groups)
    for client in (ALLOWED, DENIED):
        assert curl(name, client, eni.ip, seconds=5).returncode == 0
    assert guards(name)[eni.ip]["Rules"][0]["Cidr"] == "10.0.0.0/16"

    def closed_default(data):
        no_groups(data)
        data["vpcs"][1]["security_groups"].append({"name": "default", "ingress": []})

    resync(name, closed_default)
    for client in (ALLOWED, DENIED):
        assert curl(name, client, eni.ip, seconds=1).returncode == 28
    assert guards(name)[eni.ip]["Dropped"]["packets"] >= 2


def test_restoring_the_topology_restores_the_rules(lab):
    name, plan = lab
    resync(name, lambda data: None)  # the stored topology: web-clients only
    eni = plan.endpoints[0].enis[0]
    assert curl(name, ALLOWED, eni.ip, seconds=5).returncode == 0
    assert curl(name, DENIED, eni.ip, seconds=1).returncode == 28


def test_down_removes_the_tables_with_their_nodes(lab):
    name, plan = lab
    nodes = sorted({g.node for g in plan.eni_guards})
    assert all("plsg_" in node_nft(n, "list", "tables") for n in nodes)
    report = api.down(name)
    assert report.removed.get("nft-tables") == len({(g.node, g.table) for g in plan.eni_guards}) == 2
    engine = api.runtime()
    assert not any(engine.exists(n) for n in nodes)
