"""Endpoint services as their provider manages them, and as consumers discover them."""

from __future__ import annotations

from lab import api
from lab.awsapi.describe import by_ids, filtered, page
from lab.awsapi.errors import Ec2Error
from lab.awsapi.provision import with_tags
from lab.awsapi.util import control_plane, visible_services

SERVICE_FILTERS = {
    "service-name": lambda s: [s["ServiceName"]],
    "service-id": lambda s: [s["ServiceId"]],
    "service-state": lambda s: [s["ServiceState"]],
    "supported-ip-address-types": lambda s: s["SupportedIpAddressTypes"],
    "service-type": lambda s: [t["ServiceType"] for t in s["ServiceType"]],
    "owner": lambda s: [s.get("Owner", "")],
}


def _owned(call) -> list:
    return [s for s in call.view.topo.endpoint_services if call.view.topo.accounts[s.account] == call.account_id]


def _owned_service(call, service_id: str):
    for svc in _owned(call):
        if call.view.service_id(svc) == service_id:
            return svc
    raise Ec2Error("InvalidVpcEndpointServiceId.NotFound", f"The Vpc Endpoint Service Id '{service_id[:128]}' "
                   "does not exist")


def describe_vpc_endpoint_service_configurations(call, p: dict) -> dict:
    call.authorize()
    store = api.ec2_store(call.lab)
    items = [with_tags(api.ec2_describe_service(call.view, s), store) for s in _owned(call)]
    items = by_ids(items, p.get("ServiceIds"), "ServiceId", "InvalidVpcEndpointServiceId.NotFound",
                   "Vpc Endpoint Service Id", "vpce-svc-")
    items, nxt = page(filtered(items, p.get("Filters"), SERVICE_FILTERS), p, "ServiceIds")
    return {"ServiceConfigurations": items, "NextToken": nxt}


def _detail(call, svc) -> dict:
    config = api.ec2_describe_service(call.view, svc)
    out = {key: config[key] for key in ("ServiceName", "ServiceId", "ServiceType", "AvailabilityZones",
                                        "BaseEndpointDnsNames", "AcceptanceRequired", "ManagesVpcEndpoints",
                                        "PayerResponsibility", "Tags", "SupportedIpAddressTypes") if key in config}
    out.update(Owner=call.view.topo.accounts[svc.account], VpcEndpointPolicySupported=False, ServiceRegion=call.region)
    if svc.private_dns_name:
        out["PrivateDnsName"] = svc.private_dns_name
        out["PrivateDnsNames"] = [{"PrivateDnsName": svc.private_dns_name}]
        out["PrivateDnsNameVerificationState"] = svc.private_dns_state or "pendingVerification"
    return out


def describe_vpc_endpoint_services(call, p: dict) -> dict:
    call.authorize()
    details = [_detail(call, s) for s in visible_services(call)]
    wanted = p.get("ServiceNames")
    if wanted:
        known = {d["ServiceName"] for d in details}
        missing = [n for n in wanted if n not in known]
        if missing:
            raise Ec2Error("InvalidServiceName", f"The Vpc Endpoint Service '{missing[0][:256]}' does not exist")
        details = [d for d in details if d["ServiceName"] in wanted]
    details, nxt = page(filtered(details, p.get("Filters"), SERVICE_FILTERS), p)
    return {"ServiceNames": [d["ServiceName"] for d in details], "ServiceDetails": details, "NextToken": nxt}


PERMISSION_FILTERS = {"principal": lambda x: [x["Principal"]], "principal-type": lambda x: [x["PrincipalType"]]}


def describe_vpc_endpoint_service_permissions(call, p: dict) -> dict:
    svc = _owned_service(call, p["ServiceId"])
    call.authorize([call.arn("vpc-endpoint-service", p["ServiceId"])])
    items = [{k: v for k, v in x.items() if k != "ServiceId"} for x in api.describe_permissions(call.view, svc)]
    items, nxt = page(filtered(items, p.get("Filters"), PERMISSION_FILTERS), p, low=5, high=1000)
    return {"AllowedPrincipals": items, "NextToken": nxt}


def modify_vpc_endpoint_service_permissions(call, p: dict) -> dict:
    svc = _owned_service(call, p["ServiceId"])
    add, remove = p.get("AddAllowedPrincipals") or [], p.get("RemoveAllowedPrincipals") or []
    if not add and not remove:
        raise Ec2Error("MissingParameter", "The request must contain AddAllowedPrincipals or RemoveAllowedPrincipals")
    call.authorize([call.arn("vpc-endpoint-service", p["ServiceId"])])
    added = []
    if add:
        change = control_plane(lambda: api.allow_principals(call.lab, call.account_id, svc.name, add))
        added = [x for x in change.principals if x["Principal"] in add or x["Principal"].split(":")[4:5] == add[:1]]
    if remove:
        control_plane(lambda: api.revoke_principals(call.lab, call.account_id, svc.name, remove))
    return {"ReturnValue": True, "AddedPrincipals": [{"PrincipalType": x["PrincipalType"], "Principal": x["Principal"],
                                                      "ServicePermissionId": x["ServicePermissionId"],
                                                      "ServiceId": x["ServiceId"]} for x in added]}


_UNSUPPORTED_MODIFY = ("PrivateDnsName", "RemovePrivateDnsName", "AddNetworkLoadBalancerArns",
                       "RemoveNetworkLoadBalancerArns", "AddGatewayLoadBalancerArns", "RemoveGatewayLoadBalancerArns",
                       "AddSupportedIpAddressTypes", "RemoveSupportedIpAddressTypes", "AddSupportedRegions",
                       "RemoveSupportedRegions")


def modify_vpc_endpoint_service_configuration(call, p: dict) -> dict:
    svc = _owned_service(call, p["ServiceId"])
    given = [k for k in _UNSUPPORTED_MODIFY if p.get(k)]
    if given:
        raise Ec2Error("InvalidParameterValue", f"{given[0]} is not supported by the lab; only AcceptanceRequired "
                       "can be modified")
    if "AcceptanceRequired" not in p:
        raise Ec2Error("MissingParameter", "The request must contain the parameter AcceptanceRequired")
    call.authorize([call.arn("vpc-endpoint-service", p["ServiceId"])])
    control_plane(lambda: api.set_acceptance(call.lab, call.account_id, svc.name, p["AcceptanceRequired"]))
    return {"Return": True}


def start_vpc_endpoint_service_private_dns_verification(call, p: dict) -> dict:
    """The lab checks the TXT record at once (AWS starts the check and answers ReturnValue true);
    DescribeVpcEndpointServiceConfigurations then shows PrivateDnsNameConfiguration.State."""
    svc = _owned_service(call, p["ServiceId"])
    if not svc.private_dns_name:
        raise Ec2Error("InvalidParameter", f"The service {p['ServiceId']} has no private DNS name to verify")
    call.authorize([call.arn("vpc-endpoint-service", p["ServiceId"])])
    control_plane(lambda: api.verify_domain(call.lab, svc.name))
    return {"ReturnValue": True}
