"""Interface endpoints and their connections: the consumer's and the provider's actions.

Each one calls the same control-plane transaction as the matching `lab endpoint ...` command (via
lab.api), so the data plane changes live. Visibility is AWS's: an account sees its own endpoints;
a provider sees the connections to its own services, and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import re

from lab import api
from lab.awsapi.describe import by_ids, filtered, page, tag_values
from lab.awsapi.errors import Ec2Error
from lab.awsapi.util import control_plane, endpoint_by_id, owned_endpoints, owned_vpc, service_by_name, store_lock

_NAME_TAG_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def _with_tags(call, item: dict, store: dict | None = None) -> dict:
    """The endpoint's tags: its Name, and those set through the API (TagSpecifications)."""
    store = api.ec2_store(call.lab) if store is None else store
    extra = store.get("Tags", {}).get(item["VpcEndpointId"], [])
    keys = {t["Key"] for t in extra}
    return {**item, "Tags": [t for t in item.get("Tags", []) if t["Key"] not in keys] + extra}


def describe_all(call) -> list[dict]:
    store = api.ec2_store(call.lab)
    return [_with_tags(call, api.ec2_describe_endpoint(call.view, ep), store) for ep in owned_endpoints(call)]


FILTERS = {
    "service-name": lambda e: [e["ServiceName"]],
    "vpc-id": lambda e: [e["VpcId"]],
    "vpc-endpoint-id": lambda e: [e["VpcEndpointId"]],
    "vpc-endpoint-state": lambda e: [e["State"]],
    "vpc-endpoint-type": lambda e: [e["VpcEndpointType"]],
    "ip-address-type": lambda e: [e["IpAddressType"]],
    "service-region": lambda e: [e["ServiceName"].split(".")[3]],
}


def describe_vpc_endpoints(call, p: dict) -> dict:
    call.authorize()
    items = by_ids(describe_all(call), p.get("VpcEndpointIds"), "VpcEndpointId", "InvalidVpcEndpointId.NotFound",
                   "Vpc Endpoint Id", "vpce-")
    items, nxt = page(filtered(items, p.get("Filters"), FILTERS), p, "VpcEndpointIds")
    return {"VpcEndpoints": items, "NextToken": nxt}


def _fingerprint(p: dict) -> str:
    return hashlib.sha256(json.dumps({k: v for k, v in p.items() if k != "DryRun"}, sort_keys=True, default=str)
                          .encode()).hexdigest()


