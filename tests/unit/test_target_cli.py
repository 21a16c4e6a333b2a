"""`lab target` without root: bad arguments against a lab's stored state, and the pure parts.

A lab's state (topology.yaml + plan.json) is written from topologies/basic.yaml by the planner
(pure), in a private state root. Every bad argument must exit 2 with exactly its one line and leave
the stored topology and plan as they were: each is refused before the data plane is touched (a
case that got that far would fail here, as there is no lab to reconcile).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
LAB = "tgtcli"

# (arguments, the one line on stderr). {lab} is the lab's name.
CASES = [
    ("target deregister --name {lab} --target-group web target-zzz",
     "error: TARGET: no instance 'target-zzz' in VPC 'provider' of load balancer 'web-nlb'; fix: use one of: target-a, target-b, target-c, target-d"),
    ("target deregister --name {lab} --target-group web target-c",
     "error: TARGET: target-c is not registered in target group 'web'; fix: deregister one of: target-a, target-b"),
    ("target deregister --name {lab} --target-group web target-d",
     "error: TARGET: target-d is already deregistering from target group 'web' (draining until 2033-05-18T03:33:20.000Z); fix: wait for its deregistration delay to end, or register it again"),
    ("target register --name {lab} --target-group web target-a",
     "error: TARGET: target-a is already registered in target group 'web'; fix: `lab target health --target-group web` shows its state"),
    ("target register --name {lab} --target-group nope target-c",
     "error: --target-group: no target group 'nope' in lab '{lab}'; fix: use one of: web"),
    ("target register --name {lab} --target-group web --port 9090 target-c",
     "error: --port: port 9090 is not target group 'web''s port 8080; fix: omit --port or use 8080 (the lab's targets listen on their group's port)"),
    ("target register --name {lab} --target-group web --port 0 target-c",
     "Error: Invalid value for '--port': 0 is not in the range 1<=x<=65535."),
    ("target register --name {lab} --target-group web --account consumer target-c",
     "error: --account: account consumer (222222222222) cannot change the targets of load balancer 'web-nlb': only its owner provider (111111111111) can; fix: act as provider"),
    ("target register --name {lab} --target-group web",
     "Error: Missing argument 'TARGET...'."),
    ("target health --name {lab} --target-group web --format xml",
     "Error: Invalid value for '--format': 'xml' is not one of 'text', 'json'."),
    ("target health --name {lab}",
     "Error: Missing option '--target-group'."),
    ("target set-delay --name {lab} --target-group web 3601",
     "Error: Invalid value for 'SECONDS': 3601 is not in the range 0<=x<=3600."),
    ("target set-delay --name {lab} --target-group nope 5",
     "error: --target-group: no target group 'nope' in lab '{lab}'; fix: use one of: web"),
    ("target list --name nolab",
     "error: --name: no lab named 'nolab' is up; fix: start one with `lab up --name nolab`; labs up: {lab}"),
]


def _topology() -> dict:
    raw = yaml.safe_load((REPO / "topologies" / "basic.yaml").read_text())
    provider = raw["vpcs"][0]
    provider["instances"] += [{"name": "target-c", "subnet": "provider-a", "ip": "10.0.1.11", "app": "demo-target",
                               "port": 8080},
                              {"name": "target-d", "subnet": "provider-b", "ip": "10.0.2.11", "app": "demo-target",
                               "port": 8080}]
    raw["nlbs"][0]["target_groups"][0]["draining"] = [{"target": "target-d", "until": 2000000000}]
    return raw


@pytest.fixture
def stored_lab(tmp_path, monkeypatch):
    from lab.plan.build import build_plan
    from lab.state.store import LabState
    from lab.topology.load import parse_topology

    monkeypatch.setenv("PRIVATELINK_LAB_STATE", str(tmp_path / "state"))
    text = yaml.safe_dump(_topology(), sort_keys=False)
    state = LabState(LAB)
    state.create()
    state.save(build_plan(parse_topology(text), LAB).to_dict(), text)
    return state


def _run(args: str, capsys) -> tuple[int, list[str]]:
    import shlex

    from lab.cli.main import main

    capsys.readouterr()
    code = main(shlex.split(args.replace("{lab}", LAB)))
    return code, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.mark.parametrize("args,expected", CASES, ids=[c[0].split(" --")[0] + f"-{i}" for i, c in enumerate(CASES)])
def test_bad_target_arguments_exit_2_one_line_nothing_changed(args, expected, stored_lab, capsys):
    before = (stored_lab.topology_file.read_text(), stored_lab.plan_file.read_text())
    code, err = _run(args, capsys)
    assert code == 2, err
    assert err[-1] == expected.replace("{lab}", LAB)
    assert (stored_lab.topology_file.read_text(), stored_lab.plan_file.read_text()) == before


def test_health_without_running_nodes_reports_from_the_stored_state(stored_lab):
    """No node answers (nothing runs): registered targets are `initial` (no check done), the
    draining one `draining` with its end, and one asked for by name but not registered `unused`."""
    from lab import api

    found = {d["Lab"]["Instance"]: d for d in api.target_health(LAB, "web", None)}
    assert {k: v["TargetHealth"]["State"] for k, v in found.items()} == \
        {"target-a": "initial", "target-b": "initial", "target-d": "draining"}
    assert found["target-d"]["TargetHealth"]["Reason"] == "Target.DeregistrationInProgress"
    assert found["target-d"]["Lab"]["DrainingUntil"] == "2033-05-18T03:33:20.000Z"
    assert found["target-a"]["Target"]["Id"].startswith("i-0") and found["target-a"]["Target"]["Port"] == 8080
    [c] = api.target_health(LAB, "web", ["10.0.1.11"])  # by private IP
    assert c["TargetHealth"]["State"] == "unused" and c["TargetHealth"]["Reason"] == "Target.NotRegistered"


def test_an_expired_drain_is_not_registered(stored_lab):
    from lab import api
    from lab.privatelink import edit

    raw = edit.load(stored_lab.topology_file.read_text())
    raw["nlbs"][0]["target_groups"][0]["draining"] = [{"target": "target-d", "until": time.time() - 1}]
    stored_lab.topology_file.write_text(edit.dump(raw))
    assert "target-d" not in {d["Lab"]["Instance"] for d in api.target_health(LAB, "web")}


def test_health_from_haproxy_rows():
    """HAProxy's stats rows -> AWS's states: the check-only twin decides for PPv2 groups."""
    from lab.privatelink.targets import _health_of, _node_rows

    tg = {"name": "web", "proxy_protocol_v2": True}
    rows = [{"Node": "n1", "pxname": "tg-web", "svname": "target-a", "status": "UP"},
            {"Node": "n1", "pxname": "checks-tg-web", "svname": "target-a", "status": "DOWN",
             "check_status": "L7STS", "check_code": "500"},
            {"Node": "n2", "pxname": "checks-tg-web", "svname": "target-a", "status": "UP", "check_status": "L7OK"}]
    seen = _node_rows(rows, tg, "target-a")
    assert _health_of(seen) == "healthy"  # one node's checks pass
    assert _health_of(seen[:1]) == "unhealthy"
    assert seen[0]["Code"] == "500"
    assert _health_of([{"Node": "n1", "Status": "UP", "CheckStatus": "INI", "CheckStatusOf": "UP"}]) == "initial"


def test_http_codes_regex_matches_exactly_the_matcher():
    import re

    from lab.plan.build import codes_regex

    for matcher, inside, outside in (("200-399", [200, 302, 399], [199, 400, 500]), ("200,202", [200, 202], [201, 203]),
                                     ("404-405,500", [404, 405, 500], [403, 406, 501])):
        rx = re.compile(codes_regex(matcher))
        assert all(rx.match(str(c)) for c in inside), matcher
        assert not any(rx.match(str(c)) for c in outside), matcher


def test_draining_targets_render_disabled_and_http_checks_render_httpchk():
    from lab.apply.haproxy import render
    from lab.plan.build import build_plan
    from lab.topology.load import parse_topology

    raw = _topology()
    raw["nlbs"][0]["target_groups"][0]["health_check"].update(protocol="HTTP", path="/health", matcher="200")
    plan = build_plan(parse_topology(yaml.safe_dump(raw)), LAB)
    text = render(next(n for n in plan.nodes if n.az == "us-east-1b"))
    lines = [line.strip() for line in text.splitlines()]
    assert any(line.startswith("server target-d ") and line.endswith(" disabled") for line in lines), text
    assert not any(line.startswith("server target-b ") and line.endswith(" disabled") for line in lines), text
    assert "http-check send meth GET uri /health ver HTTP/1.1 hdr Host lab-health-check" in lines
    assert "http-check expect rstatus ^(2(00))$" in lines



def test_set_delay_changes_only_the_stored_attribute(stored_lab):
    """No data plane change: the plan stays as it was, and the topology has the new delay."""
    from lab import api
    from lab.privatelink import edit

    plan_before = stored_lab.plan_file.read_text()
    got = api.set_deregistration_delay(LAB, "web", 7)
    assert got["Attributes"] == [{"Key": "deregistration_delay.timeout_seconds", "Value": "7"}]
    assert edit.load(stored_lab.topology_file.read_text())["nlbs"][0]["target_groups"][0]["deregistration_delay"] == 7
    assert json.loads(stored_lab.plan_file.read_text()) == json.loads(plan_before)
