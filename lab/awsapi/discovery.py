"""What a caller finds in its account: VPCs, subnets, security groups, the endpoints' network
interfaces and the Region's AZs, as EC2's Describe calls answer them."""

from __future__ import annotations

from lab.awsapi.describe import by_ids, filtered, page
from lab.awsapi.util import owned_endpoints


def _name_tag(name: str) -> list[dict]:
    return [{"Key": "Name", "Value": name}]


def describe_vpcs(call, p: dict) -> dict:
    call.authorize()
    items = [{"VpcId": v["VpcId"], "CidrBlock": v["CidrBlock"], "State": "available", "OwnerId": v["OwnerId"],
              "InstanceTenancy": "default", "IsDefault": False, "Tags": _name_tag(v["Name"]),
              "CidrBlockAssociationSet": [{"AssociationId": "vpc-cidr-assoc-" + v["VpcId"][4:], "CidrBlock": v["CidrBlock"],
                                           "CidrBlockState": {"State": "associated"}}]}
             for v in call.view.plan["inventory"]["vpcs"] if v["OwnerId"] == call.account_id]
    items = by_ids(items, p.get("VpcIds"), "VpcId", "InvalidVpcID.NotFound", "vpc ID", "vpc-")
    items, nxt = page(filtered(items, p.get("Filters"), {
        "vpc-id": lambda v: [v["VpcId"]], "cidr": lambda v: [v["CidrBlock"]], "state": lambda v: [v["State"]],
        "cidr-block-association.cidr-block": lambda v: [v["CidrBlock"]], "owner-id": lambda v: [v["OwnerId"]],
        "is-default": lambda v: ["false"]}), p, "VpcIds", low=5)
    return {"Vpcs": items, "NextToken": nxt}


def describe_subnets(call, p: dict) -> dict:
    call.authorize()
    owners = {v["VpcId"]: v["OwnerId"] for v in call.view.plan["inventory"]["vpcs"]}
    zone_ids = {a.name: a.id for a in call.view.topo.azs}
    items = [{"SubnetId": s["SubnetId"], "VpcId": s["VpcId"], "CidrBlock": s["CidrBlock"], "State": "available",
              "AvailabilityZone": s["AvailabilityZone"], "AvailabilityZoneId": zone_ids.get(s["AvailabilityZone"], ""),
              "OwnerId": owners[s["VpcId"]], "DefaultForAz": False, "MapPublicIpOnLaunch": False,
              "SubnetArn": call.arn("subnet", s["SubnetId"]), "Tags": _name_tag(s["Name"])}
             for s in call.view.plan["inventory"]["subnets"] if owners.get(s["VpcId"]) == call.account_id]
    items = by_ids(items, p.get("SubnetIds"), "SubnetId", "InvalidSubnetID.NotFound", "subnet ID", "subnet-")
    items, nxt = page(filtered(items, p.get("Filters"), {
        "subnet-id": lambda s: [s["SubnetId"]], "vpc-id": lambda s: [s["VpcId"]], "state": lambda s: [s["State"]],
        "availability-zone": lambda s: [s["AvailabilityZone"]], "availability-zone-id": lambda s: [s["AvailabilityZoneId"]],
        "cidr-block": lambda s: [s["CidrBlock"]], "owner-id": lambda s: [s["OwnerId"]],
        "default-for-az": lambda s: ["false"]}), p, "SubnetIds", low=5)
    return {"Subnets": items, "NextToken": nxt}


