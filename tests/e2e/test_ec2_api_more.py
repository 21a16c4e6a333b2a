"""The API's remaining parts on a real lab, with real boto3: a provider withdraws its service and
offers the NLB again by ARN (CreateVpcEndpointServiceConfiguration), a consumer's endpoint to the
new service carries traffic; a service with an endpoint answers ExistingVpcEndpointConnections;
ClientToken idempotency survives a restart of the API server; CloudWatch's GetMetricData finds
the bytes and connections sent, and a reset sent through the ENI shows in RstPacketsReceived and
RstPacketsSent. Traffic is checked independently of `lab` with `ip netns exec` + curl."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.config import Config

from lab import api as lifecycle

pytestmark = [pytest.mark.root, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

LAB = f"t-apim-{secrets.token_hex(2)}"
CLI = [sys.executable, "-m", "lab.cli.main"]
REPO = Path(__file__).resolve().parents[2]


def lab(*args: str) -> dict | list:
    done = subprocess.run([*CLI, *args, "--name", LAB], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"lab {' '.join(args)}: {done.stderr}"
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    raw = yaml.safe_load((REPO / "topologies" / "basic.yaml").read_text())
    raw["endpoints"] = []
    path = tmp_path_factory.mktemp("apimore") / "apimore.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    result = lifecycle.up(path, LAB)
    try:
        yield result.plan
    finally:
        lifecycle.down(LAB)


def start_server():
    proc = subprocess.Popen([*CLI, "api", "serve", "--name", LAB, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert " on http://127.0.0.1:" in line, (line, proc.poll())
    return proc, line.split(" on ")[1].split()[0]


def stop(proc) -> None:
    proc.terminate()  # the server this test started, by its own handle
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(plan):
    proc, url = start_server()
    state = {"proc": proc, "url": url}
    try:
        yield state
    finally:
        stop(state["proc"])


def clients(url: str, service: str = "ec2"):
    keys = {c["Account"]: c for c in lab("api", "credentials") if not c.get("UserName")}

    def make(account: str):
        k = keys[account]
        return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id=k["AccessKeyId"],
                            aws_secret_access_key=k["SecretAccessKey"], config=Config(retries={"max_attempts": 1}))
    return make


def netns(plan, instance: str) -> str:
    return next(i["Netns"] for i in plan.inventory["instances"] if i["Name"] == instance)


def curl(plan, url: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", netns(plan, "consumer-client"), "curl", "-s", "-m", "3", "-o",
                           "/dev/null", "-w", "%{size_download} %{size_request} %{size_header}", url],
                          capture_output=True, text=True, timeout=15)


def wait_for(predicate, seconds: float = 15.0, step: float = 0.3):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def test_a_service_withdrawn_and_created_again_by_arn_carries_traffic(plan, server):
    ec2 = clients(server["url"])
    provider, consumer = ec2("provider"), ec2("consumer")
    (old,) = provider.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]
    arn = old["NetworkLoadBalancerArns"][0]
    assert provider.delete_vpc_endpoint_service_configurations(ServiceIds=[old["ServiceId"]])["Unsuccessful"] == []
    assert provider.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"] == []
    assert lab("service", "list", "--format", "json")["ServiceConfigurations"] == []
    made = provider.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[arn], AcceptanceRequired=False, SupportedIpAddressTypes=["ipv4"], ClientToken="svc-1",
        TagSpecifications=[{"ResourceType": "vpc-endpoint-service",
                            "Tags": [{"Key": "Name", "Value": "web-again"}, {"Key": "team", "Value": "red"}]}])
    svc = made["ServiceConfiguration"]
    assert svc["AcceptanceRequired"] is False and svc["NetworkLoadBalancerArns"] == [arn]
    assert {"Key": "team", "Value": "red"} in svc["Tags"]
    assert [s["Lab"]["Name"] for s in lab("service", "list", "--format", "json")["ServiceConfigurations"]] == \
        ["web-again"]
    # retried with the same token: the same service, not a second one
    again = provider.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[arn], AcceptanceRequired=False, SupportedIpAddressTypes=["ipv4"], ClientToken="svc-1",
        TagSpecifications=[{"ResourceType": "vpc-endpoint-service",
                            "Tags": [{"Key": "Name", "Value": "web-again"}, {"Key": "team", "Value": "red"}]}])
    assert again["ServiceConfiguration"]["ServiceId"] == svc["ServiceId"]
    # the consumer may connect once allowed; its endpoint is available at once and carries traffic
    provider.modify_vpc_endpoint_service_permissions(ServiceId=svc["ServiceId"],
                                                     AddAllowedPrincipals=["arn:aws:iam::222222222222:root"])
    vpc = consumer.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in consumer.describe_subnets()["Subnets"]]
    ep = consumer.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=svc["ServiceName"],
                                      SubnetIds=subnets, ClientToken="ep-1")["VpcEndpoint"]
    assert ep["State"] == "available"
    regional = ep["DnsEntries"][0]["DnsName"]
    assert wait_for(lambda: curl(plan, f"http://{regional}/").returncode == 0), "no answer through the new service"
    # a service with an endpoint is not deleted (AWS: ExistingVpcEndpointConnections, in Unsuccessful)
    out = provider.delete_vpc_endpoint_service_configurations(ServiceIds=[svc["ServiceId"]])
    assert [u["Error"]["Code"] for u in out["Unsuccessful"]] == ["ExistingVpcEndpointConnections"]
    assert len(provider.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]) == 1
    done = subprocess.run([*CLI, "service", "delete", "web-again", "-a", "provider", "--name", LAB],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "has endpoint connections" in done.stderr


def test_client_token_survives_a_server_restart(plan, server):
    stop(server["proc"])
    server["proc"], server["url"] = start_server()
    consumer = clients(server["url"])("consumer")
    before = consumer.describe_vpc_endpoints()["VpcEndpoints"]
    (svc,) = clients(server["url"])("provider").describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]
    vpc = consumer.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in consumer.describe_subnets()["Subnets"]]
    retried = consumer.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=svc["ServiceName"],
                                           SubnetIds=subnets, ClientToken="ep-1")["VpcEndpoint"]
    assert [e["VpcEndpointId"] for e in before] == [retried["VpcEndpointId"]]
    assert len(consumer.describe_vpc_endpoints()["VpcEndpoints"]) == 1  # no second endpoint


def metric(cw, ns: str, name: str, dims: dict, start: float, stat: str = "Sum") -> float:
    got = cw.get_metric_data(MetricDataQueries=[{"Id": "m", "MetricStat": {
        "Metric": {"Namespace": ns, "MetricName": name, "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]},
        "Period": 3600, "Stat": stat}}], StartTime=start, EndTime=time.time() + 60)
    return sum(got["MetricDataResults"][0]["Values"])


def test_cloudwatch_counts_known_traffic_and_resets(plan, server):
    ec2, cw = clients(server["url"]), clients(server["url"], "cloudwatch")
    consumer, provider = ec2("consumer"), ec2("provider")
    (ep,) = consumer.describe_vpc_endpoints()["VpcEndpoints"]
    (svc,) = provider.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]
    enis = consumer.describe_network_interfaces(NetworkInterfaceIds=ep["NetworkInterfaceIds"])["NetworkInterfaces"]
    eni_a = next(e for e in enis if e["AvailabilityZone"] == "us-east-1a")
    vpce = ep["VpcEndpointId"]
    names = cw("consumer").list_metrics(Namespace="AWS/PrivateLinkEndpoints",
                                        Dimensions=[{"Name": "VPC Endpoint Id", "Value": vpce}])["Metrics"]
    assert {"BytesProcessed", "NewConnections", "RstPacketsReceived"} <= {m["MetricName"] for m in names}
    assert cw("provider").list_metrics(Namespace="AWS/PrivateLinkEndpoints")["Metrics"] == []
    dims = {"Endpoint Type": "Interface", "Service Name": svc["ServiceName"], "VPC Endpoint Id": vpce,
            "VPC Id": ep["VpcId"], "Subnet Id": eni_a["SubnetId"]}
    time.sleep(1.2)  # the next GetMetricData takes a fresh sample: the baseline
    start = time.time()
    base = {m: metric(cw("consumer"), "AWS/PrivateLinkEndpoints", m, dims, start - 3600)
            for m in ("BytesProcessed", "NewConnections", "RstPacketsReceived")}
    time.sleep(1.2)
    sent = 0
    for _ in range(10):
        done = curl(plan, f"http://{eni_a['PrivateIpAddress']}/")
        assert done.returncode == 0, done.stderr
        size_down, size_req, size_hdr = (int(x) for x in done.stdout.split())
        sent += size_down + size_req + size_hdr
    for _ in range(3):  # nobody listens on port 81 of the ENI: the node's kernel answers with a reset
        assert curl(plan, f"http://{eni_a['PrivateIpAddress']}:81/").returncode != 0
    time.sleep(1.2)
    after = {m: metric(cw("consumer"), "AWS/PrivateLinkEndpoints", m, dims, start - 3600) for m in base}
    assert after["NewConnections"] - base["NewConnections"] == 10
    grown = after["BytesProcessed"] - base["BytesProcessed"]
    assert abs(grown - sent) <= 0.01 * sent, (grown, sent)
    assert after["RstPacketsReceived"] - base["RstPacketsReceived"] == 3
    svc_dims = {"Service Id": svc["ServiceId"], "Load Balancer Arn": svc["NetworkLoadBalancerArns"][0],
                "VPC Endpoint Id": vpce}
    assert metric(cw("provider"), "AWS/PrivateLinkServices", "RstPacketsSent", svc_dims, start - 3600) >= 3
    assert metric(cw("consumer"), "AWS/PrivateLinkServices", "RstPacketsSent", svc_dims, start - 3600) == 0


def test_the_cli_withdraws_and_offers_the_service_as_the_api_does(plan, server):
    ec2 = clients(server["url"])
    consumer, provider = ec2("consumer"), ec2("provider")
    (ep,) = consumer.describe_vpc_endpoints()["VpcEndpoints"]
    assert consumer.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])["Unsuccessful"] == []
    gone = lab("service", "delete", "web-again", "-a", "provider", "--format", "json")
    assert gone["Unsuccessful"] == [] and len(gone["Deleted"]) == 1
    assert provider.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"] == []
    made = lab("service", "create", "-a", "provider", "--nlb", "web-nlb", "--service-name", "web-cli",
               "--no-acceptance-required", "--principal", "consumer", "--format", "json")["ServiceConfiguration"]
    (seen,) = provider.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]
    assert seen["ServiceId"] == made["ServiceId"] and seen["AcceptanceRequired"] is False
    vpc = consumer.describe_vpcs()["Vpcs"][0]["VpcId"]
    new = consumer.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=made["ServiceName"])
    regional = new["VpcEndpoint"]["DnsEntries"][0]["DnsName"]
    assert wait_for(lambda: curl(plan, f"http://{regional}/").returncode == 0), "no answer through web-cli"
