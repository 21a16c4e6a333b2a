"""The control plane's JSON, shaped and named as AWS's EC2 API answers it.

- `endpoint()`    - DescribeVpcEndpoints' VpcEndpoint
- `network_interfaces()` - DescribeNetworkInterfaces' NetworkInterface, for each ENI of an endpoint
- `service()`     - DescribeVpcEndpointServiceConfigurations' ServiceConfiguration
- `connection()`  - DescribeVpcEndpointConnections' VpcEndpointConnection
- `permissions()` - DescribeVpcEndpointServicePermissions' AllowedPrincipals
- `event()`       - one connection notification (Connect, Accept, Reject, Delete)
Lab-only facts (object names, ENI addresses, which NLB node holds a leg) go under a `Lab` key, so
the AWS-named part reads like the real API's answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.plan.ids import aws_id, digest
from lab.privatelink import workflow
from lab.privatelink.principals import owner_of_service, owner_of_vpc, principal_type
from lab.privatelink.records import Record
from lab.topology.model import Endpoint, EndpointService, Topology

_ZONE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def hosted_zone_id(*identity: str) -> str:
    """A Route 53-shaped zone ID (Z + 13 upper-case alphanumerics), stable per identity."""
    n = int(digest("zone", *identity)[:20], 16)
    chars = []
    for _ in range(13):
        n, r = divmod(n, len(_ZONE_ALPHABET))
        chars.append(_ZONE_ALPHABET[r])
    return "Z" + "".join(chars)


@dataclass
class LabView:
    """One consistent reading of a lab: its topology, its plan (as saved) and the control record."""

    lab: str
    topo: Topology
    plan: dict
    record: Record

    def service_of(self, ep: Endpoint) -> EndpointService:
        return next(s for s in self.topo.endpoint_services if s.name == ep.service)

    def vpc(self, name: str):
        return next(v for v in self.topo.vpcs if v.name == name)

    def vpc_id(self, name: str) -> str:
        return aws_id("vpc", self.lab, "vpc", name)

    def service_id(self, svc: EndpointService) -> str:
        return aws_id("vpce-svc", self.lab, "service", svc.name)

    def service_name(self, svc: EndpointService) -> str:
        from lab.topology.regions import service_home  # the service's own region (the lab's, if one)

        return f"com.amazonaws.vpce.{service_home(self.topo, svc.name) or self.topo.region}.{self.service_id(svc)}"

    def endpoint_plan(self, name: str) -> dict | None:
        return next((e for e in self.plan.get("endpoints", []) if e["name"] == name), None)

    def security_groups(self, endpoint_name: str) -> list[dict]:
        """The groups on the endpoint's ENIs, in the endpoint's order (DescribeVpcEndpoints' Groups)."""
        guard = next((g for g in self.plan.get("eni_guards", []) if g["endpoint"] == endpoint_name), None)
        if guard is None:
            return []
        names = {g["GroupId"]: g["GroupName"] for g in self.plan.get("inventory", {}).get("security_groups", [])}
        return [{"GroupId": gid, "GroupName": names.get(gid, "")} for gid in guard["groups"]]

    def nlb_arn(self, svc: EndpointService) -> str:
        owner = owner_of_service(self.topo, svc).id
        return (f"arn:aws:elasticloadbalancing:{self.topo.region}:{owner}:loadbalancer/net/{svc.nlb}/"
                f"{digest('nlb', self.lab, svc.nlb)[:16]}")


def _tags(name: str) -> list[dict]:
    return [{"Key": "Name", "Value": name}]


def dns_entries(view: LabView, ep: Endpoint) -> list[dict]:
    planned = view.endpoint_plan(ep.name) or {}
    zone = hosted_zone_id("vpce", view.topo.region)  # AWS: one public zone per Region for vpce names
    entries = [{"DnsName": d["DnsName"], "HostedZoneId": zone} for d in planned.get("dns_entries", [])]
    svc = view.service_of(ep)
    if ep.private_dns_enabled and svc.private_dns_name:
        entries.append({"DnsName": svc.private_dns_name,
                        "HostedZoneId": hosted_zone_id("private", view.lab, ep.vpc, svc.private_dns_name)})
    return entries


def endpoint(view: LabView, ep: Endpoint) -> dict:
    planned = view.endpoint_plan(ep.name)
    if planned is None:
        raise KeyError(ep.name)
    svc = view.service_of(ep)
    state = planned["state"]
    meta = view.record.endpoint(ep.name)
    live = workflow.is_live(state)
    out = {
        "VpcEndpointId": planned["id"],
        "VpcEndpointType": "Interface",
        "VpcId": view.vpc_id(ep.vpc),
        "ServiceName": view.service_name(svc),
        "State": state,
        "RouteTableIds": [],
        "SubnetIds": [eni["subnet_id"] for eni in planned["enis"]],
        "Groups": view.security_groups(ep.name),
        "IpAddressType": "ipv4",
        "DnsOptions": {"DnsRecordIpType": "ipv4"},
        "PrivateDnsEnabled": ep.private_dns_enabled,
        "RequesterManaged": False,
        # Interfaces exist only while the data plane does (the lab creates the legs on acceptance).
        "NetworkInterfaceIds": [eni["id"] for eni in planned["enis"]] if live else [],
        "DnsEntries": dns_entries(view, ep),
        "CreationTimestamp": meta.get("CreationTimestamp"),
        "Tags": _tags(ep.name),
        "OwnerId": owner_of_vpc(view.topo, view.vpc(ep.vpc)).id,
    }
    if state == "failed" and meta.get("LastError"):
        out["LastError"] = meta["LastError"]
    out.update({k: v for k, v in _regions_of_endpoint(view, ep).items() if k == "ServiceRegion"})  # multi-region only
    out["Lab"] = {
        "Name": ep.name, "Vpc": ep.vpc, "Service": svc.name,
        "Enis": [{"NetworkInterfaceId": eni["id"], "SubnetId": eni["subnet_id"], "Subnet": eni["subnet"],
                  "AvailabilityZone": eni["az"], "PrivateIpAddress": eni["ip"], "NlbNode": eni["node"],
                  "Leg": eni["ifname"], "Live": live} for eni in planned["enis"]],
        "History": meta.get("History", []),
    }
    return out


def _regions_of_endpoint(view: LabView, ep: Endpoint) -> dict:
    """ServiceRegion (and the endpoint's own Region, for connections), in multi-region labs only."""
    if not view.topo.regions:
        return {}
    from lab.topology.regions import endpoint_regions

    own, named = endpoint_regions(view.topo, ep)
    return {"ServiceRegion": named, "Region": own}


def network_interfaces(view: LabView, ep: Endpoint) -> list[dict]:
    """The endpoint's ENIs as DescribeNetworkInterfaces shows them: requester-managed interfaces of type
    vpc_endpoint, present only while the endpoint's data plane is (as NetworkInterfaceIds above)."""
    planned = view.endpoint_plan(ep.name)
    if planned is None:
        raise KeyError(ep.name)
    if not workflow.is_live(planned["state"]):
        return []
    groups = view.security_groups(ep.name)
    owner = owner_of_vpc(view.topo, view.vpc(ep.vpc)).id
    return [{
        "AvailabilityZone": eni["az"],
        "Description": f"VPC Endpoint Interface {planned['id']}",
        "Groups": groups,
        "InterfaceType": "vpc_endpoint",
        "Ipv6Addresses": [],
        "NetworkInterfaceId": eni["id"],
        "OwnerId": owner,
        "PrivateIpAddress": eni["ip"],
        "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": eni["ip"]}],
        "RequesterManaged": True,
        "SourceDestCheck": True,
        "Status": "in-use",
        "SubnetId": eni["subnet_id"],
        "TagSet": [],
        "VpcId": view.vpc_id(ep.vpc),
        "Lab": {"Endpoint": ep.name, "VpcEndpointId": planned["id"], "Subnet": eni["subnet"],
                "NlbNode": eni["node"], "Leg": eni["ifname"]},
    } for eni in planned["enis"]]