def describe_security_groups(call, p: dict) -> dict:
    call.authorize()
    owners = {v["VpcId"]: v["OwnerId"] for v in call.view.plan["inventory"]["vpcs"]}
    items = [{"GroupId": g["GroupId"], "GroupName": g["GroupName"], "VpcId": g["VpcId"], "Description": g["Description"],
              "IpPermissions": g["IpPermissions"], "IpPermissionsEgress": [], "OwnerId": owners[g["VpcId"]],
              "SecurityGroupArn": call.arn("security-group", g["GroupId"]), "Tags": []}
             for g in call.view.plan["inventory"].get("security_groups", []) if owners.get(g["VpcId"]) == call.account_id]
    items = by_ids(items, p.get("GroupIds"), "GroupId", "InvalidGroup.NotFound", "security group", "sg-")
    if p.get("GroupNames"):
        items = [g for g in items if g["GroupName"] in p["GroupNames"]]
    items, nxt = page(filtered(items, p.get("Filters"), {
        "group-id": lambda g: [g["GroupId"]], "group-name": lambda g: [g["GroupName"]], "vpc-id": lambda g: [g["VpcId"]],
        "owner-id": lambda g: [g["OwnerId"]], "description": lambda g: [g["Description"]]}), p, "GroupIds", low=5)
    return {"SecurityGroups": items, "NextToken": nxt}


def network_interfaces(call) -> list[dict]:
    """The network interfaces of the caller's endpoints that exist (an endpoint's ENIs exist while it is available)."""
    view, out = call.view, []
    for ep in owned_endpoints(call):
        planned = view.endpoint_plan(ep.name)
        if planned is None or planned["state"] != "available":
            continue
        groups = view.security_groups(ep.name)
        for eni in planned["enis"]:
            out.append({
                "NetworkInterfaceId": eni["id"], "SubnetId": eni["subnet_id"], "VpcId": view.vpc_id(ep.vpc),
                "AvailabilityZone": eni["az"], "PrivateIpAddress": eni["ip"], "InterfaceType": "vpc_endpoint",
                "Description": f"VPC Endpoint Interface {planned['id']}", "Status": "in-use",
                "RequesterManaged": True, "RequesterId": "727180483921", "OwnerId": call.account_id,
                "SourceDestCheck": True, "Groups": groups, "MacAddress": "", "TagSet": [],
                "PrivateIpAddresses": [{"PrivateIpAddress": eni["ip"], "Primary": True}]})
    return out


def describe_network_interfaces(call, p: dict) -> dict:
    call.authorize()
    items = by_ids(network_interfaces(call), p.get("NetworkInterfaceIds"), "NetworkInterfaceId",
                   "InvalidNetworkInterfaceID.NotFound", "network interface", "eni-")
    items, nxt = page(filtered(items, p.get("Filters"), {
        "network-interface-id": lambda n: [n["NetworkInterfaceId"]], "subnet-id": lambda n: [n["SubnetId"]],
        "vpc-id": lambda n: [n["VpcId"]], "availability-zone": lambda n: [n["AvailabilityZone"]],
        "interface-type": lambda n: [n["InterfaceType"]], "private-ip-address": lambda n: [n["PrivateIpAddress"]],
        "addresses.private-ip-address": lambda n: [n["PrivateIpAddress"]], "description": lambda n: [n["Description"]],
        "requester-managed": lambda n: ["true"], "owner-id": lambda n: [n["OwnerId"]], "status": lambda n: [n["Status"]],
        "group-id": lambda n: [g["GroupId"] for g in n["Groups"]]}), p, "NetworkInterfaceIds", low=5)
    return {"NetworkInterfaces": items, "NextToken": nxt}


def describe_availability_zones(call, p: dict) -> dict:
    call.authorize()
    items = [{"ZoneName": a.name, "ZoneId": a.id, "State": "available", "RegionName": call.region,
              "ZoneType": "availability-zone", "OptInStatus": "opt-in-not-required", "GroupName": call.region,
              "NetworkBorderGroup": call.region, "Messages": []} for a in call.view.topo.azs]
    if p.get("ZoneNames"):
        items = [z for z in items if z["ZoneName"] in p["ZoneNames"]]
    if p.get("ZoneIds"):
        items = [z for z in items if z["ZoneId"] in p["ZoneIds"]]
    items = filtered(items, p.get("Filters"), {
        "zone-name": lambda z: [z["ZoneName"]], "zone-id": lambda z: [z["ZoneId"]], "state": lambda z: [z["State"]],
        "region-name": lambda z: [z["RegionName"]], "zone-type": lambda z: [z["ZoneType"]],
        "group-name": lambda z: [z["GroupName"]], "opt-in-status": lambda z: [z["OptInStatus"]]})
    return {"AvailabilityZones": items}
