"""A listener's idle timeout (AWS's tcp.idle_timeout.seconds) reaches the node's flow table and HAProxy."""

from __future__ import annotations

from pathlib import Path

import yaml

from lab.apply import haproxy, idle, templates
from lab.plan.build import build_plan
from lab.topology.load import load_topology, parse_topology

REPO = Path(__file__).resolve().parents[2]


def _plan(idle_timeout: int | None):
    topo = yaml.safe_load((REPO / "topologies" / "basic.yaml").read_text())
    if idle_timeout is not None:
        topo["nlbs"][0]["listeners"][0]["idle_timeout"] = idle_timeout
    return build_plan(parse_topology(yaml.safe_dump(topo), source="t.yaml"), "t")


def test_aws_default_is_350_seconds_on_every_frontend_and_backend():
    plan = build_plan(load_topology("basic"), "t")
    assert {fe.idle_timeout_s for n in plan.nodes for fe in n.frontends} == {350}
    assert {be.idle_timeout_s for n in plan.nodes for be in n.backends} == {350}


def test_a_listener_timeout_gives_its_port_and_its_targets_one_timeout_object():
    plan = _plan(75)
    node = next(n for n in plan.nodes if n.frontends)
    timeouts, listeners, targets = idle.rules_of(node)
    assert timeouts == [75]
    assert listeners == [(75, sorted({fe.port for fe in node.frontends}))]
    expected = sorted(f"{s.ip} . {s.port}" for be in node.backends for s in be.servers)
    assert targets == [(75, sorted(set(expected)))]
    text = templates.render(idle.TEMPLATE, lab="t", node=node.container, table=idle.TABLE, fresh=True,
                            timeouts=timeouts, listeners=listeners, targets=targets)
    assert "policy = { established: 75 }" in text
    assert f'tcp dport {{ {listeners[0][1][0]} }} ct timeout set "idle75"' in text
    assert "reject with tcp reset" in text and "delete" not in text.replace("# default", "")


def test_an_existing_table_is_only_added_to_so_running_flows_keep_their_timeout():
    node = next(n for n in _plan(None).nodes if n.frontends)
    timeouts, listeners, targets = idle.rules_of(node)
    text = templates.render(idle.TEMPLATE, lab="t", node=node.container, table=idle.TABLE, fresh=False,
                            timeouts=timeouts, listeners=listeners, targets=targets)
    commands = [ln.split()[0] for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert set(commands) == {"add", "flush"}  # never `delete`: it would reset flows to the kernel's 5 days
    assert "late_in" not in text  # made once, so its counter runs for the node's life


def test_haproxy_lets_its_sockets_go_only_after_the_kernel_forgot_the_flow():
    node = next(n for n in _plan(60).nodes if n.frontends)
    cfg = haproxy.render(node)
    assert f"timeout client {60 + idle.HAPROXY_GRACE_S}s" in cfg
    assert f"timeout server {60 + idle.HAPROXY_GRACE_S}s" in cfg
