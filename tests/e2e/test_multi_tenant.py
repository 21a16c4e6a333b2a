"""The three multi-tenant modes on live labs: each shipped topology verifies green, and each keeps a
red variant that `lab verify` must fail on, with the tenant check naming the flow.

  token  green: multi-tenant-auth.yaml. Red: the same file plus a declared flow in which b-client
         presents tenant-a's token -- it is accepted as tenant-a (what mode 1 cannot see). Also: no
         token, or a wrong one, gets 401.
  port   green: multi-tenant-ports.yaml. Red: tenant-a's and tenant-b's ports swapped in the table.
  ppv2   green: multi-tenant.yaml; every verify run of a ppv2 lab sends, from each tenant's client, a
         forged PROXY header naming the next tenant's endpoint (answered as the client's own
         tenant). Red: endpoints swapped in the
         table; and the green lab again with its targets restarted as the broken variant kept in
         tests/unit/test_target_tenancy.py, which believes the client's header.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from lab.apply import apps, processes
from lab.cli.main import main as lab_main
from lab.state.store import LabState
from lab.verify.engine import Options, verify
from lab.verify.traffic import http

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
TOPOLOGIES = REPO / "topologies"


def _load(name: str) -> dict:
    return yaml.safe_load((TOPOLOGIES / f"{name}.yaml").read_text())


def _swap(data: dict, key: str) -> dict:
    """The red variant of a tenant table: tenant-a's and tenant-b's `key` exchanged."""
    rows = data["tenancy"]["tenants"]
    rows[0][key], rows[1][key] = rows[1][key], rows[0][key]
    return data


def _verify(name: str):
    return verify(name, Options(wait_health_checks=False, probes=False))


def _tenant_checks(report):
    return [c for c in report.checks if c.category == "tenant"]


def _accept_pending(name: str, plan) -> None:
    """multi-tenant.yaml's auto-accept leaves tenant-c pending on purpose: the provider accepts it."""
    for ep in plan.endpoints:
        if ep.name == "tenant-c-saas":  # the plan of `lab up` is older than the auto-accepts
            assert lab_main(["endpoint", "accept", "--name", name, "--account", "provider", ep.id]) == 0


def _green(report, tenants: int = 3):
    checks = _tenant_checks(report)
    assert report.ok, "\n".join(f"{c.subject}: {c.message}" for c in report.failures)
    assert {c.status for c in checks} == {"pass"}
    assert len({c.subject.split(" -> ")[0] for c in checks}) == tenants  # every tenant's client was checked
    return checks


def test_mode_token_verifies_green_and_refuses_missing_or_wrong_tokens(lab_runner, tmp_path):
    with lab_runner(_load("multi-tenant-auth"), "tok", tmp_path) as (name, plan):
        checks = _green(_verify(name))
        assert all("API token" in c.message for c in checks)
        client = next(i for i in plan.inventory["instances"] if i["Name"] == "a-client")
        eni = next(ep for ep in plan.endpoints if ep.name == "tenant-a-saas").enis[0]
        ns = f"/run/netns/{client['Netns']}"
        run = http(ns, client["PrivateIpAddress"], eni.ip, 80)  # no token at all
        assert run.status == 401 and run.json()["tenant"] is None


def test_mode_token_red_variant_another_vpc_using_a_stolen_token_is_accepted(lab_runner, tmp_path):
    data = _load("multi-tenant-auth")
    data["verify"] = {"flows": [{"client": "b-client", "endpoint": "tenant-b-saas", "credential": "tenant-a"}]}
    with lab_runner(data, "tok-red", tmp_path) as (name, _plan):
        report = _verify(name)
        assert not report.ok
        failed = [c for c in report.failures]
        assert failed and all(c.category == "tenant" and "with tenant-a's credential" in c.subject for c in failed)
        assert all("answered as tenant-a" in c.message and "cannot see" in c.message for c in failed)


def test_mode_port_verifies_green(lab_runner, tmp_path):
    with lab_runner(_load("multi-tenant-ports"), "port", tmp_path) as (name, plan):
        assert len({n.nlb for n in plan.nodes}) == 3
        checks = _green(_verify(name))
        assert all("target port" in c.message for c in checks)


def test_mode_port_red_variant_swapped_ports(lab_runner, tmp_path):
    with lab_runner(_swap(_load("multi-tenant-ports"), "port"), "port-red", tmp_path) as (name, _plan):
        report = _verify(name)
        failed = {c.subject.split(" -> ")[0] for c in report.failures if c.category == "tenant"}
        assert failed == {"a-client", "b-client"}  # c-client's row was left alone and still passes
        assert all(c.category == "tenant" for c in report.failures)


def test_mode_ppv2_red_variant_swapped_endpoints(lab_runner, tmp_path):
    with lab_runner(_swap(_load("multi-tenant"), "endpoint"), "ppv2-red", tmp_path) as (name, plan):
        _accept_pending(name, plan)
        report = _verify(name)
        failed = {c.subject.split(" -> ")[0] for c in report.failures if c.category == "tenant"}
        assert failed == {"a-client", "b-client"}
        assert all(c.category == "tenant" for c in report.failures)


BROKEN_TARGET = [sys.executable, "-c", (
    "import sys; sys.path.insert(0, %r); import test_target_tenancy as t; import lab.apps.target as app; "
    "app.trusted_header = t.believe_the_client; sys.exit(app.main(sys.argv[1:]))") % str(REPO / "tests" / "unit")]


def _restart_targets(name: str, plan, program=None) -> None:
    """Stop the lab's demo targets (by the owner tokens `lab up` journaled) and start them again
    under the same tokens, so that `lab down` still finds exactly them."""
    state = LabState(name)
    tokens = {e.get("instance"): e["token"] for e in state.journal.entries() if e["kind"] == "process"}
    targets = [a for a in plan.apps if a.kind == "demo-target"]
    processes.stop([tokens[a.instance] for a in targets])
    apps.start(SimpleNamespace(state=state), [(a, tokens[a.instance]) for a in targets], program)


def test_mode_ppv2_verifies_green_with_a_forged_header_and_red_when_the_app_believes_it(lab_runner, tmp_path):
    with lab_runner(_load("multi-tenant"), "ppv2", tmp_path) as (name, plan):
        _accept_pending(name, plan)
        checks = _green(_verify(name))
        forged = [c for c in checks if "credential" in c.subject]
        assert len(forged) == 3 and all("ignored" in c.message for c in forged)

        _restart_targets(name, plan, BROKEN_TARGET)
        try:
            report = _verify(name)
            red = [c for c in report.failures if c.category == "tenant"]
            assert len(red) == 3 and all("credential" in c.subject for c in red)
            assert all("the client chose" in c.message for c in red)  # answered as the forged tenant
        finally:
            _restart_targets(name, plan)
        _green(_verify(name))  # the real app again: green

