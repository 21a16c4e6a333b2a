"""CloudWatch's ListMetrics and GetMetricData, and the service configuration calls' refusals, against
the paper lab (tests/unit/conftest.py) through real boto3 clients over loopback HTTP. boto3's
`cloudwatch` client speaks what botocore's model names first (smithy-rpc-v2-cbor): its own CBOR
codec reading the replies is the check on lab.awsapi.cbor. Samples are written into the lab's
metric store as the sampler would write them; no kernel, no root."""

from __future__ import annotations

import math
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lab import api
from lab.awsapi import cbor
from lab.metrics.cloudwatch import ENDPOINTS_NS, SERVICES_NS, series
from lab.metrics.query import QueryError, metric_data
from lab.metrics.store import FILENAME, MetricStore

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def code_of(call, **kwargs) -> str:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"]


@pytest.fixture
def cw(served, monkeypatch):
    client, name, state, url = served
    import lab.usecases.metrics

    for fn in ("create_service", "delete_services"):
        monkeypatch.setattr(api, fn, lambda *a, **k: pytest.fail("a unit test reached the control plane"))
    # no kernel behind the paper lab: the samples below are the store's whole content
    monkeypatch.setattr(lab.usecases.metrics, "metrics_sample", lambda name: None)
    view = api.ec2_view(name)
    vpce = view.endpoint_plan("web-endpoint")["id"]
    svc_id = view.service_id(view.topo.endpoint_services[0])
    now = time.time()
    common = {"endpoint_type": "Interface", "service_name": view.service_name(view.topo.endpoint_services[0]),
              "vpce": vpce, "vpc_id": view.vpc_id("consumer")}
    bytes_ep = series(ENDPOINTS_NS, "BytesProcessed", **common)
    active = series(ENDPOINTS_NS, "ActiveConnections", **common)
    svc_new = series(SERVICES_NS, "NewConnections", service_id=svc_id, lb_arn="arn:x", vpce=vpce)
    store = MetricStore(state.dir / FILENAME)
    # running totals 0, 100, 350, 350 (+100, +250, +0) 10 s apart; the gauge 0, 2, 4, 0
    for k, (total, level) in enumerate([(0, 0), (100, 2), (350, 4), (350, 0)]):
        store.add(now - 40 + 10 * k, {bytes_ep: total, active: level, svc_new: total / 50})
    store.close()
    keys = {(k.account, k.user): k for k in api.ec2_credentials(name)}

    def make(account: str, secret: str | None = None, key_id: str | None = None):
        k = keys[(account, None)]
        return boto3.client("cloudwatch", endpoint_url=url, region_name="us-east-1",
                            aws_access_key_id=key_id or k.access_key_id,
                            aws_secret_access_key=secret or k.secret_access_key,
                            config=Config(retries={"max_attempts": 1}))

    return {"client": make, "now": now, "vpce": vpce, "bytes": bytes_ep, "active": active, "svc_new": svc_new,
            "ec2": client}


def test_boto3_speaks_rpc_v2_cbor_to_the_lab(cw):
    assert cw["client"]("consumer").meta.service_model.protocol == "smithy-rpc-v2-cbor"


def test_list_metrics_shows_each_account_its_own(cw):
    consumer, provider = cw["client"]("consumer"), cw["client"]("provider")
    mine = consumer.list_metrics(Namespace=ENDPOINTS_NS)["Metrics"]
    assert {m["MetricName"] for m in mine} == {"BytesProcessed", "ActiveConnections"}
    assert all({"Name": "VPC Endpoint Id", "Value": cw["vpce"]} in m["Dimensions"] for m in mine)
    assert consumer.list_metrics(Namespace=SERVICES_NS)["Metrics"] == []  # the provider's
    assert provider.list_metrics(Namespace=ENDPOINTS_NS)["Metrics"] == []  # the consumer's
    (svc,) = provider.list_metrics(Namespace=SERVICES_NS, MetricName="NewConnections")["Metrics"]
    assert svc == cw["svc_new"].to_dict()
    by_dim = consumer.list_metrics(Dimensions=[{"Name": "VPC Endpoint Id", "Value": "vpce-nope"}])["Metrics"]
    assert by_dim == []
    pages = list(consumer.get_paginator("list_metrics").paginate())
    assert sum(len(p["Metrics"]) for p in pages) == 2