def create_vpc_endpoint(call, p: dict) -> dict:
    kind = p.get("VpcEndpointType", "Gateway")  # EC2's default type
    if kind != "Interface":
        raise Ec2Error("InvalidParameterValue", f"VpcEndpointType {kind} is not supported by the lab; "
                       "use VpcEndpointType=Interface")
    for key in ("RouteTableIds", "ResourceConfigurationArn", "ServiceNetworkArn"):
        if p.get(key):
            raise Ec2Error("InvalidParameterCombination", f"{key} cannot be used with an Interface endpoint")
    if p.get("PolicyDocument"):
        raise Ec2Error("InvalidParameterValue", "PolicyDocument (endpoint policies) is not supported by the lab")
    if p.get("IpAddressType", "ipv4") != "ipv4":
        raise Ec2Error("InvalidParameterValue", "The lab's endpoints are ipv4 only (IpAddressType=ipv4)")
    if "ServiceName" not in p:
        raise Ec2Error("MissingParameter", "The request must contain the parameter ServiceName")
    vpc = owned_vpc(call, p["VpcId"])
    svc = service_by_name(call, p["ServiceName"])
    subnets = _subnets(call, vpc, p.get("SubnetIds"))
    groups = _groups(call, vpc, p.get("SecurityGroupIds"))
    owner = call.view.topo.accounts[svc.account]
    call.authorize([call.arn("vpc-endpoint", "*"), call.arn("vpc", call.view.vpc_id(vpc.name)),
                    *(call.arn("subnet", s) for s in (p.get("SubnetIds") or [])),
                    *(call.arn("security-group", g) for g in (p.get("SecurityGroupIds") or [])),
                    call.arn("vpc-endpoint-service", call.view.service_id(svc), owner)],
                   {"ec2:VpceServiceName": call.view.service_name(svc), "ec2:VpceServiceOwner": owner,
                    "ec2:Vpc": call.arn("vpc", call.view.vpc_id(vpc.name))})
    tags = [t for spec in p.get("TagSpecifications") or [] for t in spec.get("Tags") or []]
    for spec in p.get("TagSpecifications") or []:
        if spec.get("ResourceType", "vpc-endpoint") != "vpc-endpoint":
            raise Ec2Error("InvalidParameterValue", f"TagSpecification ResourceType {spec.get('ResourceType')} "
                           "is not valid here; use vpc-endpoint")
    name = next((t.get("Value") for t in tags if t.get("Key") == "Name"), None)
    name = name if name and _NAME_TAG_RE.match(name) else None
    private_dns = p.get("PrivateDnsEnabled", svc.private_dns_name is not None)  # EC2: on by default
    token = p.get("ClientToken")
    with store_lock:
        store = api.ec2_store(call.lab)
        seen = store.get("ClientTokens", {}).get(f"{call.account_id}/{token}") if token else None
        if seen:
            if seen["Fingerprint"] != _fingerprint(p):
                raise Ec2Error("IdempotentParameterMismatch", "The client token you have provided is associated "
                               "with a resource that is already deleted or has different parameters")
            return {"VpcEndpoint": _current_or_deleted(call, seen["VpcEndpointId"]), "ClientToken": token}
        change = control_plane(lambda: api.create_endpoint(call.lab, call.account_id, vpc.name, svc.name, subnets,
                                                           _unused_name(call, name), private_dns,
                                                           security_groups=groups or None))
        created = change.endpoints[0]
        store = api.ec2_store(call.lab)
        if tags:
            store.setdefault("Tags", {})[created["VpcEndpointId"]] = [{"Key": t["Key"], "Value": t.get("Value", "")}
                                                                    for t in tags if "Key" in t]
        if token:
            store.setdefault("ClientTokens", {})[f"{call.account_id}/{token}"] = {
                "Fingerprint": _fingerprint(p), "VpcEndpointId": created["VpcEndpointId"]}
        api.ec2_store_save(call.lab, store)
    return {"VpcEndpoint": _with_tags(call, created), "ClientToken": token}


def _unused_name(call, name: str | None) -> str | None:
    taken = {e.name for e in call.view.topo.endpoints}
    return name if name and name not in taken and not call.view.record.name_used(name) else None


def _current_or_deleted(call, vpce_id: str) -> dict:
    fresh = api.ec2_view(call.lab)
    for ep in fresh.topo.endpoints:
        if (fresh.endpoint_plan(ep.name) or {}).get("id") == vpce_id:
            return _with_tags(call, api.ec2_describe_endpoint(fresh, ep))
    gone = next((d for d in fresh.record.deleted_endpoints() if d["VpcEndpointId"] == vpce_id), None)
    if gone is None:
        raise Ec2Error("IdempotentParameterMismatch", "The client token's endpoint no longer exists")
    return gone


def _subnets(call, vpc, ids: list[str] | None) -> list[str] | None:
    if not ids:
        return None
    inv = {s["SubnetId"]: s for s in call.view.plan["inventory"]["subnets"] if s["VpcId"] == call.view.vpc_id(vpc.name)}
    names, zones = [], {}
    for sid in ids:
        if sid not in inv:
            raise Ec2Error("InvalidSubnetID.NotFound", f"The subnet ID '{sid[:128]}' does not exist in VPC "
                           f"{call.view.vpc_id(vpc.name)}")
        az = inv[sid]["AvailabilityZone"]
        if az in zones:
            raise Ec2Error("DuplicateSubnetsInSameZone", f"Found another VPC endpoint subnet in the availability "
                           f"zone of {sid}. VPC endpoint subnets should be in different availability zones "
                           "supported by the VPC endpoint service.")
        zones[az] = sid
        names.append(inv[sid]["Name"])
    return names


def _groups(call, vpc, ids: list[str] | None) -> list[str]:
    if not ids:
        return []
    inv = {g["GroupId"]: g for g in call.view.plan["inventory"].get("security_groups", []) if g["Vpc"] == vpc.name}
    out = []
    for gid in ids:
        if gid not in inv:
            raise Ec2Error("InvalidSecurityGroupID.NotFound", f"The security group '{gid[:128]}' does not exist in "
                           f"VPC {call.view.vpc_id(vpc.name)}")
        out.append(inv[gid]["GroupName"])
    return out


