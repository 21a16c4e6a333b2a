"""Lookups as the caller's account sees the lab, and the control plane's errors as EC2's."""

from __future__ import annotations

import threading

from lab import api
from lab.awsapi.errors import Ec2Error

# One mutation at a time from this server: a ClientToken is checked and recorded around its create.
store_lock = threading.RLock()


def owned_endpoints(call) -> list:
    vpcs = {v.name for v in call.view.topo.vpcs if call.view.topo.accounts[v.account] == call.account_id}
    return [ep for ep in call.view.topo.endpoints if ep.vpc in vpcs]


def endpoint_by_id(call, vpce_id: str):
    for ep in owned_endpoints(call):
        if (call.view.endpoint_plan(ep.name) or {}).get("id") == vpce_id:
            return ep
    raise Ec2Error("InvalidVpcEndpointId.NotFound", f"The Vpc Endpoint Id '{vpce_id[:128]}' does not exist")


def owned_vpc(call, vpc_id: str):
    for vpc in call.view.topo.vpcs:
        if call.view.vpc_id(vpc.name) == vpc_id and call.view.topo.accounts[vpc.account] == call.account_id:
            return vpc
    if not vpc_id.startswith("vpc-"):
        raise Ec2Error("InvalidVpcID.Malformed", f"Invalid id: \"{vpc_id[:128]}\" (expecting \"vpc-...\")")
    raise Ec2Error("InvalidVpcID.NotFound", f"The vpc ID '{vpc_id[:128]}' does not exist")


def visible_services(call) -> list:
    """Services the caller may see and connect to: its own, and those whose principals admit it."""
    topo = call.view.topo
    return [s for s in topo.endpoint_services
            if topo.accounts[s.account] == call.account_id or api.principal_allows(s.allowed_principals, call.account_id)]


def service_by_name(call, name: str):
    for svc in visible_services(call):
        if call.view.service_name(svc) == name:
            return svc
    raise Ec2Error("InvalidServiceName", f"The Vpc Endpoint Service '{name[:256]}' does not exist")


def control_plane(run, tolerate_data_plane: bool = False):
    """Run a control-plane transaction; its refusals become EC2 errors. A data plane that could not
    follow an accept leaves the endpoint `failed` (as EC2 shows it), which Describe then reports."""
    try:
        return run()
    except api.NotAuthorized as err:
        raise Ec2Error("UnauthorizedOperation", str(err)) from None
    except api.WorkflowError as err:
        raise Ec2Error("IncorrectState", str(err)) from None
    except api.LabInputError as err:
        raise Ec2Error("InvalidParameterValue", str(err)) from None
    except api.ControlPlaneError as err:
        if tolerate_data_plane:
            return None
        raise Ec2Error("InternalError", str(err)) from None
