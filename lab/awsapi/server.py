"""The EC2 Query API of one lab, as a WSGI application (werkzeug).

A request: read the form (POST body, or the query string of a GET), verify its Signature Version 4
against the keys of the lab's accounts, find the caller's IAM policies, parse the parameters
against botocore's model of the action, run the action (which asks IAM, honours DryRun, and calls
the control plane through lab.api), and answer EC2's XML. Whatever goes wrong is answered in EC2's
error shape; the server never answers anything else.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import traceback
import uuid
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request, Response

from lab import api
from lab.awsapi import cloudwatch, discovery, endpoints, notifications, provision, services, sigv4, wire
from lab.awsapi.context import Call
from lab.awsapi.errors import Ec2Error

MAX_BODY = 1 << 20  # 1 MiB: EC2's Query requests are far smaller

ACTIONS = {
    "CreateVpcEndpoint": endpoints.create_vpc_endpoint,
    "DescribeVpcEndpoints": endpoints.describe_vpc_endpoints,
    "DeleteVpcEndpoints": endpoints.delete_vpc_endpoints,
    "ModifyVpcEndpoint": endpoints.modify_vpc_endpoint,
    "AcceptVpcEndpointConnections": endpoints.accept_vpc_endpoint_connections,
    "RejectVpcEndpointConnections": endpoints.reject_vpc_endpoint_connections,
    "DescribeVpcEndpointConnections": endpoints.describe_vpc_endpoint_connections,
    "CreateVpcEndpointServiceConfiguration": provision.create_vpc_endpoint_service_configuration,
    "DeleteVpcEndpointServiceConfigurations": provision.delete_vpc_endpoint_service_configurations,
    "DescribeVpcEndpointServiceConfigurations": services.describe_vpc_endpoint_service_configurations,
    "DescribeVpcEndpointServices": services.describe_vpc_endpoint_services,
    "DescribeVpcEndpointServicePermissions": services.describe_vpc_endpoint_service_permissions,
    "ModifyVpcEndpointServicePermissions": services.modify_vpc_endpoint_service_permissions,
    "ModifyVpcEndpointServiceConfiguration": services.modify_vpc_endpoint_service_configuration,
    "StartVpcEndpointServicePrivateDnsVerification": services.start_vpc_endpoint_service_private_dns_verification,
    "CreateVpcEndpointConnectionNotification": notifications.create_vpc_endpoint_connection_notification,
    "DescribeVpcEndpointConnectionNotifications": notifications.describe_vpc_endpoint_connection_notifications,
    "ModifyVpcEndpointConnectionNotification": notifications.modify_vpc_endpoint_connection_notification,
    "DeleteVpcEndpointConnectionNotifications": notifications.delete_vpc_endpoint_connection_notifications,
    "DescribeVpcs": discovery.describe_vpcs,
    "DescribeSubnets": discovery.describe_subnets,
    "DescribeSecurityGroups": discovery.describe_security_groups,
    "DescribeNetworkInterfaces": discovery.describe_network_interfaces,
    "DescribeAvailabilityZones": discovery.describe_availability_zones,
}

log = logging.getLogger("lab.awsapi")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Ec2Api:
    """`Ec2Api(lab)` is the WSGI app; `clock` is injectable so tests can check RequestExpired."""

    def __init__(self, lab: str, clock=_utcnow):
        self.lab, self.clock = lab, clock
        self._cached: tuple[tuple, object, dict] | None = None
        self._view_and_keys()  # fails now, clearly, if the lab is not up; makes the lab's secret

    def _view_and_keys(self):
        """The lab's view and keys, re-read only when one of its files changed (a Describe costs a
        stat, not a YAML parse); the control plane replaces each file atomically."""
        stamp = api.ec2_state_stamp(self.lab)
        cached = self._cached
        if cached is None or cached[0] != stamp:
            view = api.ec2_view(self.lab)
            cached = (stamp, view, {k.access_key_id: k for k in api.ec2_credentials(self.lab, view)})
            self._cached = cached
        return cached[1], cached[2]

    @staticmethod
    def policies(view, caller) -> list[dict] | None:
        return _policies(view, caller)

    def __call__(self, environ, start_response):
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        if cloudwatch.is_cloudwatch(request.path, request.headers):  # CloudWatch's own protocol (issue 16)
            status, headers, body = cloudwatch.handle(self, request, request_id)
            return Response(body, status=status, headers=headers)
        try:
            op, body = self._answer(request, request_id)
            return Response(body, status=200, content_type="text/xml;charset=UTF-8")
        except Ec2Error as err:
            return self._error(err.code, err.message, err.status, request_id)
        except Exception:  # noqa: BLE001 - a bug must still be answered in EC2's shape, and logged
            traceback.print_exc(file=sys.stderr)
            return self._error("InternalError", "An internal error has occurred", 500, request_id)

    @staticmethod
    def _error(code: str, message: str, status: int, request_id: str) -> Response:
        return Response(wire.render_error(code, message, request_id), status=status,
                        content_type="text/xml;charset=UTF-8")

    def _form(self, request: Request) -> tuple[bytes, dict[str, str]]:
        if request.method not in ("POST", "GET"):
            raise Ec2Error("InvalidAction", f"The HTTP method {request.method[:16]} is not supported; use POST")
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise Ec2Error("RequestEntityTooLarge", f"The request body is larger than {MAX_BODY} bytes")
        body = request.get_data(cache=True) if request.method == "POST" else b""
        if len(body) > MAX_BODY:
            raise Ec2Error("RequestEntityTooLarge", f"The request body is larger than {MAX_BODY} bytes")
        raw = body if request.method == "POST" else request.query_string
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw),
                              errors="strict", max_num_fields=wire.MAX_FIELDS)
        except (UnicodeDecodeError, ValueError) as err:
            raise Ec2Error("MalformedQueryString", f"The query string is not a valid form encoding: {str(err)[:100]}") \
                from None
        form: dict[str, str] = {}
        for key, value in pairs:
            if key in form:
                raise Ec2Error("InvalidParameterValue", f"The parameter {key[:128]} is given more than once")
            form[key] = value
        return body, form

    def _caller(self, request: Request, body: bytes, view, keys):
        signed = sigv4.SignedRequest(request.method, request.path, request.query_string.decode("latin-1"),
                                     dict(request.headers), body)
        cred = sigv4.verify(signed, lambda key_id: keys[key_id].secret_access_key if key_id in keys else None,
                            self.clock())
        if cred.region != view.topo.region:
            raise Ec2Error("AuthFailure", f"The credential is scoped to Region {cred.region[:32]}; this lab is "
                           f"Region {view.topo.region}")
        return keys[cred.access_key]

    def _answer(self, request: Request, request_id: str) -> tuple[str, bytes]:
        body, form = self._form(request)
        view, keys = self._view_and_keys()
        caller = self._caller(request, body, view, keys)
        action = form.get("Action")
        if not action:
            raise Ec2Error("MissingAction", "The request must contain the parameter Action")
        if form.get("Version") != wire.API_VERSION:
            raise Ec2Error("NoSuchVersion" if form.get("Version") else "MissingParameter",
                           f"The request must contain the parameter Version={wire.API_VERSION}")
        handler, op = ACTIONS.get(action), wire.operation(action)
        if handler is None or op is None:
            raise Ec2Error("InvalidAction", f"The action {action[:64]} is not valid for this web service"
                           if op is None else f"The action {action} is not supported by privatelink-lab")
        params = wire.parse_request(op, form)
        call = Call(self.lab, view, caller, _policies(view, caller), action, dry_run=bool(params.get("DryRun")))
        result = handler(call, params)
        if not call.authorized:  # every action must have asked IAM (and DryRun) before acting
            raise RuntimeError(f"{action} answered without authorizing")
        log.info("%s %s by %s", request_id, action, caller.arn)
        return action, wire.render_result(op, result, request_id)


def _policies(view, caller) -> list[dict] | None:
    for ident in getattr(view.topo, "iam", None) or []:
        if ident.account == caller.account and ident.user == caller.user:
            return [dict(p) for p in ident.policies]
    return None


def serve(lab: str, host: str, port: int, ready=print) -> None:
    """Serve until interrupted (threaded: a slow accept does not block a Describe)."""
    from werkzeug.serving import make_server

    app = Ec2Api(lab)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, app, threaded=True)
    ready(f"http://{host if ':' not in host else f'[{host}]'}:{server.server_port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
