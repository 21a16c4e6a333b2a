"""The three multi-tenant topologies, planned (no root): what each demo target is told, and what
`lab verify` sends and expects per flow, judged by lab.verify.tenancy on made-up answers."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from lab.plan.build import build_plan
from lab.ppv2 import decode
from lab.topology.load import load_topology, parse_topology
from lab.verify import spec as vspec
from lab.verify.invariants import FAIL, PASS
from lab.plan.links import links_from_plan
from lab.verify.tenancy import tenant_check

MODES = {"multi-tenant-auth": "token", "multi-tenant-ports": "port", "multi-tenant": "ppv2"}


def _plan(name: str, lab: str = "t-ten"):
    return build_plan(load_topology(name), lab)


@pytest.mark.parametrize("topology", list(MODES))
def test_three_tenants_on_identical_cidrs(topology):
    topo = load_topology(topology)
    assert topo.tenancy.mode == MODES[topology] and len(topo.tenancy.tenants) == 3
    cidrs = {v.cidr for v in topo.vpcs}
    assert cidrs == {"10.0.0.0/16"}  # provider and every tenant: nothing could be routed between them


def test_ports_mode_gives_each_tenant_its_own_nlb_service_and_target_port():
    plan = _plan("multi-tenant-ports")
    app = next(a for a in plan.apps if a.instance == "target-a")
    assert app.ports == (8081, 8082, 8083) and app.ppv2_ports == ()
    assert dict(app.tenants) == {"8081": "tenant-a", "8082": "tenant-b", "8083": "tenant-c"}
    assert len({n.nlb for n in plan.nodes}) == 3 and len(plan.inventory["services"]) == 3


def test_ppv2_mode_keys_the_table_by_endpoint_id():
    plan = _plan("multi-tenant")
    ids = {ep.name: ep.id for ep in plan.endpoints}
    app = next(a for a in plan.apps if a.instance == "target-a")
    assert dict(app.tenants) == {ids["tenant-a-saas"]: "tenant-a", ids["tenant-b-saas"]: "tenant-b",
                                 ids["tenant-c-saas"]: "tenant-c"}
    assert app.ppv2_ports == (8080,)


def test_plain_labs_are_unchanged():
    plan = _plan("basic")
    assert plan.tenancy == {} and all(a.tenancy == "" and a.ppv2_ports == (8080,) for a in plan.apps)


def _flows(plan, declared=None):
    d = json.loads(json.dumps(plan.to_dict(), default=list))
    return vspec.build(d, links_from_plan(d), declared).flows


def test_verify_sends_each_clients_own_token_and_expects_its_own_tenant():
    flows = _flows(_plan("multi-tenant-auth"))
    by_client = {(f.client, f.tenant, f.auth_token) for f in flows}
    assert by_client == {("a-client", "tenant-a", "tok-a-7Qx2mN4p"), ("b-client", "tenant-b", "tok-b-Vh8sK1wz"),
                         ("c-client", "tenant-c", "tok-c-3LdR9eTy")}


def _declared(topology: str, extra: str):
    # Accepted at once here: the shipped file leaves the endpoints to its auto-accept subscriber.
    text = open(f"topologies/{topology}.yaml").read().replace("acceptance_required: true",
                                                              "acceptance_required: false") + extra
    return parse_topology(text).verify, build_plan(parse_topology(text), "t-ten")


def test_a_declared_credential_is_presented_but_the_expected_tenant_stays_the_vpcs():
    extra = "verify:\n  flows:\n    - {client: b-client, endpoint: tenant-b-saas, credential: tenant-a}\n"
    declared, plan = _declared("multi-tenant", extra)
    forged = [f for f in _flows(plan, declared) if f.credential == "tenant-a" and f.client == "b-client"]
    assert forged and all(f.tenant == "tenant-b" for f in forged)
    ids = {ep.name: ep.id for ep in plan.endpoints}
    assert {decode(f.forged_header).aws_vpce_id for f in forged} == {ids["tenant-a-saas"]}
    assert all("with tenant-a's credential" in f.name for f in forged)


@dataclass
class Run:
    spec: object
    status: int | None
    body: dict

    def json(self):
        return self.body


def _spec(**kw):
    flows = _flows(_plan("multi-tenant-auth"))
    import dataclasses

    return dataclasses.replace(next(f for f in flows if f.client == "b-client"), **kw)


def test_tenant_check_passes_the_right_tenant_and_fails_a_wrong_one():
    spec = _spec()
    assert tenant_check(Run(spec, 200, {"tenant": "tenant-b"}), "token").status == PASS
    wrong = tenant_check(Run(spec, 200, {"tenant": "tenant-c"}), "token")
    assert wrong.status == FAIL and "expected tenant-b" in wrong.message
    refused = tenant_check(Run(spec, 401, {"tenant": None, "error": "unknown API token"}), "token")
    assert refused.status == FAIL and "401" in refused.message


def test_tenant_check_names_the_blind_spot_of_token_mode():
    spec = _spec(credential="tenant-a", auth_token="tok-a-7Qx2mN4p")
    check = tenant_check(Run(spec, 200, {"tenant": "tenant-a"}), "token")
    assert check.status == FAIL and "cannot see" in check.message


def test_a_client_that_is_no_tenant_must_be_refused():
    spec = _spec(tenant="-")
    assert tenant_check(Run(spec, 403, {"tenant": None, "error": "x"}), "ppv2").status == PASS
    assert tenant_check(Run(spec, 200, {"tenant": "tenant-a"}), "ppv2").status == FAIL


def test_every_ppv2_verify_run_sends_one_forged_header_per_tenant_endpoint():
    text = open("topologies/multi-tenant.yaml").read().replace("acceptance_required: true", "acceptance_required: false")
    plan = build_plan(parse_topology(text), "t-ten")
    forged = [f for f in _flows(plan) if f.forged_header]
    ids = {ep.name: ep.id for ep in plan.endpoints}
    assert {(f.client, f.tenant, decode(f.forged_header).aws_vpce_id) for f in forged} == {
        ("a-client", "tenant-a", ids["tenant-b-saas"]), ("b-client", "tenant-b", ids["tenant-c-saas"]),
        ("c-client", "tenant-c", ids["tenant-a-saas"])}
    assert not [f for f in _flows(_plan("multi-tenant-auth")) if f.credential]  # mode token: its blind spot is red