def delete_vpc_endpoints(call, p: dict) -> dict:
    ids = p.get("VpcEndpointIds") or []
    if not ids:
        raise Ec2Error("MissingParameter", "The request must contain the parameter VpcEndpointId")
    mine = {e["VpcEndpointId"]: e for e in describe_all(call)}
    call.authorize([call.arn("vpc-endpoint", i) for i in ids])
    failed = [_unsuccessful(i, "InvalidVpcEndpoint.NotFound", f"The VPC endpoint '{i}' does not exist")
              for i in ids if i not in mine]
    todo = [i for i in dict.fromkeys(ids) if i in mine]
    if todo:
        control_plane(lambda: api.delete_endpoints(call.lab, call.account_id, todo))
    return {"Unsuccessful": failed}


def _unsuccessful(resource_id: str, code: str, message: str) -> dict:
    return {"Error": {"Code": code, "Message": message}, "ResourceId": resource_id}


# -- provider ---------------------------------------------------------------------------------------

def _connections(call) -> list[tuple[object, dict]]:
    """(endpoint, connection) for every endpoint to a service the caller owns."""
    mine = {s.name for s in call.view.topo.endpoint_services if call.view.topo.accounts[s.account] == call.account_id}
    return [(ep, api.describe_connection(call.view, ep)) for ep in call.view.topo.endpoints if ep.service in mine]


def _decide(call, p: dict, verb: str) -> dict:
    service_id, ids = p["ServiceId"], p.get("VpcEndpointIds") or []
    svc = next((s for s in call.view.topo.endpoint_services if call.view.service_id(s) == service_id), None)
    if svc is None or call.view.topo.accounts[svc.account] != call.account_id:
        raise Ec2Error("InvalidVpcEndpointServiceId.NotFound", f"The Vpc Endpoint Service Id '{service_id[:128]}' "
                       "does not exist")
    call.authorize([call.arn("vpc-endpoint-service", service_id)])
    conns = {c["VpcEndpointId"]: c for ep, c in _connections(call) if ep.service == svc.name}
    allowed = ("pendingAcceptance",) if verb == "accept" else ("pendingAcceptance", "available")
    failed, todo = [], []
    for vid in dict.fromkeys(ids):
        if vid not in conns:
            failed.append(_unsuccessful(vid, "InvalidVpcEndpoint.NotFound",
                                        f"The VPC endpoint '{vid}' does not exist for service {service_id}"))
        elif conns[vid]["VpcEndpointState"] not in allowed:
            failed.append(_unsuccessful(vid, "InvalidVpcEndpointState", f"Endpoint {vid} is in state "
                                        f"{conns[vid]['VpcEndpointState']}; it can be {verb}ed only from "
                                        f"{' or '.join(allowed)}"))
        else:
            todo.append(vid)
    if todo:
        action = api.accept_connections if verb == "accept" else api.reject_connections
        control_plane(lambda: action(call.lab, call.account_id, todo), tolerate_data_plane=True)
    return {"Unsuccessful": failed}


def accept_vpc_endpoint_connections(call, p: dict) -> dict:
    return _decide(call, p, "accept")


def reject_vpc_endpoint_connections(call, p: dict) -> dict:
    return _decide(call, p, "reject")


CONNECTION_FILTERS = {
    "ip-address-type": lambda c: [c["IpAddressType"]],
    "service-id": lambda c: [c["ServiceId"]],
    "vpc-endpoint-owner": lambda c: [c["VpcEndpointOwner"]],
    "vpc-endpoint-state": lambda c: [c["VpcEndpointState"]],
    "vpc-endpoint-id": lambda c: [c["VpcEndpointId"]],
    "vpc-endpoint-region": lambda c: [call_region(c)],
}


def call_region(conn: dict) -> str:
    return conn["DnsEntries"][0]["DnsName"].split(".")[-4] if conn.get("DnsEntries") else ""


def describe_vpc_endpoint_connections(call, p: dict) -> dict:
    call.authorize()
    items = [c for _, c in _connections(call)]
    items, nxt = page(filtered(items, p.get("Filters"), CONNECTION_FILTERS), p, low=1, high=1000)
    return {"VpcEndpointConnections": items, "NextToken": nxt}


