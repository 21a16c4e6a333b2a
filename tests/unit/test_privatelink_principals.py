"""Who may do what: accounts, principals and the provider/consumer split (AWS's rules)."""

from __future__ import annotations

import pytest

from lab.privatelink import principals as p
from lab.topology.errors import LabInputError
from lab.topology.load import load_topology


@pytest.fixture(scope="module")
def topo():
    return load_topology("multi-tenant")


def _svc(topo, allowed=None):
    svc = topo.endpoint_services[0]
    return svc if allowed is None else svc.model_copy(update={"allowed_principals": allowed})


def _vpc(topo, name):
    return next(v for v in topo.vpcs if v.name == name)


def test_accounts_resolve_by_name_or_id(topo):
    assert p.resolve_account(topo, "tenant-a") == p.Account("tenant-a", "222222222222")
    assert p.resolve_account(topo, "222222222222") == p.Account("tenant-a", "222222222222")
    assert p.resolve_account(topo, "tenant-a").arn == "arn:aws:iam::222222222222:root"


def test_unknown_account_names_the_known_ones(topo):
    with pytest.raises(LabInputError) as err:
        p.resolve_account(topo, "mallory")
    assert err.value.path == "--account" and "tenant-c (444444444444)" in err.value.fix


def test_a_consumer_creates_only_in_its_own_vpc(topo):
    with pytest.raises(p.NotAuthorized) as err:
        p.require_may_create(topo, p.resolve_account(topo, "tenant-a"), _vpc(topo, "tenant-b"), _svc(topo))
    assert "belongs to tenant-b" in err.value.problem


def test_an_account_not_allowed_cannot_create_and_is_told_who_can_fix_it(topo):
    svc = _svc(topo, ["arn:aws:iam::222222222222:root"])
    p.require_may_create(topo, p.resolve_account(topo, "tenant-a"), _vpc(topo, "tenant-a"), svc)
    with pytest.raises(p.NotAuthorized) as err:
        p.require_may_create(topo, p.resolve_account(topo, "tenant-b"), _vpc(topo, "tenant-b"), svc)
    assert "not an allowed principal" in err.value.problem
    assert "lab service allow saas --account provider --principal arn:aws:iam::333333333333:root" in err.value.fix


def test_wildcard_and_roles_admit_accounts(topo):
    acct = p.resolve_account(topo, "tenant-b")
    p.require_may_create(topo, acct, _vpc(topo, "tenant-b"), _svc(topo, ["*"]))
    p.require_may_create(topo, acct, _vpc(topo, "tenant-b"), _svc(topo, ["arn:aws:iam::333333333333:role/ops"]))


def test_the_service_owner_may_always_connect_its_own_vpcs(topo):
    p.require_may_create(topo, p.resolve_account(topo, "provider"), _vpc(topo, "provider"), _svc(topo, []))


def test_only_the_service_owner_accepts_a_consumer_never_its_own(topo):
    p.require_service_owner(topo, p.resolve_account(topo, "provider"), _svc(topo), "accept connections")
    with pytest.raises(p.NotAuthorized) as err:
        p.require_service_owner(topo, p.resolve_account(topo, "tenant-a"), _svc(topo), "accept connections")
    assert "only its owner provider (111111111111)" in err.value.problem and err.value.fix == "act as provider"


def test_only_the_endpoint_owner_deletes(topo):
    p.require_endpoint_owner(topo, p.resolve_account(topo, "tenant-a"), _vpc(topo, "tenant-a"), "vpce-1")
    with pytest.raises(p.NotAuthorized) as err:
        p.require_endpoint_owner(topo, p.resolve_account(topo, "provider"), _vpc(topo, "tenant-a"), "vpce-1")
    assert "rejects instead" in err.value.problem


@pytest.mark.parametrize("given, arn", [
    ("*", "*"),
    ("tenant-b", "arn:aws:iam::333333333333:root"),
    ("333333333333", "arn:aws:iam::333333333333:root"),
    ("999999999999", "arn:aws:iam::999999999999:root"),
    ("arn:aws:iam::333333333333:role/deployer", "arn:aws:iam::333333333333:role/deployer"),
])
def test_principals_normalize_to_arns(topo, given, arn):
    assert p.normalize_principal(topo, given) == arn


@pytest.mark.parametrize("bad", ["arn:aws:iam::12:root", "arn:aws:s3:::bucket", "someone", "arn:aws:iam::333333333333:"])
def test_malformed_principals_are_refused(topo, bad):
    with pytest.raises(LabInputError) as err:
        p.normalize_principal(topo, bad)
    assert err.value.path == "--principal"


def test_principal_types_as_aws_reports_them():
    assert p.principal_type("*") == "All"
    assert p.principal_type("arn:aws:iam::333333333333:root") == "Account"
    assert p.principal_type("arn:aws:iam::333333333333:role/x") == "Role"
    assert p.principal_type("arn:aws:iam::333333333333:user/y") == "User"
