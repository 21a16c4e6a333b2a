"""The control plane read, as AWS's Describe calls answer: endpoints (DescribeVpcEndpoints) and
services (DescribeVpcEndpointServiceConfigurations, ...Permissions, ...Connections). No lock: every
file they read is replaced atomically."""

from __future__ import annotations

from lab.privatelink import shapes
from lab.privatelink.control import read_view
from lab.privatelink.principals import owner_of_service, require_service_owner, resolve_account
from lab.topology.errors import LabInputError
from lab.topology.model import EndpointService


def endpoints(lab: str, account: str | None = None, service: str | None = None, state: str | None = None,
              include_deleted: bool = False) -> list[dict]:
    """DescribeVpcEndpoints, filtered by owner, service (name, service name or its ID) and state."""
    view = read_view(lab)
    found = [shapes.endpoint(view, ep) for ep in view.topo.endpoints]
    if include_deleted:
        found += view.record.deleted_endpoints()
    if account is not None:
        owner = resolve_account(view.topo, account)
        found = [e for e in found if e["OwnerId"] == owner.id]
    if service is not None:
        found = [e for e in found if service in (e["Lab"]["Service"], e["ServiceName"], e["ServiceName"].rsplit(".", 1)[-1])]
    if state is not None:
        found = [e for e in found if e["State"] == state]
    return found


def endpoint(lab: str, ref: str) -> dict:
    """One endpoint by ID or name, deleted ones included."""
    view = read_view(lab)
    found = [shapes.endpoint(view, ep) for ep in view.topo.endpoints] + view.record.deleted_endpoints()
    match = next((e for e in found if ref in (e["VpcEndpointId"], e["Lab"]["Name"])), None)
    if match is None:
        raise LabInputError("VPC_ENDPOINT_ID", f"no endpoint {ref!r} in lab {lab!r}",
                            f"use one of: {', '.join(e['VpcEndpointId'] for e in found) or 'none'}")
    return match


def services(lab: str, account: str | None = None) -> list[dict]:
    """DescribeVpcEndpointServiceConfigurations, of every service or of those `account` owns."""
    view = read_view(lab)
    chosen = view.topo.endpoint_services
    if account is not None:
        actor = resolve_account(view.topo, account)
        chosen = [s for s in chosen if owner_of_service(view.topo, s) == actor]
    return [shapes.service(view, s) for s in chosen]


def service(lab: str, ref: str, account: str | None = None) -> dict:
    """A service's configuration, allowed principals and endpoint connections (only its owner may
    see them when `account` says who asks)."""
    view = read_view(lab)
    svc = _service(view, ref)
    if account is not None:
        require_service_owner(view.topo, resolve_account(view.topo, account), svc, "see the configuration")
    return {
        "ServiceConfiguration": shapes.service(view, svc),
        "AllowedPrincipals": shapes.permissions(view, svc),
        "VpcEndpointConnections": [shapes.connection(view, ep) for ep in view.topo.endpoints if ep.service == svc.name],
    }


def _service(view: shapes.LabView, ref: str) -> EndpointService:
    for svc in view.topo.endpoint_services:
        if ref in (svc.name, view.service_id(svc), view.service_name(svc)):
            return svc
    raise LabInputError("SERVICE", f"no endpoint service {ref!r} in lab {view.lab!r}",
                        f"use one of: {', '.join(s.name for s in view.topo.endpoint_services) or 'none'}")