__all__ = ["accept_vpc_endpoint_connections", "create_vpc_endpoint", "delete_vpc_endpoints",
           "describe_vpc_endpoint_connections", "describe_vpc_endpoints", "reject_vpc_endpoint_connections",
           "endpoint_by_id", "tag_values"]


def modify_vpc_endpoint(call, p: dict) -> dict:
    """Add/remove subnets and security groups, PrivateDnsEnabled; policies and other types are not the lab's."""
    for key in ("AddRouteTableIds", "RemoveRouteTableIds"):
        if p.get(key):
            raise Ec2Error("InvalidParameterCombination", f"{key} cannot be used with an Interface endpoint")
    for key in ("PolicyDocument", "ResetPolicy", "IpAddressType", "DnsOptions", "SubnetConfigurations"):
        if key in p:
            raise Ec2Error("InvalidParameterValue", f"{key} is not supported by the lab")
    ep = endpoint_by_id(call, p["VpcEndpointId"])
    vpc = call.view.vpc(ep.vpc)
    both = set(p.get("AddSubnetIds") or []) & set(p.get("RemoveSubnetIds") or [])
    if both:
        raise Ec2Error("InvalidParameterCombination", f"Subnet {sorted(both)[0]} is both added and removed")
    add_subnets = _subnets(call, vpc, p.get("AddSubnetIds")) or []
    remove_subnets = _subnets(call, vpc, p.get("RemoveSubnetIds")) or []
    planned = call.view.endpoint_plan(ep.name)
    current_azs = {e["az"]: e["subnet_id"] for e in planned["enis"] if e["subnet"] not in remove_subnets}
    inv = {s["SubnetId"]: s["AvailabilityZone"] for s in call.view.plan["inventory"]["subnets"]}
    for sid in p.get("AddSubnetIds") or []:
        if inv[sid] in current_azs and current_azs[inv[sid]] != sid:
            raise Ec2Error("DuplicateSubnetsInSameZone", f"Found another VPC endpoint subnet in the availability zone "
                           f"of {sid}. VPC endpoint subnets should be in different availability zones supported by "
                           "the VPC endpoint service.")
    groups = _final_groups(call, vpc, ep, p)
    call.authorize([call.arn("vpc-endpoint", p["VpcEndpointId"]),
                    *(call.arn("subnet", s) for s in (p.get("AddSubnetIds") or []) + (p.get("RemoveSubnetIds") or [])),
                    *(call.arn("security-group", g) for g in (p.get("AddSecurityGroupIds") or [])
                      + (p.get("RemoveSecurityGroupIds") or []))])
    if not any(p.get(k) for k in ("AddSubnetIds", "RemoveSubnetIds", "AddSecurityGroupIds", "RemoveSecurityGroupIds")) \
            and "PrivateDnsEnabled" not in p:
        return {"Return": True}
    control_plane(lambda: api.modify_endpoint(
        call.lab, call.account_id, ep.name, add_subnets=add_subnets, remove_subnets=remove_subnets,
        add_groups=groups, remove_groups=list(ep.security_groups), private_dns=p.get("PrivateDnsEnabled")))
    return {"Return": True}


def _final_groups(call, vpc, ep, p: dict) -> list[str]:
    """The endpoint's groups after the change, by name; [] means the VPC's default (as stored)."""
    on_now = {g["GroupId"]: g["GroupName"] for g in call.view.security_groups(ep.name)}
    add = dict(zip(p.get("AddSecurityGroupIds") or [], _groups(call, vpc, p.get("AddSecurityGroupIds"))))
    for gid in p.get("RemoveSecurityGroupIds") or []:
        if gid not in on_now:
            raise Ec2Error("InvalidGroup.NotFound", f"The security group '{gid[:128]}' is not associated with "
                           f"{p['VpcEndpointId']}")
    final = [n for gid, n in on_now.items() if gid not in (p.get("RemoveSecurityGroupIds") or [])]
    final += [n for n in add.values() if n not in final]
    if not final:
        raise Ec2Error("InvalidParameterValue", "An interface endpoint needs at least one security group")
    declared = {g.name for g in vpc.security_groups}
    return [] if final == ["default"] and "default" not in declared else final
