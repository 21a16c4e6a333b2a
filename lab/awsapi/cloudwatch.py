"""CloudWatch's ListMetrics and GetMetricData in the lab's API server, for AWS/PrivateLinkEndpoints
and AWS/PrivateLinkServices.

What boto3 sends: botocore's CloudWatch model lists the protocols smithy-rpc-v2-cbor, json and
query, and botocore picks the first it supports: RPC v2 CBOR (`POST /service/
GraniteServiceVersion20100801/operation/ListMetrics`, header `smithy-protocol: rpc-v2-cbor`, a CBOR
body). An older botocore sends JSON 1.0 (`X-Amz-Target: GraniteServiceVersion20100801.ListMetrics`);
both are answered, each in its own encoding. Signature Version 4 is verified as for EC2, with the
credential scope's service `monitoring`; errors use CloudWatch's codes (`InvalidClientTokenId`,
`SignatureDoesNotMatch`, `RequestExpired`, `InvalidParameterValue`, `AccessDenied`), with the
`x-amzn-query-error` header botocore reads for this awsQueryCompatible service.

Who sees what, as on AWS: an endpoint's metrics are in its owner's (the consumer's) account, a
service's in the provider's.
"""

from __future__ import annotations

import json
import math
import sys
import traceback

from lab import api
from lab.awsapi import cbor, sigv4
from lab.awsapi.context import Call
from lab.awsapi.errors import Ec2Error

TARGET = "GraniteServiceVersion20100801"
CBOR_PATH = f"/service/{TARGET}/operation/"
OPERATIONS = ("ListMetrics", "GetMetricData")
MAX_BODY = 1 << 20
_STATUS = {"InvalidClientTokenId": 403, "SignatureDoesNotMatch": 403, "AccessDenied": 403, "InternalFailure": 500}


class CloudWatchError(Ec2Error):
    """An error the server answers in CloudWatch's shape (never reaches `lab`)."""


def is_cloudwatch(path: str, headers) -> bool:
    return path.startswith(CBOR_PATH) or (headers.get("X-Amz-Target") or "").startswith(TARGET + ".")


def handle(app, request, request_id: str):
    """(status, headers, body) of one CloudWatch request; `app` is the Ec2Api (view, keys, clock)."""
    as_cbor = request.path.startswith(CBOR_PATH)
    try:
        result = _answer(app, request, as_cbor)
        return 200, _headers(as_cbor, request_id), _encode(result, as_cbor)
    except CloudWatchError as err:
        return _error(err.code, err.message, as_cbor, request_id)
    except Ec2Error as err:  # the signature checks speak EC2; CloudWatch names them its own way
        code = {"AuthFailure": "SignatureDoesNotMatch"}.get(err.code, err.code)
        if "no Authorization header" in err.message:
            code = "MissingAuthenticationToken"
        return _error(code, err.message, as_cbor, request_id)
    except Exception:  # noqa: BLE001 - a bug is still answered in CloudWatch's shape, and logged
        traceback.print_exc(file=sys.stderr)
        return _error("InternalFailure", "An internal error has occurred", as_cbor, request_id)


