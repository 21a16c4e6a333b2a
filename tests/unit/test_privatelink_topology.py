"""Topology side of the control plane: subscribers are checked like every other key, stored-topology
edits keep what they do not touch, and only endpoints the file asks to create face the principal rule."""

from __future__ import annotations

import pytest

from lab.privatelink import edit
from lab.resources import data_dir
from lab.topology.errors import TopologyError
from lab.topology.load import parse_topology


@pytest.fixture
def raw():
    return edit.load((data_dir("topologies") / "multi-tenant.yaml").read_text())


def with_subscribers(raw: dict, subscribers: list) -> str:
    raw["endpoint_services"][0]["notifications"] = subscribers
    return edit.dump(raw)


@pytest.mark.parametrize("subscriber, path, words", [
    ({"command": ["x"], "webhook": "http://10.0.1.20/"}, "notifications[0]", "exactly one of"),
    ({}, "notifications[0]", "exactly one of"),
    ({"command": []}, "notifications[0].command", "at least 1"),
    ({"command": ["x"], "from": "provider"}, "notifications[0].from", "only applies to a webhook"),
    ({"webhook": "http://hooks.example/x", "from": "provider"}, "notifications[0].webhook", "no host names"),
    ({"webhook": "https://10.0.1.20/x", "from": "provider"}, "notifications[0].webhook", "http://"),
    ({"webhook": "http://10.0.1.20:70000/x", "from": "provider"}, "notifications[0].webhook", "http://"),
    ({"webhook": "http://10.0.1.20/x"}, "notifications[0].from", "needs from:"),
    ({"webhook": "http://10.0.1.20/x", "from": "nowhere"}, "notifications[0].from", "no instance or VPC"),
    ({"webhook": "http://192.168.1.20/x", "from": "provider"}, "notifications[0].webhook", "never leave the lab"),
    ({"command": ["x"], "events": ["Create"]}, "notifications[0].events[0]", "not allowed"),
    ({"command": ["x"], "timeout": 0}, "notifications[0].timeout", "out of range"),
])
def test_bad_subscribers_name_the_path_and_the_fix(raw, subscriber, path, words):
    with pytest.raises(TopologyError) as err:
        parse_topology(with_subscribers(raw, [subscriber]))
    assert err.value.path == f"endpoint_services[0].{path}", err.value
    assert words in str(err.value) and err.value.fix


def test_good_subscribers_load_with_their_defaults(raw):
    topo = parse_topology(with_subscribers(raw, [
        {"command": ["python3", "x.py"]},
        {"webhook": "http://10.0.1.20:9000/events", "from": "ops-hooks", "events": ["Connect"]},
    ]))
    cmd, hook = topo.endpoint_services[0].notifications
    assert cmd.events == ["Connect", "Accept", "Reject", "Delete"] and cmd.timeout == 30
    assert hook.from_ == "ops-hooks" and hook.events == ["Connect"]


def test_the_principal_rule_applies_to_requested_endpoints_only(raw):
    raw["endpoint_services"][0]["allowed_principals"] = ["arn:aws:iam::222222222222:root"]
    with pytest.raises(TopologyError) as err:
        parse_topology(edit.dump(raw))
    assert err.value.path == "endpoints[1]" and "not an allowed principal" in err.value.problem
    # A recorded decision (explicit state) stays valid after a revoke, as existing endpoints do on AWS.
    decided = edit.set_states(raw, {"tenant-b-saas": "available", "tenant-c-saas": "pendingAcceptance"})
    assert [e.state for e in parse_topology(edit.dump(decided)).endpoints] == [None, "available", "pendingAcceptance"]


def test_edits_keep_keys_they_do_not_know(raw):
    raw["endpoints"][0]["security_groups"] = ["sg-web"]  # another feature's key
    out = edit.set_states(raw, {"tenant-a-saas": "rejected"})
    assert out["endpoints"][0] == {**raw["endpoints"][0], "state": "rejected"}
    assert raw["endpoints"][0].get("state") is None  # the input is not modified
    out = edit.add_endpoint(out, name="x", vpc="tenant-a", service="saas", subnets=["tenant-a-a"], state="available",
                            private_dns=True)
    assert out["endpoints"][-1] == {"name": "x", "vpc": "tenant-a", "service": "saas", "subnets": ["tenant-a-a"],
                                    "state": "available", "private_dns_enabled": True}
    out = edit.remove_endpoints(out, {"tenant-a-saas"})
    assert [e["name"] for e in out["endpoints"]] == ["tenant-b-saas", "tenant-c-saas", "x"]
    out = edit.set_principals(out, "saas", ["*"])
    assert out["endpoint_services"][0]["allowed_principals"] == ["*"]
    out = edit.set_cross_zone(out, "saas-nlb", True)
    assert out["nlbs"][0]["cross_zone"] is True
    assert edit.load(edit.dump(out)) == out  # what is stored reads back the same


def test_an_empty_endpoints_key_takes_a_first_endpoint(raw):
    raw["endpoints"] = None
    out = edit.add_endpoint(raw, name="x", vpc="tenant-a", service="saas", subnets=["tenant-a-a"], state="available")
    assert [e["name"] for e in out["endpoints"]] == ["x"]
