"""CreateVpcEndpointServiceConfiguration and DeleteVpcEndpointServiceConfigurations: the provider's
side of the lifecycle, on the topology's NLBs by ARN. Both call the transaction `lab service
create|delete` runs (lab.privatelink.provision, through lab.api), so a created service takes
endpoints and carries traffic at once.

ClientToken: kept in the API's store in the lab's state folder (as CreateVpcEndpoint's), so a retry
after a server restart still answers the first call's service.
"""

from __future__ import annotations

import hashlib
import json
import re

from lab import api
from lab.awsapi.errors import Ec2Error
from lab.awsapi.util import control_plane, store_lock

_NAME_TAG_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_TOKENS = "ServiceClientTokens"


def with_tags(config: dict, store: dict) -> dict:
    """The service's tags: its Name, and those set through the API (TagSpecifications)."""
    extra = store.get("Tags", {}).get(config["ServiceId"], [])
    keys = {t["Key"] for t in extra}
    return {**config, "Tags": [t for t in config.get("Tags", []) if t["Key"] not in keys] + extra}


def _fingerprint(p: dict) -> str:
    return hashlib.sha256(json.dumps({k: v for k, v in p.items() if k != "DryRun"}, sort_keys=True, default=str)
                          .encode()).hexdigest()


def _nlb_of(call, arns: list[str]):
    """The one NLB named by ARN; the caller must own it (EC2 answers another account's ARN as unknown)."""
    if len(arns) != 1:
        raise Ec2Error("InvalidParameterValue", "The lab's endpoint services are backed by exactly one NLB; "
                       "give one NetworkLoadBalancerArns entry")
    arn = arns[0]
    for nlb in call.view.topo.nlbs:
        owner = call.view.topo.accounts[call.view.vpc(nlb.vpc).account]
        if arn.startswith(f"arn:aws:elasticloadbalancing:{call.region}:{owner}:loadbalancer/net/{nlb.name}/"):
            if owner != call.account_id:
                break
            return nlb
    raise Ec2Error("InvalidParameterValue", f"The load balancer ARN '{arn[:256]}' is not valid or does not exist "
                   "in your account")


def create_vpc_endpoint_service_configuration(call, p: dict) -> dict:
    if p.get("GatewayLoadBalancerArns"):
        raise Ec2Error("InvalidParameterValue", "GatewayLoadBalancerArns: the lab offers Interface services only")
    if not p.get("NetworkLoadBalancerArns"):
        raise Ec2Error("InvalidParameterCombination", "The request must contain NetworkLoadBalancerArns")
    for key in ("PrivateDnsName", "SupportedRegions"):
        if p.get(key):
            raise Ec2Error("InvalidParameterValue", f"{key} on create is not supported by the lab; declare it in "
                           "the topology")
    bad = [t for t in p.get("SupportedIpAddressTypes") or [] if t != "ipv4"]
    if bad:
        raise Ec2Error("InvalidParameterValue", f"SupportedIpAddressTypes {bad[0][:32]} is not offered by the lab's "
                       "endpoint services; use ipv4")
    specs = p.get("TagSpecifications") or []
    for spec in specs:
        if spec.get("ResourceType", "vpc-endpoint-service") != "vpc-endpoint-service":
            raise Ec2Error("InvalidParameterValue", f"TagSpecification ResourceType {spec.get('ResourceType')} "
                           "is not valid here; use vpc-endpoint-service")
    nlb = _nlb_of(call, p["NetworkLoadBalancerArns"])
    call.authorize([call.arn("vpc-endpoint-service", "*")])
    tags = [{"Key": t["Key"], "Value": t.get("Value", "")} for s in specs for t in s.get("Tags") or [] if "Key" in t]
    name = next((t["Value"] for t in tags if t["Key"] == "Name"), None)
    taken = {s.name for s in call.view.topo.endpoint_services}
    name = name if name and _NAME_TAG_RE.match(name) and name not in taken else None
    token = p.get("ClientToken")
    with store_lock:
        store = api.ec2_store(call.lab)
        seen = store.get(_TOKENS, {}).get(f"{call.account_id}/{token}") if token else None
        if seen:
            if seen["Fingerprint"] != _fingerprint(p):
                raise Ec2Error("IdempotentParameterMismatch", "The client token you have provided is associated "
                               "with a resource that is already deleted or has different parameters")
            return {"ServiceConfiguration": _current(call, seen["ServiceId"], store), "ClientToken": token}
        change = control_plane(lambda: api.create_service(call.lab, call.account_id, nlb.name, name,
                                                          p.get("AcceptanceRequired", True), None, ["ipv4"]))
        (config,) = change.services
        store = api.ec2_store(call.lab)
        if tags:
            store.setdefault("Tags", {})[config["ServiceId"]] = tags
        if token:
            store.setdefault(_TOKENS, {})[f"{call.account_id}/{token}"] = {"Fingerprint": _fingerprint(p),
                                                                          "ServiceId": config["ServiceId"]}
        api.ec2_store_save(call.lab, store)
    return {"ServiceConfiguration": with_tags(config, store), "ClientToken": token}


def _current(call, service_id: str, store: dict) -> dict:
    fresh = api.ec2_view(call.lab)
    for svc in fresh.topo.endpoint_services:
        if fresh.service_id(svc) == service_id:
            return with_tags(api.ec2_describe_service(fresh, svc), store)
    raise Ec2Error("IdempotentParameterMismatch", "The client token's service no longer exists")


def delete_vpc_endpoint_service_configurations(call, p: dict) -> dict:
    ids = p.get("ServiceIds") or []
    if not ids:
        raise Ec2Error("MissingParameter", "The request must contain the parameter ServiceIds")
    call.authorize([call.arn("vpc-endpoint-service", i) for i in ids])
    mine = {call.view.service_id(s): s for s in call.view.topo.endpoint_services
            if call.view.topo.accounts[s.account] == call.account_id}
    failed, todo = [], []
    for sid in dict.fromkeys(ids):
        svc = mine.get(sid)
        attached = [ep for ep in call.view.topo.endpoints if svc is not None and ep.service == svc.name]
        if svc is None:
            failed.append(_unsuccessful(sid, "InvalidVpcEndpointService.NotFound",
                                        f"The VpcEndpointService Id '{sid[:128]}' does not exist"))
        elif attached:
            states = {(call.view.endpoint_plan(e.name) or {}).get("state") for e in attached}
            why = "Service has existing active VPC Endpoint connections" if states & {"available", "pendingAcceptance"} \
                else "Service still has rejected or failed endpoints; the lab keeps them until their owners delete them"
            failed.append(_unsuccessful(sid, "ExistingVpcEndpointConnections", why))
        else:
            todo.append(svc.name)
    if todo:
        control_plane(lambda: api.delete_services(call.lab, call.account_id, todo))
        with store_lock:
            store = api.ec2_store(call.lab)
            for sid in [sid for sid, svc in mine.items() if svc.name in todo]:
                store.get("Tags", {}).pop(sid, None)
            api.ec2_store_save(call.lab, store)
    return {"Unsuccessful": failed}


def _unsuccessful(resource_id: str, code: str, message: str) -> dict:
    return {"Error": {"Code": code, "Message": message}, "ResourceId": resource_id}