def test_get_metric_data_sums_a_counter_and_averages_a_gauge(cw):
    consumer = cw["client"]("consumer")

    def query(qid, s, stat, period=60):
        return {"Id": qid, "MetricStat": {"Metric": s.to_dict() | {}, "Period": period, "Stat": stat}}

    def strip(s):
        d = s.to_dict()
        return {"Namespace": d["Namespace"], "MetricName": d["MetricName"], "Dimensions": d["Dimensions"]}

    got = consumer.get_metric_data(
        MetricDataQueries=[{"Id": "b", "MetricStat": {"Metric": strip(cw["bytes"]), "Period": 10, "Stat": "Sum"}},
                           {"Id": "total", "MetricStat": {"Metric": strip(cw["bytes"]), "Period": 3600, "Stat": "Sum"}},
                           {"Id": "peak", "MetricStat": {"Metric": strip(cw["active"]), "Period": 3600,
                                                          "Stat": "Maximum"}}],
        StartTime=cw["now"] - 35, EndTime=cw["now"] + 5, ScanBy="TimestampAscending")
    results = {r["Id"]: r for r in got["MetricDataResults"]}
    assert results["b"]["Values"] == [100.0, 250.0, 0.0] and results["b"]["StatusCode"] == "Complete"
    assert [t.timestamp() for t in results["b"]["Timestamps"]] == sorted(t.timestamp() for t in
                                                                         results["b"]["Timestamps"])
    assert sum(results["total"]["Values"]) == 350.0
    assert max(results["peak"]["Values"]) == 4.0
    assert results["b"]["Label"] == "BytesProcessed"


@pytest.mark.parametrize("change,code", [
    ({"Period": 7}, "InvalidParameterValue"),
    ({"Stat": "p99"}, "InvalidParameterValue"),
])
def test_get_metric_data_refuses_what_the_lab_cannot_answer(cw, change, code):
    metric = {k: v for k, v in cw["bytes"].to_dict().items()}
    stat = {"Metric": metric, "Period": 60, "Stat": "Sum", **change}
    assert code_of(cw["client"]("consumer").get_metric_data, MetricDataQueries=[{"Id": "a", "MetricStat": stat}],
                   StartTime=cw["now"] - 60, EndTime=cw["now"]) == code


def test_expressions_and_bad_ids_are_refused(cw):
    c = cw["client"]("consumer")
    assert code_of(c.get_metric_data, MetricDataQueries=[{"Id": "e", "Expression": "SUM(METRICS())"}],
                   StartTime=cw["now"] - 60, EndTime=cw["now"]) == "InvalidParameterValue"
    metric = cw["bytes"].to_dict()
    assert code_of(c.get_metric_data, MetricDataQueries=[{"Id": "Upper", "MetricStat": {
        "Metric": metric, "Period": 60, "Stat": "Sum"}}], StartTime=cw["now"] - 60, EndTime=cw["now"]) == \
        "InvalidParameterValue"


def test_signatures_are_verified_with_cloudwatchs_codes(cw):
    assert code_of(cw["client"]("consumer", secret="wrong" * 8).list_metrics) == "SignatureDoesNotMatch"
    assert code_of(cw["client"]("consumer", key_id="AKIAUNKNOWN000000000").list_metrics) == "InvalidClientTokenId"


