"""Cross-region endpoints in the plan: which NLB node serves each ENI, and the backbone links.

Design (docs/cross-region.md): a cross-region endpoint's ENI is still a leg of an NLB node, but
of the *service region's* node: the veth runs from that node's container into the consumer's
subnet bridge in the consumer's region. So the veth is the ENI leg crossing regions, and it is
the inter-region backbone link: it is classified `backbone` (lab.plan.links), gets the topology's
backbone delay (lab.apply.regions, where netem exists), and is what `lab verify` names when a
flow's bytes leave the regions a residency rule allows. PPv2 and the endpoint ID come out of the
same HAProxy node as for any endpoint, so nothing changes there.

A single-region topology (no `regions:`) gets nothing from this module: its plan is unchanged.
"""

from __future__ import annotations

from lab.topology.model import Endpoint, Topology
from lab.topology.regions import endpoint_regions, is_cross_region, service_home, vpc_region


def service_region(topo: Topology, service: str) -> str:
    return service_home(topo, service) or topo.region


def node_for(topo: Topology, ep: Endpoint, az: str, nodes: list):
    """The NLB node an ENI in `az` is a leg of: the node of its own AZ in-region; across regions,
    the AZs of the two regions share nothing, so the consumer's i-th AZ goes to the i-th node (wrapping)."""
    if not is_cross_region(topo, ep):
        return next((n for n in nodes if n.az == az), None)
    own = endpoint_regions(topo, ep)[0]
    azs = [a.name for r in topo.regions if r.name == own for a in r.azs]
    ordered = sorted(nodes, key=lambda n: n.az)
    return ordered[azs.index(az) % len(ordered)] if ordered and az in azs else None


def plan_regions(topo: Topology, plan) -> None:
    """Inventory of regions and backbone legs, only for multi-region topologies."""
    if not topo.regions:
        return
    inv = plan.inventory
    inv["regions"] = [{"RegionName": r.name, "AvailabilityZones": [a.name for a in r.azs],
                       "Vpcs": [v.name for v in topo.vpcs if vpc_region(topo, v) == r.name]} for r in topo.regions]
    planned = {e.name: e for e in plan.endpoints}
    backbone = []
    for ep in topo.endpoints:
        if not is_cross_region(topo, ep):
            continue
        own, named = endpoint_regions(topo, ep)
        legs = [eni.ifname for eni in planned[ep.name].enis]
        backbone.append({"VpcEndpointId": planned[ep.name].id, "Name": ep.name, "Region": own,
                         "ServiceRegion": named, "Legs": legs, "Delay": topo.backbone.delay})
    if backbone:
        inv["backbone"] = backbone
    for svc in inv.get("services", []):
        spec = next(s for s in topo.endpoint_services if s.name == svc["Name"])
        home = service_region(topo, spec.name)
        svc["Region"] = home
        svc["SupportedRegions"] = [home, *(r for r in spec.supported_regions if r != home)]


def region_of_vpc(plan: dict) -> dict[str, str]:
    """VPC name -> region, from a saved plan; empty for a single-region lab."""
    return {vpc: r["RegionName"] for r in plan.get("inventory", {}).get("regions", []) for vpc in r["Vpcs"]}


def backbone_legs(plan: dict) -> dict[str, dict]:
    """ENI leg ifname -> its backbone entry (VpcEndpointId, Region, ServiceRegion, Delay)."""
    return {leg: b for b in plan.get("inventory", {}).get("backbone", []) for leg in b["Legs"]}
