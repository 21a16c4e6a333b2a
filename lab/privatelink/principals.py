"""Accounts and principals: who is acting, and whether they may.

Every control-plane command acts as one account of the topology's `accounts:` (`--account NAME` or
its 12-digit ID), as an AWS call acts with one account's credentials. The rules are AWS's:
- a consumer creates endpoints only in its own VPCs, and only to a service whose allowed principals
  admit its account (the service's own account always may);
- only the service owner accepts, rejects, allows or revokes; a consumer cannot accept its own
  endpoint; only the endpoint's owner deletes it.
A refusal is bad input: exit 2, nothing changed, and the message says who could do it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.topology.errors import LabInputError
from lab.topology.model import EndpointService, Topology, Vpc
from lab.topology.rules import principal_allows

ACCOUNT_FLAG = "--account"


class NotAuthorized(LabInputError):
    """The acting account may not do this (AWS: UnauthorizedOperation)."""


@dataclass(frozen=True)
class Account:
    name: str
    id: str

    @property
    def arn(self) -> str:
        return root_arn(self.id)

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


def root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def resolve_account(topo: Topology, ref: str) -> Account:
    """An account by its name in `accounts:` or by its 12-digit ID."""
    for name, account_id in topo.accounts.items():
        if ref in (name, account_id):
            return Account(name, account_id)
    known = ", ".join(f"{n} ({i})" for n, i in topo.accounts.items())
    raise LabInputError(ACCOUNT_FLAG, f"no account {ref!r} in this lab", f"act as one of: {known}")


def owner_of_vpc(topo: Topology, vpc: Vpc) -> Account:
    return Account(vpc.account, topo.accounts[vpc.account])


def owner_of_service(topo: Topology, svc: EndpointService) -> Account:
    return Account(svc.account, topo.accounts[svc.account])


def require_may_create(topo: Topology, actor: Account, vpc: Vpc, svc: EndpointService) -> None:
    owner = owner_of_vpc(topo, vpc)
    if actor != owner:
        raise NotAuthorized(ACCOUNT_FLAG, f"account {actor} cannot create an endpoint in VPC {vpc.name!r}, "
                            f"which belongs to {owner}", f"act as {owner.name}, or pick one of your own VPCs")
    provider = owner_of_service(topo, svc)
    if actor != provider and not principal_allows(svc.allowed_principals, actor.id):
        raise NotAuthorized(ACCOUNT_FLAG, f"account {actor} is not an allowed principal of service {svc.name!r}",
                            f"the provider ({provider.name}) runs `lab service allow {svc.name} --account "
                            f"{provider.name} --principal {actor.arn}` first")


def require_owner(actor: Account, owner: Account, doing: str, aside: str = "") -> None:
    """AWS's UnauthorizedOperation when `actor` is not `owner`: `doing` says what was refused."""
    if actor != owner:
        raise NotAuthorized(ACCOUNT_FLAG, f"account {actor} cannot {doing}: only its owner {owner} can{aside}",
                            f"act as {owner.name}")


def require_service_owner(topo: Topology, actor: Account, svc: EndpointService, action: str) -> None:
    require_owner(actor, owner_of_service(topo, svc), f"{action} for service {svc.name!r}")


def require_endpoint_owner(topo: Topology, actor: Account, vpc: Vpc, vpce_id: str) -> None:
    require_owner(actor, owner_of_vpc(topo, vpc), f"delete endpoint {vpce_id}", " (a provider rejects instead)")


def normalize_principal(topo: Topology, ref: str) -> str:
    """'*', an IAM ARN, or an account (name or ID) meaning that account's root ARN."""
    if ref == "*":
        return ref
    for name, account_id in topo.accounts.items():
        if ref in (name, account_id):
            return root_arn(account_id)
    if ref.isdigit() and len(ref) == 12:
        return root_arn(ref)  # an account outside the lab may be allowed too, as on AWS
    parts = ref.split(":")
    if len(parts) == 6 and parts[:3] == ["arn", "aws", "iam"] and parts[4].isdigit() and len(parts[4]) == 12 \
            and parts[5] and parts[3] == "":
        return ref
    raise LabInputError("--principal", f"{ref!r} is not a principal",
                        "give '*', an account name or 12-digit ID, or an ARN such as arn:aws:iam::222222222222:root")


def principal_type(arn: str) -> str:
    """DescribeVpcEndpointServicePermissions' PrincipalType."""
    if arn == "*":
        return "All"
    resource = arn.split(":", 5)[5]
    if resource == "root":
        return "Account"
    return {"role": "Role", "user": "User"}.get(resource.split("/", 1)[0], "Account")
