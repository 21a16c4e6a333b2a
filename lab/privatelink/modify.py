"""ModifyVpcEndpoint: add or remove an endpoint's subnets (its ENIs) and security groups, and turn
its private DNS on or off, live. One transaction like the others in `control`: the consumer (the
endpoint's owner) acts; an added subnet gets an ENI (and, on an available endpoint, its leg), a
removed one loses them; other endpoints' traffic is not disturbed."""

from __future__ import annotations

import copy
import time

from lab.apply.context import Progress
from lab.privatelink.control import Change, _deliver, _quiet, transaction
from lab.privatelink.principals import owner_of_vpc, require_owner
from lab.topology.errors import LabInputError


def _edited(raw: dict, name: str, subnets: list[str], groups: list[str], private_dns: bool) -> dict:
    out = copy.deepcopy(raw)
    entry = next(e for e in out.get("endpoints") or [] if e.get("name") == name)
    entry["subnets"] = list(subnets)
    if groups:
        entry["security_groups"] = list(groups)
    else:
        entry.pop("security_groups", None)  # none: the VPC's default group, as on AWS
    if private_dns:
        entry["private_dns_enabled"] = True
    else:
        entry.pop("private_dns_enabled", None)
    return out


def _merge(current: list[str], add: list[str], remove: list[str], what: str, flag: str) -> list[str]:
    missing = [x for x in remove if x not in current]
    if missing:
        raise LabInputError(flag, f"{missing[0]!r} is not one of the endpoint's {what}",
                            f"remove one of: {', '.join(current) or '(none)'}")
    return [x for x in current if x not in remove] + [x for x in dict.fromkeys(add) if x not in current]


def modify_endpoint(lab: str, account: str, ref: str, *, add_subnets: list[str] = (), remove_subnets: list[str] = (),
                    add_groups: list[str] = (), remove_groups: list[str] = (), private_dns: bool | None = None,
                    progress: Progress = _quiet) -> Change:
    """Subnets and groups by name (the caller maps AWS IDs to names)."""
    t0 = time.perf_counter()
    change = Change("modify")
    with transaction(lab, progress) as txn:
        actor, ep = txn.account(account), txn.endpoint(ref)
        planned = txn.view.endpoint_plan(ep.name)
        require_owner(actor, owner_of_vpc(txn.view.topo, txn.view.vpc(ep.vpc)), f"modify endpoint {planned['id']}")
        subnets = _merge(list(ep.subnets), list(add_subnets), list(remove_subnets), "subnets", "--remove-subnet")
        if not subnets:
            raise LabInputError("--remove-subnet", "an interface endpoint needs at least one subnet",
                                "keep one subnet, or delete the endpoint")
        groups = _merge(list(ep.security_groups), list(add_groups), list(remove_groups), "security groups",
                        "--remove-security-group")
        dns = ep.private_dns_enabled if private_dns is None else private_dns
        txn.apply(_edited(txn.raw, ep.name, subnets, groups, dns), change.action, set())
        change.endpoints = [txn.describe(txn.endpoint(ep.name))]
        txn.publish(change, [])  # AWS publishes no connection notification for a modify
    return _deliver(change, lab, progress, t0)
