"""What a command acts on, from what the user typed: endpoints by ID or name, an endpoint's subnets
(by name or subnet ID, or by default one per AZ of the service) and a new endpoint's name."""

from __future__ import annotations

from lab.plan.ids import aws_id
from lab.topology.errors import LabInputError
from lab.topology.model import NAME_RE, Endpoint, EndpointService, Vpc


def endpoints(txn, refs: list[str]) -> list[Endpoint]:
    if not refs:
        raise LabInputError("VPC_ENDPOINT_ID", "no endpoint given", "name one or more endpoint IDs (or names)")
    found: dict[str, Endpoint] = {}
    for ref in refs:
        ep = txn.endpoint(ref)
        found.setdefault(ep.name, ep)
    return list(found.values())


def subnets(txn, vpc: Vpc, svc: EndpointService, refs: list[str] | None) -> list[str]:
    """The subnets named (by name or subnet ID), or by default one per AZ the service is in."""
    by_ref = {}
    for sub in vpc.subnets:
        by_ref[sub.name] = by_ref[aws_id("subnet", txn.lab, "subnet", vpc.name, sub.name)] = sub.name
    if refs:
        out = []
        for ref in refs:
            if ref not in by_ref:
                raise LabInputError("--subnet", f"no subnet {ref!r} in VPC {vpc.name!r}",
                                    f"use one of: {', '.join(s.name for s in vpc.subnets)}")
            out.append(by_ref[ref])
        return out
    svc_azs = next(s["AvailabilityZones"] for s in txn.view.plan["inventory"]["services"] if s["Name"] == svc.name)
    out = []
    for az in (a.name for a in txn.view.topo.azs if a.name in svc_azs):
        first = next((s.name for s in vpc.subnets if s.az == az), None)
        if first:
            out.append(first)
    if not out:
        raise LabInputError("--vpc", f"VPC {vpc.name!r} has no subnet in the AZs of service {svc.name!r} "
                            f"({', '.join(svc_azs)})", "add a subnet there, or use another VPC")
    return out


def endpoint_name(txn, vpc: Vpc, svc: EndpointService, name: str | None) -> str:
    """An endpoint's name makes its ID: a name once deleted is never reused, so an ID never comes back."""
    taken = {e.name for e in txn.view.topo.endpoints}
    if name is not None:
        if not NAME_RE.match(name):
            raise LabInputError("--endpoint-name", f"{name!r} is not a valid name",
                                "use 1-32 characters of a-z, 0-9 and '-', starting with a letter")
        if name in taken:
            raise LabInputError("--endpoint-name", f"an endpoint named {name!r} already exists", "pick another name")
        if txn.record.name_used(name):
            raise LabInputError("--endpoint-name", f"{name!r} was the name of {txn.record.name_used(name)}, now "
                                "deleted; endpoint IDs are never reused", "pick another name")
        return name
    base = f"{vpc.name}-{svc.name}"[:27].rstrip("-")
    n = 1
    while f"{base}-{n}" in taken or txn.record.name_used(f"{base}-{n}"):
        n += 1
    return f"{base}-{n}"

