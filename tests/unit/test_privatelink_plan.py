"""Re-planning a live lab: endpoints that stay keep their ENI addresses and leg tables, whatever
comes and goes around them, and a node never holds one address twice (pure, no root)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from lab.plan.build import build_plan
from lab.privatelink import edit
from lab.resources import data_dir
from lab.topology.load import parse_topology

LAB = "t-plan"


@pytest.fixture(scope="module")
def raw():
    return edit.load((data_dir("topologies") / "multi-tenant.yaml").read_text())


def plan_of(raw_topology: dict, previous: dict | None = None):
    return build_plan(parse_topology(edit.dump(raw_topology)), LAB, previous=previous)


def eni_ips(plan) -> dict[tuple[str, str], str]:
    return {(ep.name, eni.az): eni.ip for ep in plan.endpoints for eni in ep.enis}


def leg_tables(plan) -> dict[tuple[str, str], int]:
    return {(r.place.name, r.src): r.table for r in plan.rules if r.place.kind == "container"}


def check_node_invariants(plan) -> None:
    per_node = Counter((eni.node, eni.ip) for ep in plan.endpoints for eni in ep.enis)
    per_node.update((n.container, n.provider_ip) for n in plan.nodes)
    assert all(c == 1 for c in per_node.values()), [k for k, c in per_node.items() if c > 1]
    tables = Counter((r.place.name, r.table) for r in plan.rules)
    priorities = Counter((r.place.name, r.priority) for r in plan.rules)
    assert all(c == 1 for c in tables.values()) and all(c == 1 for c in priorities.values())


def test_pending_endpoints_already_hold_their_addresses(raw):
    pending = plan_of(raw)
    accepted = plan_of(edit.set_states(raw, {"tenant-b-saas": "available"}))
    assert eni_ips(pending) == eni_ips(accepted)
    assert [v.key for v in accepted.veths if v.role == "endpoint-eni"] == \
        ["eni:tenant-b-saas:us-east-1a", "eni:tenant-b-saas:us-east-1b"]
    check_node_invariants(accepted)


def test_deleting_an_endpoint_moves_no_other_one(raw):
    live = edit.set_states(raw, dict.fromkeys(["tenant-a-saas", "tenant-b-saas", "tenant-c-saas"], "available"))
    before = plan_of(live)
    after_raw = edit.remove_endpoints(live, {"tenant-a-saas"})
    after = plan_of(after_raw, previous=before.to_dict())
    kept = {k: v for k, v in eni_ips(before).items() if k[0] != "tenant-a-saas"}
    assert eni_ips(after) == kept
    a_ips = {ip for (name, _), ip in eni_ips(before).items() if name == "tenant-a-saas"}
    assert leg_tables(after) == {k: t for k, t in leg_tables(before).items() if k[1] not in a_ips}
    # Without the live plan the same file would move tenant-b's ENIs: that is what `previous` is for.
    assert eni_ips(plan_of(after_raw)) != kept


def test_accepting_later_keeps_the_tables_of_legs_already_live(raw):
    step1 = plan_of(edit.set_states(raw, {"tenant-c-saas": "available"}))
    step2 = plan_of(edit.set_states(raw, {"tenant-c-saas": "available", "tenant-a-saas": "available"}),
                    previous=step1.to_dict())
    c_legs = {k: t for k, t in leg_tables(step1).items() if k[1] in {ip for (n, _), ip in eni_ips(step1).items()
                                                                     if n == "tenant-c-saas"}}
    assert c_legs and all(leg_tables(step2)[k] == t for k, t in c_legs.items())
    check_node_invariants(step2)


def test_a_new_endpoint_never_takes_a_live_address(raw):
    base = edit.remove_endpoints(raw, {"tenant-b-saas"})
    before = plan_of(edit.set_states(base, {"tenant-a-saas": "available", "tenant-c-saas": "available"}))
    grown = edit.add_endpoint(edit.set_states(base, {"tenant-a-saas": "available", "tenant-c-saas": "available"}),
                              name="b-new", vpc="tenant-b", service="saas", subnets=["tenant-b-a", "tenant-b-b"],
                              state="available")
    after = plan_of(grown, previous=before.to_dict())
    assert {k: v for k, v in eni_ips(after).items() if k[0] != "b-new"} == eni_ips(before)
    check_node_invariants(after)


@pytest.mark.parametrize("seed", range(6))
def test_random_histories_keep_every_surviving_allocation(raw, seed):
    """Create, accept, reject and delete at random, re-planning with the previous plan each time."""
    rng = random.Random(seed)
    current = edit.remove_endpoints(raw, {"tenant-a-saas", "tenant-b-saas", "tenant-c-saas"})
    plan = plan_of(current)
    serial = 0
    for _ in range(30):
        names = [e["name"] for e in current.get("endpoints") or []]
        states = {e["name"]: e.get("state") for e in current.get("endpoints") or []}
        move = rng.choice(["create", "create", "accept", "reject", "delete"])
        if move == "create" or not names:
            serial += 1
            tenant = rng.choice(["a", "b", "c"])
            current = edit.add_endpoint(current, name=f"ep-{serial}", vpc=f"tenant-{tenant}", service="saas",
                                        subnets=[f"tenant-{tenant}-a", f"tenant-{tenant}-b"], state="pendingAcceptance")
        elif move == "accept":
            pending = [n for n in names if states[n] == "pendingAcceptance"]
            if pending:
                current = edit.set_states(current, {rng.choice(pending): "available"})
        elif move == "reject":
            current = edit.set_states(current, {rng.choice(names): "rejected"})
        else:
            current = edit.remove_endpoints(current, {rng.choice(names)})
        new = plan_of(current, previous=plan.to_dict())
        survivors = {e["name"] for e in current.get("endpoints") or []}
        old_ips, new_ips = eni_ips(plan), eni_ips(new)
        assert {k: v for k, v in old_ips.items() if k[0] in survivors} == {k: v for k, v in new_ips.items() if k in old_ips}
        old_tables, new_tables = leg_tables(plan), leg_tables(new)
        live_before = {ip for (n, _), ip in old_ips.items() if n in survivors}
        assert all(new_tables[k] == t for k, t in old_tables.items() if k[1] in live_before and k in new_tables)
        check_node_invariants(new)
        plan = new
