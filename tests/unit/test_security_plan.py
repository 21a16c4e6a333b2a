"""Security groups in the plan and their nftables ruleset (pure, no root)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from lab.apply.firewall import DENY_PREFIX, guard_counters, node_transaction, parse_counters, render, rule_comment
from lab.plan.build import build_plan
from lab.plan.security import NODE_TABLE, TABLE_PREFIX, group_id
from lab.topology.errors import TopologyError
from lab.topology.load import parse_topology

BASIC = yaml.safe_load((Path(__file__).resolve().parents[2] / "topologies" / "basic.yaml").read_text())
WEB = {"name": "web-clients", "description": "clients of AZ a",
       "ingress": [{"cidr": "10.0.1.0/24", "port": 80}, {"cidr": "192.168.0.0/16", "ports": [8000, 8099]}]}


def topo(groups=(), attach=None, **edits):
    data = copy.deepcopy(BASIC)
    data["vpcs"][1]["security_groups"] = list(groups)
    if attach is not None:
        data["endpoints"][0]["security_groups"] = attach
    for edit in edits.values():
        edit(data)
    return parse_topology(yaml.safe_dump(data))


def test_ids_are_aws_shaped_deterministic_and_per_lab():
    a = group_id("lab1", "consumer", "web")
    assert re.fullmatch(r"sg-[0-9a-f]{17}", a)
    assert a == group_id("lab1", "consumer", "web") != group_id("lab2", "consumer", "web")
    assert a != group_id("lab1", "provider", "web")


def test_every_vpc_has_a_lab_default_group_allowing_its_own_cidr():
    plan = build_plan(topo(), "lab1")
    defaults = {g.vpc: g for g in plan.security_groups if g.name == "default"}
    assert set(defaults) == {"provider", "consumer"}
    (rule,) = defaults["consumer"].ingress
    assert (rule.cidr, rule.from_port, rule.to_port, rule.protocol) == ("10.0.0.0/16", 1, 65535, "tcp")
    assert defaults["consumer"].lab_default


def test_an_endpoint_without_groups_gets_the_default_one():
    plan = build_plan(topo(), "lab1")
    default_id = next(g.id for g in plan.security_groups if g.vpc == "consumer" and g.name == "default")
    assert plan.eni_guards and all(g.groups == (default_id,) for g in plan.eni_guards)


def test_named_groups_attach_in_order_and_the_default_can_be_replaced():
    mine = {"name": "default", "ingress": [{"cidr": "10.0.2.0/24", "port": 443}]}
    plan = build_plan(topo([WEB, mine], attach=["web-clients", "default"]), "lab1")
    groups = {g.name: g for g in plan.security_groups if g.vpc == "consumer"}
    assert not groups["default"].lab_default and groups["default"].ingress[0].cidr == "10.0.2.0/24"
    assert [(r.cidr, r.port_text) for r in groups["web-clients"].ingress] == [("10.0.1.0/24", "80"),
                                                                            ("192.168.0.0/16", "8000-8099")]
    assert all(g.groups == (groups["web-clients"].id, groups["default"].id) for g in plan.eni_guards)


def test_guards_follow_the_enis_legs():
    plan = build_plan(topo(), "lab1")
    legs = {(v.a.place.name, v.a.ifname) for v in plan.veths if v.role == "endpoint-eni"}
    assert {(g.node, g.ifname) for g in plan.eni_guards} == legs and all(g.live for g in plan.eni_guards)
    assert all(g.table.startswith(TABLE_PREFIX) and "-" not in g.table for g in plan.eni_guards)
    pending = build_plan(topo(s=lambda d: d["endpoints"][0].update(state="pendingAcceptance")), "lab1")
    assert pending.eni_guards and not any(g.live for g in pending.eni_guards)


def test_inventory_has_describe_security_groups_shapes():
    plan = build_plan(topo([WEB], attach=["web-clients"]), "lab1")
    web = next(g for g in plan.inventory["security_groups"] if g["GroupName"] == "web-clients")
    assert web["IpPermissions"][1] == {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8099,
                                       "IpRanges": [{"CidrIp": "192.168.0.0/16", "Description": ""}]}


def test_an_enis_chain_is_stateful_and_ends_in_a_counted_drop():
    plan = build_plan(topo([WEB], attach=["web-clients"]), "lab1")
    groups = {g.id: g for g in plan.security_groups}
    guard = plan.eni_guards[0]
    text = render("lab1", guard, groups)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert lines[:2] == [f"table inet {NODE_TABLE} {{", f"chain {guard.ifname} {{"] and guard.table == NODE_TABLE
    body = lines[2:]
    order = [next(i for i, ln in enumerate(body) if ln.startswith(p)) for p in (
        "ct state established,related accept", "ip saddr 10.0.1.0/24 tcp dport 80 counter accept",
        "ip saddr 192.168.0.0/16 tcp dport 8000-8099", "counter drop")]
    assert order == sorted(order)
    gid = guard.groups[0]
    assert f'comment "{rule_comment(gid, 0)}"' in text and f'comment "{DENY_PREFIX}{guard.eni_id}"' in text
    assert "reject" not in text and "hook" not in text  # never answers a denied client; not a base chain


def _statements(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def test_a_nodes_change_is_one_transaction_with_one_lookup_per_packet():
    plan = build_plan(topo([WEB], attach=["web-clients"]), "lab1")
    groups = {g.id: g for g in plan.security_groups}
    a, b = plan.eni_guards[0], plan.eni_guards[1]
    fresh = _statements(node_transaction("lab1", a.node, fresh=True, stale_tables=["plsg_eni_old"], removed=[],
                                         changed=[{"guard": a, "text": render("lab1", a, groups), "new": True}]))
    # Older tables go first; the table is replaced whole when fresh; its one base chain is a map lookup.
    assert fresh[0] == "delete table inet plsg_eni_old"
    assert fresh[1:4] == [f"table inet {NODE_TABLE}", f"delete table inet {NODE_TABLE}", f"table inet {NODE_TABLE} {{"]
    assert "type filter hook input priority filter; policy accept;" in fresh and "iifname vmap @legs" in fresh
    assert sum("hook input" in ln for ln in fresh) == 1
    new_chain = fresh.index(f"add chain inet {NODE_TABLE} {a.ifname}")
    entry = fresh.index(f'add element inet {NODE_TABLE} legs {{ "{a.ifname}" : jump {a.ifname} }}')
    assert new_chain < fresh.index(f"chain {a.ifname} {{") < entry  # the chain exists before the map names it
    later = _statements(node_transaction("lab1", a.node, fresh=False, stale_tables=[], removed=[b.ifname],
                                         changed=[{"guard": a, "text": render("lab1", a, groups), "new": False}]))
    assert f"table inet {NODE_TABLE}" not in later and "iifname vmap @legs" not in later  # the base stays as it is
    assert later.index(f'delete element inet {NODE_TABLE} legs {{ "{b.ifname}" }}') < later.index(
        f"delete chain inet {NODE_TABLE} {b.ifname}")
    assert f"flush chain inet {NODE_TABLE} {a.ifname}" in later and not any("add element" in ln for ln in later)


def test_a_group_with_no_rules_lets_nothing_in():
    empty = {"name": "closed", "ingress": []}
    plan = build_plan(topo([empty], attach=["closed"]), "lab1")
    text = render("lab1", plan.eni_guards[0], {g.id: g for g in plan.security_groups})
    assert "saddr" not in text and "counter drop" in text


# A node's table as `nft -j list table inet plsg_enis` prints it (nftables 1.0.6; two ENIs with the
# same group, hence the same rule comment in two chains).
_SADDR = {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                    "right": {"prefix": {"addr": "10.0.1.0", "len": 24}}}}
_DPORT = {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 80}}
LISTING = {"nftables": [
    {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
    {"table": {"family": "inet", "name": "plsg_enis", "handle": 1}},
    {"map": {"family": "inet", "name": "legs", "table": "plsg_enis", "type": "ifname", "handle": 2, "map": "verdict",
             "elem": [["eni-a", {"jump": {"target": "eni-a"}}], ["eni-b", {"jump": {"target": "eni-b"}}]]}},
    {"chain": {"family": "inet", "table": "plsg_enis", "name": "ingress", "handle": 1, "type": "filter",
               "hook": "input", "prio": 0, "policy": "accept"}},
    {"rule": {"family": "inet", "table": "plsg_enis", "chain": "ingress", "handle": 3,
              "expr": [{"vmap": {"key": {"meta": {"key": "iifname"}}, "data": "@legs"}}]}},
    {"rule": {"family": "inet", "table": "plsg_enis", "chain": "eni-a", "handle": 6,
              "comment": "sg-0aaaaaaaaaaaaaaaa ingress[0]",
              "expr": [_SADDR, _DPORT, {"counter": {"packets": 7, "bytes": 420}}, {"accept": None}]}},
    {"rule": {"family": "inet", "table": "plsg_enis", "chain": "eni-a", "handle": 7,
              "comment": "deny eni-0bbbbbbbbbbbbbbbb", "expr": [{"counter": {"packets": 3, "bytes": 180}},
                                                                 {"drop": None}]}},
    {"rule": {"family": "inet", "table": "plsg_enis", "chain": "eni-b", "handle": 10,
              "comment": "sg-0aaaaaaaaaaaaaaaa ingress[0]",
              "expr": [_SADDR, _DPORT, {"counter": {"packets": 1, "bytes": 60}}, {"accept": None}]}},
    {"rule": {"family": "inet", "table": "plsg_enis", "chain": "eni-b", "handle": 11,
              "comment": "deny eni-0cccccccccccccccc", "expr": [{"counter": {"packets": 0, "bytes": 0}},
                                                                 {"drop": None}]}},
]}


def test_counters_are_read_per_enis_chain_by_rule_comment():
    assert parse_counters(LISTING, "eni-a") == {"sg-0aaaaaaaaaaaaaaaa ingress[0]": {"packets": 7, "bytes": 420},
                                                "deny eni-0bbbbbbbbbbbbbbbb": {"packets": 3, "bytes": 180}}
    assert parse_counters(LISTING, "eni-b")["sg-0aaaaaaaaaaaaaaaa ingress[0]"] == {"packets": 1, "bytes": 60}
    assert parse_counters(LISTING, "eni-c") == {}


def test_guard_counters_report_missing_tables_as_not_enforced():
    plan = build_plan(topo([WEB], attach=["web-clients"]), "lab1").to_dict()
    out = guard_counters(plan, lambda _node: None)
    assert len(out) == 2 and not any(g["Enforced"] for g in out)
    assert out[0]["Rules"][0]["Cidr"] == "10.0.1.0/24" and out[0]["Dropped"] == {"packets": 0, "bytes": 0}


@pytest.mark.parametrize(("groups", "attach", "path", "words"), [
    ([{"name": "web", "ingress": [{"cidr": "10.0.0.0/8"}]}], None, "vpcs[1].security_groups[0].ingress[0]",
     "exactly one of port: or ports:"),
    ([{"name": "web", "ingress": [{"cidr": "10.0.0.0/8", "port": 80, "ports": [1, 2]}]}], None,
     "vpcs[1].security_groups[0].ingress[0]", "exactly one of port: or ports:"),
    ([{"name": "web", "ingress": [{"cidr": "10.0.0.0/8", "ports": [90, 80]}]}], None,
     "vpcs[1].security_groups[0].ingress[0].ports", "runs backwards"),
    ([{"name": "web", "ingress": [{"cidr": "10.0.0.1/8", "port": 80}]}], None,
     "vpcs[1].security_groups[0].ingress[0].cidr", "host bits set"),
    ([{"name": "web", "ingress": [{"cidr": "10.0.0.0/8", "port": 80, "protocol": "udp"}]}], None,
     "vpcs[1].security_groups[0].ingress[0].protocol", "not allowed"),
    ([{"name": "web"}, {"name": "web"}], None, "vpcs[1].security_groups[1].name", "already defined"),
    ([], ["web"], "endpoints[0].security_groups[0]", "no security group 'web'"),
    ([{"name": "web"}], ["web", "web"], "endpoints[0].security_groups[1]", "already defined"),
])
def test_bad_security_groups_name_the_path_and_the_fix(groups, attach, path, words):
    with pytest.raises(TopologyError) as err:
        topo(groups, attach)
    assert err.value.path == path and words in err.value.problem and err.value.fix