def test_cbor_codec_round_trips_and_refuses_garbage():
    value = {"a": [1, -5, 2 ** 40, 1.5, "té", b"\x00\xff", True, False, None, {"x": {}}]}
    assert cbor.decode(cbor.encode(value)) == value
    assert cbor.decode(cbor.encode(cbor.Timestamp(12.5))) == 12.5
    assert cbor.decode(bytes([0xF9, 0x3C, 0x00])) == 1.0  # half float
    assert cbor.decode(bytes([0x9F, 0x01, 0x02, 0xFF])) == [1, 2]  # indefinite array
    assert math.isinf(cbor.decode(bytes([0xF9, 0x7C, 0x00])))
    for bad in (b"", b"\x83\x01", b"\x5a\xff\xff\xff\xff", b"\xff", b"\xa1\x01\x02", b"\xc2\x40", b"\x01\x02",
                b"\x81" * 100 + b"\x01", b"\x63\xff\xfe\xfd"):
        with pytest.raises(cbor.CborError):
            cbor.decode(bad)


def test_metric_data_is_pure_and_checks_its_window():
    s = series(ENDPOINTS_NS, "NewConnections", vpce="vpce-1")
    points = {s: [(0.0, 0.0), (10.0, 3.0), (20.0, 5.0)]}
    out = metric_data(points, {"StartTime": 0, "EndTime": 60, "MetricDataQueries": [
        {"Id": "n", "MetricStat": {"Metric": s.to_dict(), "Period": 60, "Stat": "SampleCount"}}]})
    assert out["MetricDataResults"][0]["Values"] == [2.0]
    with pytest.raises(QueryError):
        metric_data(points, {"StartTime": 60, "EndTime": 0, "MetricDataQueries": []})


def test_service_configuration_refusals(cw):
    ec2 = cw["ec2"]
    provider, consumer = ec2("provider"), ec2("consumer")
    (svc,) = provider.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]
    arn = svc["NetworkLoadBalancerArns"][0]
    # the NLB backs a service already: the transaction would refuse; here the paper lab's tripwire
    # proves the refusals below come before it
    assert code_of(provider.create_vpc_endpoint_service_configuration, NetworkLoadBalancerArns=[arn],
                   SupportedIpAddressTypes=["ipv6"]) == "InvalidParameterValue"
    assert code_of(consumer.create_vpc_endpoint_service_configuration, NetworkLoadBalancerArns=[arn]) == \
        "InvalidParameterValue"  # another account's NLB is unknown to the caller
    assert code_of(provider.create_vpc_endpoint_service_configuration,
                   NetworkLoadBalancerArns=[arn.replace("web-nlb", "no-nlb")]) == "InvalidParameterValue"
    assert code_of(provider.create_vpc_endpoint_service_configuration, NetworkLoadBalancerArns=[arn],
                   DryRun=True) == "DryRunOperation"
    assert code_of(provider.create_vpc_endpoint_service_configuration, GatewayLoadBalancerArns=[arn]) == \
        "InvalidParameterValue"
    out = provider.delete_vpc_endpoint_service_configurations(ServiceIds=[svc["ServiceId"], "vpce-svc-0000"])
    codes = {u["ResourceId"]: u["Error"]["Code"] for u in out["Unsuccessful"]}
    assert codes == {svc["ServiceId"]: "ExistingVpcEndpointConnections",
                     "vpce-svc-0000": "InvalidVpcEndpointService.NotFound"}


def test_the_aws_cli_reads_the_same_metrics(cw, served):
    """README's example: `aws cloudwatch list-metrics` (AWS CLI v1 from PyPI, the test extras)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    aws = Path(sys.executable).with_name("aws")
    if not aws.exists():
        pytest.skip("the AWS CLI is not installed in this venv (test extras)")
    _, name, _, url = served
    k = next(k for k in api.ec2_credentials(name) if k.account == "consumer" and not k.user)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": k.access_key_id, "AWS_SECRET_ACCESS_KEY": k.secret_access_key,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    done = subprocess.run([str(aws), "--endpoint-url", url, "--output", "json", "cloudwatch", "list-metrics",
                           "--namespace", ENDPOINTS_NS], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert {m["MetricName"] for m in json.loads(done.stdout)["Metrics"]} == {"BytesProcessed", "ActiveConnections"}
