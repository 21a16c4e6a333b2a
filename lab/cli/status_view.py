"""`lab status`: the plan from the state file, checked against what is live right now.

The JSON (`--format json`) is a lab document whose lists hold AWS objects in AWS's shapes and
names -- `vpcs` as DescribeVpcs' Vpc, `subnets` as Subnet, `instances` as Instance, `security_groups`
as SecurityGroup, `peerings` as VpcPeeringConnection, `services` as ServiceConfiguration, `endpoints`
as DescribeVpcEndpoints' VpcEndpoint and `network_interfaces` as DescribeNetworkInterfaces'
NetworkInterface -- each with the lab-only facts (names, namespaces, bridges, liveness) under its
`Lab` key. `nlb_nodes` and `target_health` are lab objects (AWS shows neither), also PascalCase.
The envelope's own keys (`lab`, `region`, the list names) are the lab's.
"""

from __future__ import annotations

from collections.abc import Callable

from lab.apply import netns
from lab.cli.output import stdout, table

# The fields AWS's answers carry for each kind; an inventory key outside these is lab-only (-> Lab).
_VPC = ("VpcId", "CidrBlock", "OwnerId")
_SUBNET = ("SubnetId", "VpcId", "CidrBlock", "AvailabilityZone")
_INSTANCE = ("InstanceId", "VpcId", "PrivateIpAddress", "PublicIpAddress")  # PublicIpAddress: with an IGW only
_IGW = ("InternetGatewayId", "Attachments", "OwnerId", "Tags")
_NAT_GW = ("NatGatewayId", "SubnetId", "VpcId", "State", "ConnectivityType", "NatGatewayAddresses", "Tags")
_SECURITY_GROUP = ("GroupId", "GroupName", "VpcId", "Description", "IpPermissions")
_PEERING = ("VpcPeeringConnectionId",)


def collect(lab: str) -> dict:
    from lab.privatelink.control import read_view

    view = read_view(lab)
    runtime = _runtime_or_none()
    pids, targets = {}, []
    for node in view.plan["inventory"].get("nlb_nodes", []):
        pid = runtime.pid(node["Container"]) if runtime else None
        pids[node["Container"]] = pid
        if pid:
            targets += [{"Node": node["Container"], "TargetGroup": row["pxname"].removeprefix("tg-"),
                         "Target": row["svname"], "Health": row.get("status", "?"),
                         "Connections": int(row.get("stot") or 0)} for row in _states(pid)]
    return document(view, netns.exists, pids, targets)


def document(view, live: Callable[[str], bool], pids: dict[str, int | None], targets: list[dict]) -> dict:
    """The status document of a lab view (lab.privatelink.shapes.LabView), given what is live: whether
    a namespace exists, each NLB node container's PID (None: not running), and target health rows."""
    from lab.privatelink import shapes

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
    if inv.get("internet_gateways"):  # as DescribeInternetGateways' InternetGateway
        doc["internet_gateways"] = [_split(g, _IGW, Live=live(g["Netns"])) for g in inv["internet_gateways"]]
    if inv.get("nat_gateways"):  # as DescribeNatGateways' NatGateway
        doc["nat_gateways"] = [_split(g, _NAT_GW, Live=live(g["Netns"])) for g in inv["nat_gateways"]]
    if inv.get("peerings"):
        doc["peerings"] = [_split(p, _PEERING, Tags=_name_tag(p)) for p in inv["peerings"]]
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


def _runtime_or_none():
    from lab.apply.runtime.base import RuntimeUnavailable
    from lab.apply.runtime.docker import DockerRuntime

    runtime = DockerRuntime()
    try:
        runtime.check()
    except RuntimeUnavailable:
        return None
    return runtime


def _states(pid: int) -> list[dict]:
    from lab.apply.nodes import server_states

    try:
        return server_states(pid)
    except OSError:
        return []


def _yes(value: bool) -> str:
    return "up" if value else "MISSING"


def render(data: dict) -> None:
    stdout.print(f"[bold]lab {data['lab']}[/bold] ({data['region']})")
    table("VPCs", ["VPC", "ID", "CIDR", "Owner", "Namespace", "Live"],
          [(v["Lab"]["Name"], v["VpcId"], v["CidrBlock"], v["OwnerId"], v["Lab"]["Netns"], _yes(v["Lab"]["Live"]))
           for v in data["vpcs"]])
    table("Subnets", ["Subnet", "ID", "CIDR", "AZ", "Bridge"],
          [(s["Lab"]["Name"], s["SubnetId"], s["CidrBlock"], s["AvailabilityZone"], s["Lab"]["Bridge"])
           for s in data["subnets"]])
    table("Instances", ["Instance", "IP", "AZ", "App", "Namespace", "Live"],
          [(i["Lab"]["Name"], i["PrivateIpAddress"], i["Placement"]["AvailabilityZone"], i["Lab"]["App"] or "",
            i["Lab"]["Netns"], _yes(i["Lab"]["Live"])) for i in data["instances"]])
    if data.get("internet_gateways"):
        table("Internet gateways", ["IGW", "VPC", "State", "Namespace", "Live"],
              [(g["InternetGatewayId"], a["VpcId"], a["State"], g["Lab"]["Netns"], _yes(g["Lab"]["Live"]))
               for g in data["internet_gateways"] for a in g["Attachments"]])
        public = [(i["Lab"]["Name"], "instance", i["PublicIpAddress"], i["PrivateIpAddress"])
                  for i in data["instances"] if i.get("PublicIpAddress")]
        public += [(n["LoadBalancer"] + "@" + n["AvailabilityZone"], "NLB node (internet-facing)", n["PublicIpAddress"],
                    n["PrivateIpAddress"]) for n in data.get("nlb_nodes", []) if n.get("PublicIpAddress")]
        public += [(g["Tags"][0]["Value"], f"NAT gateway {g['NatGatewayId']}", a["PublicIp"], a["PrivateIp"])
                   for g in data.get("nat_gateways", []) for a in g["NatGatewayAddresses"]]
        table("Public IPs (1:1 NAT at the IGW)", ["Holder", "Kind", "Public IP", "Private IP"], public)
    table("Endpoint ENIs", ["Endpoint", "State", "ENI", "IP", "AZ", "NLB node", "Leg"],
          [(ep["VpcEndpointId"], ep["State"], eni["NetworkInterfaceId"], eni["PrivateIpAddress"],
            eni["AvailabilityZone"], eni["NlbNode"], eni["Leg"])
           for ep in data["endpoints"] for eni in ep["Lab"]["Enis"]])
    table("NLB nodes", ["Container", "NLB", "AZ", "Provider IP", "Running"],
          [(n["Container"], n["LoadBalancer"], n["AvailabilityZone"], n["PrivateIpAddress"], _yes(n["Running"]))
           for n in data.get("nlb_nodes", [])])
    table("Targets", ["NLB node", "Target group", "Target", "Health", "Connections"],
          [(t["Node"], t["TargetGroup"], t["Target"], t["Health"], t["Connections"]) for t in data["target_health"]])