def connection(view: LabView, ep: Endpoint) -> dict:
    planned = view.endpoint_plan(ep.name) or {}
    svc = view.service_of(ep)
    return {
        "ServiceId": view.service_id(svc),
        "VpcEndpointId": planned.get("id"),
        "VpcEndpointOwner": owner_of_vpc(view.topo, view.vpc(ep.vpc)).id,
        "VpcEndpointState": planned.get("state"),
        "CreationTimestamp": view.record.endpoint(ep.name).get("CreationTimestamp"),
        "DnsEntries": dns_entries(view, ep),
        "NetworkLoadBalancerArns": [view.nlb_arn(svc)],
        "GatewayLoadBalancerArns": [],
        "IpAddressType": "ipv4",
        "VpcEndpointConnectionId": aws_id("vpce-con", view.lab, "connection", ep.name),
        "Tags": [],
        **{"VpcEndpointRegion": v for k, v in _regions_of_endpoint(view, ep).items() if k == "Region"},
    }


def permissions(view: LabView, svc: EndpointService) -> list[dict]:
    return [{"PrincipalType": principal_type(p), "Principal": p,
             "ServicePermissionId": aws_id("vpce-svc-perm", view.lab, "permission", svc.name, p),
             "ServiceId": view.service_id(svc)} for p in svc.allowed_principals]