def _headers(as_cbor: bool, request_id: str) -> dict:
    if as_cbor:
        return {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor", "x-amzn-requestid": request_id}
    return {"Content-Type": "application/x-amz-json-1.0", "x-amzn-requestid": request_id}


def _error(code: str, message: str, as_cbor: bool, request_id: str):
    status = _STATUS.get(code, 400)
    headers = {**_headers(as_cbor, request_id),
               "x-amzn-query-error": f"{code};{'Receiver' if status >= 500 else 'Sender'}"}
    body = {"__type": f"com.amazonaws.cloudwatch#{code}", "message": message}
    return status, headers, _encode(body, as_cbor)


def _encode(data: dict, as_cbor: bool) -> bytes:
    if as_cbor:
        return cbor.encode(_timestamps(data))
    return json.dumps(data).encode()


def _timestamps(value):
    """GetMetricData's Timestamps are epoch seconds in the result; CBOR carries them as tag 1."""
    if isinstance(value, dict):
        return {k: ([cbor.Timestamp(t) for t in v] if k == "Timestamps" else _timestamps(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_timestamps(v) for v in value]
    return value


def _operation(request, as_cbor: bool) -> str:
    if request.method != "POST":
        raise CloudWatchError("InvalidAction", f"The HTTP method {request.method[:16]} is not supported; use POST")
    name = request.path[len(CBOR_PATH):] if as_cbor else (request.headers.get("X-Amz-Target") or "")[len(TARGET) + 1:]
    if name not in OPERATIONS:
        raise CloudWatchError("InvalidAction", f"The action {name[:64]} is not valid for this web service"
                              if not name.isalnum() else f"The CloudWatch action {name} is not supported by "
                              f"privatelink-lab; it answers {', '.join(OPERATIONS)}")
    return name


def _params(body: bytes, as_cbor: bool) -> dict:
    if not body:
        return {}
    try:
        data = cbor.decode(body) if as_cbor else json.loads(body)
    except (cbor.CborError, ValueError, RecursionError) as err:
        raise CloudWatchError("SerializationException", f"The request body is not valid "
                              f"{'CBOR' if as_cbor else 'JSON'}: {getattr(err, 'message', str(err))[:100]}") from None
    if not isinstance(data, dict):
        raise CloudWatchError("SerializationException", "The request body must be a map")
    return data


def _answer(app, request, as_cbor: bool) -> dict:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise CloudWatchError("RequestEntityTooLarge", f"The request body is larger than {MAX_BODY} bytes")
    body = request.get_data(cache=True)
    if len(body) > MAX_BODY:
        raise CloudWatchError("RequestEntityTooLarge", f"The request body is larger than {MAX_BODY} bytes")
    view, keys = app._view_and_keys()
    headers = dict(request.headers)
    cred, _, _ = sigv4.read_authorization(headers)
    if cred.access_key not in keys:
        raise CloudWatchError("InvalidClientTokenId", "The security token included in the request is invalid.")
    signed = sigv4.SignedRequest(request.method, request.path, request.query_string.decode("latin-1"), headers, body)
    sigv4.verify(signed, lambda k: keys[k].secret_access_key if k in keys else None, app.clock(), service="monitoring")
    if cred.region != view.topo.region:
        raise CloudWatchError("SignatureDoesNotMatch", f"The credential is scoped to Region {cred.region[:32]}; "
                              f"this lab is Region {view.topo.region}")
    op = _operation(request, as_cbor)
    params = _params(body, as_cbor)
    caller = keys[cred.access_key]
    call = Call(app.lab, view, caller, app.policies(view, caller), op, iam_service="cloudwatch")
    try:
        call.authorize()
    except Ec2Error as err:
        raise CloudWatchError("AccessDenied", err.message.replace("You are not authorized to perform this "
                                                                   "operation. ", "")) from None
    visible = _visibility(view, call.account_id)
    try:
        if op == "ListMetrics":
            _check_namespace(params)
            return api.cloudwatch_list_metrics(app.lab, params, visible)
        for key in ("StartTime", "EndTime"):
            if not isinstance(params.get(key), (int, float)) or isinstance(params.get(key), bool) \
                    or not math.isfinite(params[key]):
                raise CloudWatchError("MissingParameter" if key not in params else "InvalidParameterValue",
                                      f"The parameter {key} is required and must be a timestamp")
        _check_queries(params.get("MetricDataQueries"))
        return api.cloudwatch_get_metric_data(app.lab, params, visible)
    except api.CloudWatchQueryError as err:
        raise CloudWatchError(err.code, err.problem) from None


def _check_namespace(params: dict) -> None:
    for key in ("Namespace", "MetricName", "NextToken"):
        if key in params and not isinstance(params[key], str):
            raise CloudWatchError("InvalidParameterValue", f"{key} must be a string")
    dims = params.get("Dimensions", [])
    if not isinstance(dims, list) or not all(isinstance(d, dict) and isinstance(d.get("Name"), str)
                                             and isinstance(d.get("Value", ""), str) for d in dims):
        raise CloudWatchError("InvalidParameterValue", "Dimensions must be a list of {Name, Value}")


def _check_queries(queries) -> None:
    """The shapes GetMetricData's model declares; the values are checked by lab.metrics.query."""
    if not isinstance(queries, list):
        raise CloudWatchError("MissingParameter", "The parameter MetricDataQueries is required")
    for q in queries:
        if not isinstance(q, dict) or not isinstance(q.get("Id"), str):
            raise CloudWatchError("InvalidParameterValue", "Each MetricDataQuery must be a map with an Id")
        stat = q.get("MetricStat")
        if stat is None:
            continue
        metric = stat.get("Metric") if isinstance(stat, dict) else None
        dims = metric.get("Dimensions", []) if isinstance(metric, dict) else None
        if not isinstance(metric, dict) or not isinstance(dims, list) or not all(
                isinstance(d, dict) and isinstance(d.get("Name"), str) and isinstance(d.get("Value"), str)
                for d in dims) or not isinstance(stat.get("Period"), int) or not isinstance(stat.get("Stat"), str):
            raise CloudWatchError("InvalidParameterValue", f"Query {q['Id'][:64]}: MetricStat needs Metric "
                                  "(Namespace, MetricName, Dimensions of Name and Value), Period and Stat")


def _visibility(view, account_id: str):
    """Endpoint series of the caller's endpoints, service series of the caller's services."""
    topo = view.topo
    own_vpcs = {v.name for v in topo.vpcs if topo.accounts[v.account] == account_id}
    own_endpoints = {(view.endpoint_plan(ep.name) or {}).get("id") for ep in topo.endpoints if ep.vpc in own_vpcs}
    own_services = {view.service_id(s) for s in topo.endpoint_services if topo.accounts[s.account] == account_id}

    def visible(series) -> bool:
        dims = dict(series.dimensions)
        if series.namespace == api.CLOUDWATCH_NAMESPACES[0]:
            return dims.get("VPC Endpoint Id") in own_endpoints
        if series.namespace == api.CLOUDWATCH_NAMESPACES[1]:
            return dims.get("Service Id") in own_services
        return False

    return visible

