"""What a verify run tests (flows, probes, declared checks), the plugin's cheap import, and the
CLI's input errors: pure code, no root, no lab."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lab.plan.build import build_plan
from lab.topology.errors import TopologyError
from lab.topology.load import load_topology, parse_topology
from lab.plan.links import links_from_plan
from lab.verify.session import unique_name
from lab.verify.spec import build

BASIC = Path(__file__).resolve().parents[2] / "topologies" / "basic.yaml"


def plan_of(topology, lab: str = "u3") -> tuple[dict, list]:
    plan = build_plan(topology, lab).to_dict()
    return plan, links_from_plan(plan)


def test_builtin_flows_cover_every_client_eni_and_listener() -> None:
    plan, links = plan_of(load_topology("basic"))
    vp = build(plan, links)
    assert sorted((f.client, f.az, f.port) for f in vp.flows) == [
        ("consumer-client", "us-east-1a", 80), ("consumer-client", "us-east-1b", 80),
        ("consumer-client-b", "us-east-1a", 80), ("consumer-client-b", "us-east-1b", 80)]
    f = next(f for f in vp.flows if f.client == "consumer-client" and f.az == "us-east-1b")
    # Cross-zone is off: the us-east-1b node only sends to target-b.
    assert [t.name for t in f.targets] == ["target-b"] and f.ppv2
    assert (f.client_link, f.node_link) == ("consumer-subnet/consumer-client", "nlb-target/web-nlb@us-east-1b")
    assert f.node_ip == "10.0.2.254" and f.eni_ip == "10.0.2.253"


def test_builtin_probes_aim_at_provider_addresses_and_closed_eni_ports() -> None:
    plan, links = plan_of(load_topology("basic"))
    probes = build(plan, links).probes
    assert len(probes) == 40
    provider = [p for p in probes if not p.at_eni]
    assert {p.dst_ip for p in provider} == {"10.0.1.10", "10.0.2.10", "10.0.1.254", "10.0.2.254"}
    assert {p.port for p in provider} == {80, 8080, None}
    # A probe towards the provider may only show up on the consumer VPC's instance links.
    assert all(p.allowed == {"consumer-subnet/consumer-client", "consumer-subnet/consumer-client-b"} for p in provider)
    eni = [p for p in probes if p.at_eni]
    assert {p.port for p in eni} == {22, 443, 8080, None}  # never the listener port 80
    assert all(len(p.allowed) == 2 and any(a.startswith("endpoint-eni/") for a in p.allowed) for p in eni)


def test_declared_flows_and_isolation_are_added_and_builtin_can_be_off() -> None:
    text = BASIC.read_text() + (
        "verify:\n  builtin: false\n"
        "  flows: [{client: consumer-client-b, endpoint: web-endpoint, az: us-east-1a}]\n"
        "  isolation: [{client: consumer-client, target: target-b, ports: [22, 8080]}]\n")
    topo = parse_topology(text)
    plan, links = plan_of(topo)
    vp = build(plan, links, topo.verify)
    assert [(f.client, f.az, f.declared) for f in vp.flows] == [("consumer-client-b", "us-east-1a", True)]
    assert [(p.dst_ip, p.proto, p.port) for p in vp.probes] == [
        ("10.0.2.10", "tcp", 22), ("10.0.2.10", "tcp", 8080), ("10.0.2.10", "icmp", None)]
    assert all(p.declared for p in vp.probes)


def test_an_endpoint_waiting_for_acceptance_has_no_flows_and_says_so() -> None:
    text = BASIC.read_text().replace("acceptance_required: false", "acceptance_required: true")
    plan, links = plan_of(parse_topology(text))
    vp = build(plan, links)
    assert vp.flows == [] and any("pendingAcceptance" in n for n in vp.notes)
    # Its VPC must still not reach the provider: the provider probes stay (2 clients x 4 addresses x
    # the target port and ICMP; no listener exists yet), the ENI ones go.
    assert len(vp.probes) == 16 and not any(p.at_eni for p in vp.probes)


@pytest.mark.parametrize("section, path", [
    ("{flows: [{client: target-a, endpoint: web-endpoint}]}", "verify.flows[0].client"),
    ("{flows: [{client: consumer-client, endpoint: nope}]}", "verify.flows[0].endpoint"),
    ("{flows: [{client: consumer-client, endpoint: web-endpoint, port: 81}]}", "verify.flows[0].port"),
    ("{isolation: [{client: consumer-client, target: consumer-client-b}]}", "verify.isolation[0].target"),
    ("{isolation: [{client: ghost, target: target-a}]}", "verify.isolation[0].client"),
    ("{flow: []}", "verify.flow"),
])
def test_a_bad_verify_section_names_its_path(section: str, path: str) -> None:
    with pytest.raises(TopologyError) as err:
        parse_topology(BASIC.read_text() + f"verify: {section}\n")
    assert err.value.path == path and err.value.fix


def test_unique_names_fit_the_lab_name_rules() -> None:
    from lab.plan.build import LAB_NAME_RE

    names = {unique_name(p) for p in ("verify", "a-very-long-purpose-name", "123", "x", "_")}
    assert all(LAB_NAME_RE.match(n) and len(n) <= 16 and n.startswith("t-") for n in names)
    assert unique_name("verify") != unique_name("verify")


def test_the_plugin_imports_cheaply_without_root() -> None:
    code = ("import sys, lab.verify.pytest_plugin as p; "
            "heavy = [m for m in ('scapy', 'docker', 'pyroute2', 'lab.verify.engine') if m in sys.modules]; "
            "print(heavy); assert not heavy and callable(p.pytest_configure)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_marker_is_registered(pytestconfig: pytest.Config) -> None:
    assert any(line.startswith("lab_topology") for line in pytestconfig.getini("markers"))


def test_verify_and_capture_refuse_bad_input_with_exit_2(tmp_path: Path) -> None:
    for argv in (["verify", "--name", "nosuchlab"], ["capture", "--name", "nosuchlab", "-w", str(tmp_path / "p")],
                 ["capture", "--name", "nosuchlab"]):
        proc = subprocess.run([sys.executable, "-m", "lab.cli.main", *argv], capture_output=True, text=True,
                              timeout=60, env={**os.environ, "PRIVATELINK_LAB_STATE": str(tmp_path)})
        assert proc.returncode == 2, (argv, proc.stderr)
        assert proc.stderr.startswith("error: ") and "fix:" in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert not (tmp_path / "p").exists()  # nothing created


def test_dns_queries_cover_each_client_and_each_endpoint_name() -> None:
    plan, links = plan_of(load_topology("basic"))
    ep = plan["endpoints"][0]
    records = [{"name": "regional.example", "type": "A", "values": ["10.0.2.253", "10.0.1.253"],
                "origin": "regional", "endpoint": ep["name"]},
               {"name": "zonal-a.example", "type": "A", "values": ["10.0.1.253"], "origin": "zonal",
                "endpoint": ep["name"]},
               {"name": "ip-10-0-1-10.ec2.internal", "type": "A", "values": ["10.0.1.10"], "origin": "hostname",
                "endpoint": None},
               {"name": "api.example.com", "type": "CNAME", "values": ["regional.example"], "origin": "private-dns",
                "endpoint": ep["name"]}]
    resolvers = [{"vpc": "consumer", "netns": "pl-u3.consumer", "ip": "10.0.0.2", "enabled": True, "search": "",
                  "clients": [], "records": records},
                 {"vpc": "provider", "netns": "pl-u3.provider", "ip": "10.0.0.2", "enabled": False, "search": "",
                  "clients": [], "records": records}]
    dns = build({**plan, "resolvers": resolvers}, links).dns
    assert sorted((d.client, d.qname, d.expected) for d in dns) == [
        ("consumer-client", "regional.example", ("10.0.1.253", "10.0.2.253")),
        ("consumer-client", "zonal-a.example", ("10.0.1.253",)),
        ("consumer-client-b", "regional.example", ("10.0.1.253", "10.0.2.253")),
        ("consumer-client-b", "zonal-a.example", ("10.0.1.253",))]
    assert all(d.client_link.startswith("consumer-subnet/") for d in dns)
    assert build({**plan, "resolvers": []}, links).dns == []  # a lab without resolvers asks nothing
