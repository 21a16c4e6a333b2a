"""Rules for multi-region topologies: regions, the region of each VPC and AZ, cross-region endpoints
(AWS PrivateLink's cross-region access, late 2024) and data-residency rules.

A topology without `regions:` is one region, `region:` with `azs:`, exactly as before: every VPC is
in it, and none of these rules can fail for it unless a VPC, a service or a rule names another region.
"""

from __future__ import annotations

from lab.topology.errors import TopologyError
from lab.topology.model import Endpoint, Topology, Vpc


def region_names(topo: Topology) -> list[str]:
    return [r.name for r in topo.regions] or [topo.region]


def vpc_region(topo: Topology, vpc: Vpc) -> str:
    return vpc.region or topo.region


def az_region(topo: Topology, az: str) -> str:
    return next((r.name for r in topo.regions for a in r.azs if a.name == az), topo.region)


def service_home(topo: Topology, service: str) -> str | None:
    """The region of a service: its NLB's VPC's (None while the references are still unchecked)."""
    svc = next((s for s in topo.endpoint_services if s.name == service), None)
    nlb = svc and next((n for n in topo.nlbs if n.name == svc.nlb), None)
    vpc = nlb and next((v for v in topo.vpcs if v.name == nlb.vpc), None)
    return vpc_region(topo, vpc) if vpc else None


def endpoint_regions(topo: Topology, ep: Endpoint) -> tuple[str, str] | None:
    """(the endpoint's own region, the region it names for its service)."""
    vpc = next((v for v in topo.vpcs if v.name == ep.vpc), None)
    if vpc is None:
        return None
    own = vpc_region(topo, vpc)
    return own, ep.service_region or own


def is_cross_region(topo: Topology, ep: Endpoint) -> bool:
    regions = endpoint_regions(topo, ep)
    return regions is not None and regions[0] != regions[1]


def _known(topo: Topology, name: str, path: str, what: str = "region") -> None:
    declared = region_names(topo)
    if name not in declared:
        raise TopologyError(path, f"{what} {name!r} is not declared",
                            f"use one of the regions: ({', '.join(declared)}), or declare it under regions:")


def check_regions(topo: Topology) -> None:
    if topo.regions:
        _check_declared(topo)
    for i, vpc in enumerate(topo.vpcs):
        if vpc.region is not None:
            _known(topo, vpc.region, f"vpcs[{i}].region")
        region = vpc_region(topo, vpc)
        for j, sub in enumerate(vpc.subnets):
            known = any(a.name == sub.az for a in topo.azs)  # an unknown AZ: lab.topology.rules names it
            if topo.regions and known and az_region(topo, sub.az) != region:
                raise TopologyError(f"vpcs[{i}].subnets[{j}].az", f"{sub.az} is in {az_region(topo, sub.az)}, "
                                    f"not in the VPC's region {region}",
                                    f"pick an AZ of {region}: ({', '.join(_azs_of(topo, region))})")
    for i, svc in enumerate(topo.endpoint_services):
        for k, name in enumerate(svc.supported_regions):
            _known(topo, name, f"endpoint_services[{i}].supported_regions[{k}]")
    for i, ep in enumerate(topo.endpoints):
        _check_service_region(topo, ep, f"endpoints[{i}]")
    for i, rule in enumerate(topo.verify.residency):
        for k, name in enumerate(rule.regions):
            _known(topo, name, f"verify.residency[{i}].regions[{k}]")
        endpoints = [e.name for e in topo.endpoints]
        for k, name in enumerate(rule.endpoints):
            if name not in endpoints:
                raise TopologyError(f"verify.residency[{i}].endpoints[{k}]", f"no endpoint {name!r}",
                                    f"use one of: {', '.join(endpoints) or '(none: add endpoints)'}")


def _azs_of(topo: Topology, region: str) -> list[str]:
    return [a.name for r in topo.regions if r.name == region for a in r.azs]


def _check_declared(topo: Topology) -> None:
    seen: dict[str, int] = {}
    for i, region in enumerate(topo.regions):
        if region.name in seen:
            raise TopologyError(f"regions[{i}].name", f"region {region.name!r} is already defined at "
                                f"regions[{seen[region.name]}].name", "give each region its own name")
        seen[region.name] = i
        for j, az in enumerate(region.azs):
            if az.name[:-1] != region.name:
                raise TopologyError(f"regions[{i}].azs[{j}].name", f"AZ {az.name} is not in region {region.name}",
                                    f"name it {region.name} plus a letter, e.g. {region.name}a")
    region_azs = [a for r in topo.regions for a in r.azs]
    if list(topo.azs) != region_azs:
        raise TopologyError("azs", "is given together with regions:, which lists each region's AZs",
                            "remove azs: and keep the AZs under their regions")
    _known(topo, topo.region, "region")


def _check_service_region(topo: Topology, ep: Endpoint, path: str) -> None:
    """As AWS: a service is found only in its own region, and only from the regions it supports."""
    regions, home = endpoint_regions(topo, ep), service_home(topo, ep.service)
    # A service_region that is not the service's (declared or not) gets AWS's answer below.
    if regions is None or home is None:
        return  # an unknown VPC or service: lab.topology.rules names it
    own, named = regions
    svc = next(s for s in topo.endpoint_services if s.name == ep.service)
    supported = [home, *(r for r in svc.supported_regions if r != home)]
    if named == home and (own == home or own in supported):
        return
    fix = (f"the service lives in {home}: set service_region: {home}" if named != home else
           f"add {own} to the service's supported_regions")
    if named != home and own != home and own not in supported:
        fix += f", and add {own} to its supported_regions"
    raise TopologyError(f"{path}.service_region", f"The Vpc Endpoint Service '{ep.service}' does not exist", fix)
