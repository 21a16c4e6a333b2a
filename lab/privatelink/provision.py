"""CreateVpcEndpointServiceConfiguration and DeleteVpcEndpointServiceConfigurations: a provider
turns one of its NLBs into an endpoint service, or stops offering one, on a live lab.

One transaction like the others in `control`: under the lab lock, the stored topology gets (or
loses) an `endpoint_services` entry, is validated by the loader's rules (one service per NLB, known
principals), re-planned with the live plan as `previous` and reconciled, so the new service can
take endpoints at once. Nothing of the data plane belongs to a service without endpoints (the NLB's
nodes exist either way), so create and delete move no traffic by themselves.

A service with endpoint connections cannot be deleted: AWS answers ExistingVpcEndpointConnections
for `available` and `pendingAcceptance` ones (the provider rejects them first). The lab refuses
`rejected` and `failed` ones too, because its stored topology keeps every endpoint with its service
(the consumer deletes them; the refusal says so), where AWS lets those go.
"""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass, field

from lab.apply.context import Progress
from lab.privatelink import shapes
from lab.privatelink.control import _quiet, transaction
from lab.privatelink.principals import normalize_principal, owner_of_service, owner_of_vpc, require_owner
from lab.topology.errors import LabInputError

SERVICE_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
NAME_FLAG = "--service-name"
NLB_FLAG = "--nlb"
IP_TYPES = ("ipv4",)  # what the lab's endpoint services offer (dual-stack is issue 15's)


class ServiceInUse(LabInputError):
    """A service that still has endpoint connections (AWS: ExistingVpcEndpointConnections)."""

    code = "ExistingVpcEndpointConnections"


@dataclass
class ServiceChange:
    action: str
    services: list[dict] = field(default_factory=list)  # DescribeVpcEndpointServiceConfigurations' items
    refused: dict[str, str] = field(default_factory=dict)  # service -> why (delete only)
    seconds: float = 0.0


def check_name(name: str | None) -> None:
    """Bad input before any lab is looked up (the CLI's golden cases rely on it)."""
    if name is not None and not SERVICE_NAME_RE.match(name):
        raise LabInputError(NAME_FLAG, f"{name!r} is not a valid service name",
                            "use 1-32 characters of a-z, 0-9 and '-', starting with a letter")


def check_ip_types(types: list[str] | None) -> None:
    bad = [t for t in types or [] if t not in IP_TYPES]
    if bad:
        raise LabInputError("--supported-ip-address-type", f"{bad[0]!r} is not offered by the lab's endpoint services",
                            f"use {', '.join(IP_TYPES)} (the lab's endpoints are IPv4 only)")


def _nlb(txn, ref: str):
    """An NLB by its name or by its ARN, as DescribeLoadBalancers would show it."""
    for nlb in txn.view.topo.nlbs:
        owner = txn.view.topo.accounts[txn.view.vpc(nlb.vpc).account]
        arn_tail = f":{owner}:loadbalancer/net/{nlb.name}/"
        if ref == nlb.name or (ref.startswith("arn:aws:elasticloadbalancing:") and arn_tail in ref):
            return nlb
    known = ", ".join(n.name for n in txn.view.topo.nlbs) or "none"
    raise LabInputError(NLB_FLAG, f"no load balancer {ref!r} in lab {txn.lab!r}", f"use one of: {known}")


def _free_name(txn, nlb_name: str) -> str:
    taken = {s.name for s in txn.view.topo.endpoint_services}
    base = f"{nlb_name[:24]}-svc"
    for k in range(1, 100):
        candidate = base if k == 1 else f"{base}-{k}"
        if candidate not in taken:
            return candidate
    raise LabInputError(NAME_FLAG, "no free service name left", "give one with --service-name")


def create_service(lab: str, account: str, nlb: str, *, name: str | None = None, acceptance_required: bool = True,
                   principals: list[str] | None = None, ip_types: list[str] | None = None,
                   progress: Progress = _quiet) -> ServiceChange:
    """CreateVpcEndpointServiceConfiguration on the NLB `nlb` (name or ARN), owned by `account`."""
    check_name(name)
    check_ip_types(ip_types)
    t0 = time.perf_counter()
    change = ServiceChange("create-service")
    with transaction(lab, progress) as txn:
        actor, the_nlb = txn.account(account), _nlb(txn, nlb)
        require_owner(actor, owner_of_vpc(txn.view.topo, txn.view.vpc(the_nlb.vpc)),
                      f"offer load balancer {the_nlb.name!r} as a service")
        used = next((s for s in txn.view.topo.endpoint_services if s.nlb == the_nlb.name), None)
        if used is not None:
            raise LabInputError(NLB_FLAG, f"load balancer {the_nlb.name!r} already backs service {used.name!r} "
                                f"({txn.view.service_id(used)})", "give each service its own NLB")
        if name is not None and any(s.name == name for s in txn.view.topo.endpoint_services):
            raise LabInputError(NAME_FLAG, f"a service named {name!r} exists already", "pick another name")
        svc_name = name or _free_name(txn, the_nlb.name)
        entry = {"name": svc_name, "account": actor.name, "nlb": the_nlb.name,
                 "acceptance_required": bool(acceptance_required)}
        if principals:
            entry["allowed_principals"] = list(dict.fromkeys(normalize_principal(txn.view.topo, p) for p in principals))
        raw = copy.deepcopy(txn.raw)
        raw["endpoint_services"] = [*(raw.get("endpoint_services") or []), entry]
        txn.apply(raw, change.action, set())
        txn.record.save()
        change.services = [shapes.service(txn.view, txn.service(svc_name))]
    change.seconds = time.perf_counter() - t0
    return change


def delete_services(lab: str, account: str, refs: list[str], progress: Progress = _quiet) -> ServiceChange:
    """DeleteVpcEndpointServiceConfigurations: each service by name, ID or service name. A service with
    endpoints is refused (ServiceInUse when all are; `refused` says which otherwise), the rest go."""
    t0 = time.perf_counter()
    change = ServiceChange("delete-service")
    with transaction(lab, progress) as txn:
        actor = txn.account(account)
        chosen = []
        for ref in dict.fromkeys(refs):
            svc = txn.service(ref)
            require_owner(actor, owner_of_service(txn.view.topo, svc), f"delete service {svc.name!r}")
            attached = [ep for ep in txn.view.topo.endpoints if ep.service == svc.name]
            if attached:
                ids = ", ".join(f"{(txn.view.endpoint_plan(e.name) or {}).get('id')} ({txn.state_of(e)})"
                                for e in attached)
                change.refused[svc.name] = (f"service {txn.view.service_id(svc)} has endpoint connections: {ids}; "
                                            "reject them (the lab: and their owners delete them) first")
            else:
                chosen.append(svc)
        if change.refused and not chosen:
            name, why = next(iter(change.refused.items()))
            raise ServiceInUse("SERVICE", why, "reject the endpoint connections, have their owners delete them, "
                               "then delete the service")
        before = [shapes.service(txn.view, s) for s in chosen]
        if chosen:
            names = {s.name for s in chosen}
            raw = copy.deepcopy(txn.raw)
            raw["endpoint_services"] = [s for s in raw.get("endpoint_services") or [] if s.get("name") not in names]
            txn.apply(raw, change.action, set())
            txn.record.save()
        change.services = before
    change.seconds = time.perf_counter() - t0
    return change
