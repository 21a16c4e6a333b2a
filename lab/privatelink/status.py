"""`lab status`: the lab as a document whose lists hold AWS objects in AWS's shapes and names --
`vpcs` as DescribeVpcs' Vpc, `subnets` as Subnet, `instances` as Instance, `security_groups` as
SecurityGroup, `peerings` as VpcPeeringConnection, `services` as ServiceConfiguration, `endpoints`
as DescribeVpcEndpoints' VpcEndpoint and `network_interfaces` as DescribeNetworkInterfaces'
NetworkInterface -- each with the lab-only facts (names, namespaces, bridges, liveness) under its
`Lab` key. `nlb_nodes` and `target_health` are lab objects (AWS shows neither), also PascalCase.
The envelope's own keys (`lab`, `region`, the list names) are the lab's.
"""

from __future__ import annotations

from collections.abc import Callable

from lab.apply import netns
from lab.apply.live import LiveLab
from lab.apply.observe import live_nodes
from lab.privatelink import shapes
from lab.privatelink.control import read_view
from lab.state.store import LabState

# The fields AWS's answers carry for each kind; an inventory key outside these is lab-only (-> Lab).
_VPC = ("VpcId", "CidrBlock", "OwnerId")
_SUBNET = ("SubnetId", "VpcId", "CidrBlock", "AvailabilityZone")
_INSTANCE = ("InstanceId", "VpcId", "PrivateIpAddress", "PublicIpAddress")  # PublicIpAddress: with an IGW only
_IGW = ("InternetGatewayId", "Attachments", "OwnerId", "Tags")
_NAT_GW = ("NatGatewayId", "SubnetId", "VpcId", "State", "ConnectivityType", "NatGatewayAddresses", "Tags")
_SECURITY_GROUP = ("GroupId", "GroupName", "VpcId", "Description", "IpPermissions")
_PEERING = ("VpcPeeringConnectionId",)


def collect(lab: str) -> dict:
    """`lab status`: the lab's objects in AWS's shapes, checked against what is live right now
    (namespaces, NLB nodes through lab.apply.live, target health as each node's HAProxy sees it)."""
    view = read_view(lab)
    live = LiveLab(LabState(lab), view.plan)
    pids, targets = live_nodes(live)
    return document(view, netns.exists, pids, targets)


def document(view, live: Callable[[str], bool], pids: dict[str, int | None], targets: list[dict]) -> dict:
    """The status document of a lab view (lab.privatelink.shapes.LabView), given what is live: whether
    a namespace exists, each NLB node container's PID (None: not running), and target health rows."""
    inv = view.plan["inventory"]
    subnet_ids = {(s["VpcId"], s["Name"]): s["SubnetId"] for s in inv.get("subnets", [])}
    doc = {"lab": view.lab, "region": view.plan["region"]}
    doc["vpcs"] = [_split(v, _VPC, Tags=_name_tag(v), Live=live(v["Netns"])) for v in inv.get("vpcs", [])]
    doc["subnets"] = [_split(s, _SUBNET, Tags=_name_tag(s)) for s in inv.get("subnets", [])]
    doc["instances"] = [
        _split(i, _INSTANCE, SubnetId=subnet_ids.get((i["VpcId"], i["Subnet"])),
               Placement={"AvailabilityZone": i["AvailabilityZone"]}, Tags=_name_tag(i), Live=live(i["Netns"]))
        for i in inv.get("instances", [])]
    doc["security_groups"] = [_split(g, _SECURITY_GROUP) for g in inv.get("security_groups", [])]
    if inv.get("peerings"):
        doc["peerings"] = [_split(p, _PEERING, Tags=_name_tag(p)) for p in inv["peerings"]]
    if inv.get("internet_gateways"):  # as DescribeInternetGateways' InternetGateway
        doc["internet_gateways"] = [_split(g, _IGW, Live=live(g["Netns"])) for g in inv["internet_gateways"]]
    if inv.get("nat_gateways"):  # as DescribeNatGateways' NatGateway
        doc["nat_gateways"] = [_split(g, _NAT_GW, Live=live(g["Netns"])) for g in inv["nat_gateways"]]
    doc["services"] = [shapes.service(view, svc) for svc in view.topo.endpoint_services]
    doc["endpoints"] = [shapes.endpoint(view, ep) for ep in view.topo.endpoints]
    doc["network_interfaces"] = [eni for ep in view.topo.endpoints for eni in shapes.network_interfaces(view, ep)]
    doc["nlb_nodes"] = [{**n, "Running": pids.get(n["Container"]) is not None, "Pid": pids.get(n["Container"])}
                        for n in inv.get("nlb_nodes", [])]
    doc["target_health"] = targets
    return doc


def _name_tag(item: dict) -> list[dict]:
    return [{"Key": "Name", "Value": item["Name"]}]


def _split(item: dict, aws_fields: tuple[str, ...], **extra) -> dict:
    """`item` with AWS's fields (and `extra` ones whose names are AWS's) on top, the rest under Lab.
    An extra called Live is lab-only too."""
    lab_only = {k: v for k, v in item.items() if k not in aws_fields and k not in extra}
    if "Live" in extra:
        lab_only["Live"] = extra.pop("Live")
    if "Placement" in extra:
        lab_only.pop("AvailabilityZone", None)  # an instance's AZ is its Placement's
    return {**{k: item[k] for k in aws_fields if k in item}, **extra, "Lab": lab_only}