def service(view: LabView, svc: EndpointService) -> dict:
    svc_inv = next((s for s in view.plan.get("inventory", {}).get("services", []) if s["Name"] == svc.name), {})
    out = {
        "ServiceType": [{"ServiceType": "Interface"}],
        "ServiceId": view.service_id(svc),
        "ServiceName": view.service_name(svc),
        "ServiceState": "Available",
        "AvailabilityZones": svc_inv.get("AvailabilityZones", []),
        "AcceptanceRequired": svc.acceptance_required,
        "ManagesVpcEndpoints": False,
        "NetworkLoadBalancerArns": [view.nlb_arn(svc)],
        "GatewayLoadBalancerArns": [],
        "SupportedIpAddressTypes": ["ipv4"],
        "BaseEndpointDnsNames": [f"{view.service_id(svc)}.{view.topo.region}.vpce.amazonaws.com"],
        "PayerResponsibility": "ServiceOwner",
        "Tags": _tags(svc.name),
    }
    if "SupportedRegions" in svc_inv:  # a multi-region lab (lab.plan.regions)
        out["SupportedRegions"] = [{"Region": r, "ServiceState": "Available"} for r in svc_inv["SupportedRegions"]]
        out["RemoteAccessEnabled"] = len(svc_inv["SupportedRegions"]) > 1
    if svc.private_dns_name:
        out["PrivateDnsName"] = svc.private_dns_name
        if "PrivateDnsNameConfiguration" in svc_inv:  # domain verification, when the DNS part provides it
            out["PrivateDnsNameConfiguration"] = svc_inv["PrivateDnsNameConfiguration"]
    out["Lab"] = {
        "Name": svc.name, "OwnerId": owner_of_service(view.topo, svc).id, "Nlb": svc.nlb,
        "Notifications": [subscriber_summary(s) for s in svc.notifications],
    }
    return out


def subscriber_summary(sub) -> dict:
    if sub.command is not None:
        return {"Type": "command", "Command": list(sub.command), "Events": list(sub.events), "Timeout": sub.timeout}
    return {"Type": "webhook", "Url": sub.webhook, "From": sub.from_, "Events": list(sub.events), "Timeout": sub.timeout}


def event(view: LabView, ep: Endpoint, connection_event: str, state: str, actor_arn: str, when: str,
          vpce_id: str | None = None) -> dict:
    """A connection notification: what AWS publishes to the service's SNS topic, plus lab names."""
    svc = view.service_of(ep)
    planned = view.endpoint_plan(ep.name) or {}
    return {
        "EventTime": when,
        "ConnectionEvent": connection_event,
        "ServiceId": view.service_id(svc),
        "ServiceName": view.service_name(svc),
        "ServiceOwner": owner_of_service(view.topo, svc).id,
        "VpcEndpointId": vpce_id or planned.get("id"),
        "VpcEndpointOwner": owner_of_vpc(view.topo, view.vpc(ep.vpc)).id,
        "VpcEndpointState": state,
        "VpcId": view.vpc_id(ep.vpc),
        "Actor": actor_arn,
        "Lab": {"Name": view.lab, "Endpoint": ep.name, "Service": svc.name, "Vpc": ep.vpc},
    }
