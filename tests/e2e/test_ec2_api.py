"""AWS's own tools drive the lab: boto3 and the AWS CLI, against `lab api serve`, run the whole
PrivateLink workflow on the real data plane. A request from a consumer instance to the endpoint's
regional DNS name reaches the target, whose PPv2 header names that endpoint; reject stops it.
Checked independently of `lab` with `ip netns exec` + curl. One lab and one server for the module."""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import json
import os
import random
import secrets
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import audit  # noqa: E402  (tests/audit.py: asks the system, not the lab)

from lab import api as lifecycle  # noqa: E402
from lab.state.store import LabState  # noqa: E402

pytestmark = [pytest.mark.root, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

LAB = f"t-ec2-{secrets.token_hex(2)}"
CLI = [sys.executable, "-m", "lab.cli.main"]
AWS = str(Path(sys.executable).with_name("aws"))
REPO = Path(__file__).resolve().parents[2]


EVENTS_FILE = Path(f"/tmp/{LAB}-sns-events.jsonl")  # written by the topic's subscriber (a host command)


def topology() -> dict:
    raw = yaml.safe_load((REPO / "topologies" / "basic.yaml").read_text())
    raw["sns_topics"] = [{"name": "endpoint-events", "account": "provider",
                          "subscribers": [{"command": ["sh", "-c", f"cat >> {EVENTS_FILE}; echo >> {EVENTS_FILE}"]}]}]
    raw["endpoint_services"][0]["acceptance_required"] = True
    raw["endpoints"] = []
    consumer = next(v for v in raw["vpcs"] if v["name"] == "consumer")
    consumer["security_groups"] = [{"name": "only-a", "description": "HTTP from consumer-a only",
                                    "ingress": [{"cidr": "10.0.1.0/24", "port": 80}]}]
    raw["iam"] = [{"account": "consumer", "user": "limited", "policies": [{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
        {"Effect": "Allow", "Action": "ec2:CreateVpcEndpoint", "Resource": "*",
         "Condition": {"StringEquals": {"ec2:VpceServiceOwner": "333333333333"}}}]}]}]
    return raw


def lab(*args: str) -> dict | list:
    done = subprocess.run([*CLI, *args, "--name", LAB], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"lab {' '.join(args)}: {done.stderr}"
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    path = tmp_path_factory.mktemp("ec2api") / "ec2api.yaml"
    path.write_text(yaml.safe_dump(topology(), sort_keys=False))
    result = lifecycle.up(path, LAB)
    try:
        yield result.plan
    finally:
        lifecycle.down(LAB)
        EVENTS_FILE.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def server(plan):
    proc = subprocess.Popen([*CLI, "api", "serve", "--name", LAB, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert " on http://127.0.0.1:" in line, (line, proc.poll())
        yield {"url": line.split(" on ")[1].split()[0], "proc": proc}
    finally:
        proc.terminate()  # the server this fixture started, by its own handle
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def keys(server):
    return {(c["Account"], c.get("UserName")): c for c in lab("api", "credentials")}


@pytest.fixture(scope="module")
def client(server, keys):
    def make(account: str, user: str | None = None):
        k = keys[(account, user)]
        return boto3.client("ec2", endpoint_url=server["url"], region_name="us-east-1",
                            aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"],
                            config=Config(retries={"max_attempts": 1}))
    return make


def netns(plan, instance: str) -> str:
    return next(i["Netns"] for i in plan.inventory["instances"] if i["Name"] == instance)


def curl(plan, name: str, client: str = "consumer-client") -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", netns(plan, client), "curl", "-s", "-m", "3",
                           f"http://{name}/"], capture_output=True, text=True, timeout=15)


def wait_for(predicate, seconds: float = 10.0, step: float = 0.2):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def service_of(provider) -> dict:
    (svc,) = provider.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]
    return svc


def test_the_workflow_through_boto3(plan, client):
    consumer, provider = client("consumer"), client("provider")
    svc = service_of(provider)
    vpc = consumer.describe_vpcs()["Vpcs"][0]
    subnets = {s["SubnetId"]: s for s in consumer.describe_subnets()["Subnets"]}
    ep = consumer.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc["VpcId"], ServiceName=svc["ServiceName"],
                                      SubnetIds=list(subnets), ClientToken="wf-1",
                                      TagSpecifications=[{"ResourceType": "vpc-endpoint",
                                                          "Tags": [{"Key": "team", "Value": "blue"}]}])["VpcEndpoint"]
    vpce = ep["VpcEndpointId"]
    assert ep["State"] == "pendingAcceptance" and sorted(ep["SubnetIds"]) == sorted(subnets)
    assert {"Key": "team", "Value": "blue"} in ep["Tags"]
    shown = lab("endpoint", "show", vpce, "--format", "json")
    for eni in shown["Lab"]["Enis"]:  # each ENI's address is drawn from its subnet
        assert ipaddress.ip_address(eni["PrivateIpAddress"]) in ipaddress.ip_network(subnets[eni["SubnetId"]]["CidrBlock"])
    # lab endpoint list and DescribeVpcEndpoints agree
    listed = {e["VpcEndpointId"]: e["State"] for e in lab("endpoint", "list", "--format", "json")["VpcEndpoints"]}
    described = {e["VpcEndpointId"]: e["State"] for e in consumer.describe_vpc_endpoints()["VpcEndpoints"]}
    assert listed == described == {vpce: "pendingAcceptance"}
    # the provider sees and accepts the connection
    conns = provider.describe_vpc_endpoint_connections(Filters=[{"Name": "vpc-endpoint-state",
                                                                 "Values": ["pendingAcceptance"]}])
    assert [c["VpcEndpointId"] for c in conns["VpcEndpointConnections"]] == [vpce]
    assert provider.accept_vpc_endpoint_connections(ServiceId=svc["ServiceId"], VpcEndpointIds=[vpce])["Unsuccessful"] == []
    (now,) = consumer.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"]
    assert now["State"] == "available" and len(now["NetworkInterfaceIds"]) == 2
    enis = consumer.describe_network_interfaces(NetworkInterfaceIds=now["NetworkInterfaceIds"])["NetworkInterfaces"]
    assert {e["SubnetId"] for e in enis} == set(subnets)
    # traffic: consumer instance -> the regional DNS name -> the target, whose PPv2 names this endpoint
    regional = now["DnsEntries"][0]["DnsName"]
    assert regional.startswith(vpce)
    done = wait_for(lambda: (r := curl(plan, regional)).returncode == 0 and r)
    assert done, f"no answer from {regional}"
    assert json.loads(done.stdout)["vpce_id"] == vpce
    # the provider rejects: traffic stops
    assert provider.reject_vpc_endpoint_connections(ServiceId=svc["ServiceId"], VpcEndpointIds=[vpce])["Unsuccessful"] == []
    assert consumer.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]["State"] == "rejected"
    assert curl(plan, regional).returncode != 0
    # the consumer deletes
    assert consumer.delete_vpc_endpoints(VpcEndpointIds=[vpce])["Unsuccessful"] == []
    assert consumer.describe_vpc_endpoints()["VpcEndpoints"] == []
    assert lab("endpoint", "list", "--format", "json")["VpcEndpoints"] == []
    with pytest.raises(ClientError) as err:
        consumer.describe_vpc_endpoints(VpcEndpointIds=[vpce])
    assert err.value.response["Error"]["Code"] == "InvalidVpcEndpointId.NotFound"


def aws(keys, server, account: str, *args: str) -> dict:
    k = keys[(account, None)]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": k["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": k["SecretAccessKey"],
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    done = subprocess.run([AWS, "--endpoint-url", server["url"], "--output", "json", "ec2", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"aws ec2 {' '.join(args)}: {done.stderr}"
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_the_workflow_through_the_aws_cli(plan, server, keys):
    svc = aws(keys, server, "provider", "describe-vpc-endpoint-service-configurations")["ServiceConfigurations"][0]
    vpc = aws(keys, server, "consumer", "describe-vpcs")["Vpcs"][0]["VpcId"]
    ep = aws(keys, server, "consumer", "create-vpc-endpoint", "--vpc-endpoint-type", "Interface", "--vpc-id", vpc,
             "--service-name", svc["ServiceName"])["VpcEndpoint"]
    vpce = ep["VpcEndpointId"]
    assert ep["State"] == "pendingAcceptance"
    aws(keys, server, "provider", "accept-vpc-endpoint-connections", "--service-id", svc["ServiceId"],
        "--vpc-endpoint-ids", vpce)
    now = aws(keys, server, "consumer", "describe-vpc-endpoints", "--vpc-endpoint-ids", vpce)["VpcEndpoints"][0]
    assert now["State"] == "available"
    done = wait_for(lambda: (r := curl(plan, now["DnsEntries"][0]["DnsName"])).returncode == 0 and r)
    assert done and json.loads(done.stdout)["vpce_id"] == vpce
    aws(keys, server, "provider", "reject-vpc-endpoint-connections", "--service-id", svc["ServiceId"],
        "--vpc-endpoint-ids", vpce)
    assert curl(plan, now["DnsEntries"][0]["DnsName"]).returncode != 0
    out = aws(keys, server, "consumer", "delete-vpc-endpoints", "--vpc-endpoint-ids", vpce)
    assert out["Unsuccessful"] == []
    assert aws(keys, server, "consumer", "describe-vpc-endpoints")["VpcEndpoints"] == []


def code(call, **kwargs) -> str:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"]


def test_negative_cases_over_http(plan, client, server, keys):
    consumer, provider, limited = client("consumer"), client("provider"), client("consumer", "limited")
    svc = service_of(provider)
    vpc = consumer.describe_vpcs()["Vpcs"][0]["VpcId"]
    create = dict(VpcEndpointType="Interface", VpcId=vpc, ServiceName=svc["ServiceName"])
    bad = boto3.client("ec2", endpoint_url=server["url"], region_name="us-east-1",
                       aws_access_key_id=keys[("consumer", None)]["AccessKeyId"], aws_secret_access_key="0" * 40)
    assert code(bad.describe_vpcs) == "AuthFailure"
    assert code(limited.create_vpc_endpoint, **create) == "UnauthorizedOperation"  # policy: other owner only
    assert code(limited.create_vpc_endpoint, DryRun=True, **create) == "UnauthorizedOperation"
    assert code(consumer.create_vpc_endpoint, DryRun=True, **create) == "DryRunOperation"
    assert code(provider.create_vpc_endpoint, **{**create}) == "InvalidVpcID.NotFound"  # not the provider's VPC
    assert code(consumer.describe_vpc_endpoints, VpcEndpointIds=["vpce-0123456789abcdef0"]) == \
        "InvalidVpcEndpointId.NotFound"
    assert code(consumer.describe_vpc_endpoints, Filters=[{"Name": "colour", "Values": ["x"]}]) == "InvalidParameterValue"
    assert code(consumer.create_vpc_endpoint, RouteTableIds=["rtb-0abc"], **create) == "InvalidParameterCombination"
    assert consumer.describe_vpc_endpoints()["VpcEndpoints"] == []  # nothing was created by any of these


def topology_hash() -> str:
    return hashlib.sha256(LabState(LAB).topology_file.read_bytes()).hexdigest()


def test_malformed_requests_over_real_http_change_nothing(plan, server):
    before, listed = topology_hash(), lab("endpoint", "list", "--format", "json")
    owned = audit.residue(LAB)  # namespaces, links, containers, processes, files of the lab, from the system
    host, port = server["url"].removeprefix("http://").split(":")
    rng = random.Random(14)
    for n in range(300):
        body = rng.choice([b"", b"Action=DescribeVpcs", b"Action=CreateVpcEndpoint&Version=2016-11-15&VpcId=vpc-1",
                           bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))), b"%FF%FE=\xff",
                           b"Action=" + b"A" * 100_000])
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if rng.random() < 0.5:
            headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/ec2/aws4_request, " \
                                       "SignedHeaders=host, Signature=" + "ab" * 32
        conn.request(rng.choice(["POST", "POST", "GET", "PUT"]), "/", body=body, headers=headers)
        reply = conn.getresponse()
        text = reply.read().decode()
        conn.close()
        assert reply.status in (400, 401, 403, 413) and "<Errors><Error><Code>" in text, (n, reply.status, text[:300])
        assert "InternalError" not in text
    assert server["proc"].poll() is None  # still serving
    assert topology_hash() == before and lab("endpoint", "list", "--format", "json") == listed
    assert audit.residue(LAB) == owned


def test_modify_vpc_endpoint_changes_enis_and_groups_live(plan, client):
    consumer, provider = client("consumer"), client("provider")
    svc = service_of(provider)
    vpc = consumer.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = {s["AvailabilityZone"]: s["SubnetId"] for s in consumer.describe_subnets()["Subnets"]}
    vpce = consumer.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=svc["ServiceName"],
                                        SubnetIds=[subnets["us-east-1a"]])["VpcEndpoint"]["VpcEndpointId"]
    try:
        provider.accept_vpc_endpoint_connections(ServiceId=svc["ServiceId"], VpcEndpointIds=[vpce])
        assert consumer.modify_vpc_endpoint(VpcEndpointId=vpce, AddSubnetIds=[subnets["us-east-1b"]])["Return"]
        enis = consumer.describe_network_interfaces(Filters=[{"Name": "description", "Values": [f"*{vpce}"]}])
        by_subnet = {n["SubnetId"]: n["PrivateIpAddress"] for n in enis["NetworkInterfaces"]}
        assert set(by_subnet) == set(subnets.values())
        new_ip = by_subnet[subnets["us-east-1b"]]
        answer = wait_for(lambda: (r := curl(plan, new_ip, "consumer-client-b")).returncode == 0 and r)
        assert answer and json.loads(answer.stdout)["vpce_id"] == vpce  # the added ENI carries traffic
        groups = {g["GroupName"]: g["GroupId"] for g in consumer.describe_security_groups()["SecurityGroups"]}
        (old,) = consumer.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]["Groups"]
        consumer.modify_vpc_endpoint(VpcEndpointId=vpce, AddSecurityGroupIds=[groups["only-a"]],
                                     RemoveSecurityGroupIds=[old["GroupId"]])
        now = consumer.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]
        assert [g["GroupName"] for g in now["Groups"]] == ["only-a"]
        # only-a admits consumer-a (10.0.1.0/24): consumer-client-b (10.0.2.20) is now refused
        assert wait_for(lambda: curl(plan, new_ip, "consumer-client-b").returncode != 0, seconds=5)
        assert curl(plan, new_ip, "consumer-client").returncode == 0
        consumer.modify_vpc_endpoint(VpcEndpointId=vpce, RemoveSubnetIds=[subnets["us-east-1a"]])
        left = consumer.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]["SubnetIds"]
        assert left == [subnets["us-east-1b"]]
        assert code(consumer.modify_vpc_endpoint, VpcEndpointId=vpce, RemoveSubnetIds=[subnets["us-east-1b"]]) == \
            "InvalidParameterValue"  # an interface endpoint keeps at least one subnet
    finally:
        consumer.delete_vpc_endpoints(VpcEndpointIds=[vpce])


def test_requiring_acceptance_later_keeps_existing_connections(tmp_path):
    """ModifyVpcEndpointServiceConfiguration AcceptanceRequired=true applies to new endpoints only (as on
    AWS): the default lab's web-endpoint (state unset in its file) stays available and keeps answering.
    Before the fix, it became pendingAcceptance and its traffic was cut."""
    from lab.privatelink import control

    name = f"t-acc-{secrets.token_hex(2)}"
    up = lifecycle.up("basic", name)
    try:
        (ep,) = up.plan.endpoints
        ns = next(i["Netns"] for i in up.plan.inventory["instances"] if i["Name"] == "consumer-client")
        control.set_acceptance(name, "provider", "web-service", True)
        listed = json.loads(subprocess.run([*CLI, "endpoint", "list", "--name", name, "--format", "json"],
                                           capture_output=True, text=True, check=True).stdout)["VpcEndpoints"]
        assert [(e["VpcEndpointId"], e["State"]) for e in listed] == [(ep.id, "available")]
        done = subprocess.run(["ip", "netns", "exec", ns, "curl", "-s", "-m", "3", f"http://{ep.enis[0].ip}/"],
                              capture_output=True, text=True, timeout=15)
        assert done.returncode == 0 and json.loads(done.stdout)["vpce_id"] == ep.id
    finally:
        lifecycle.down(name)


def delivered() -> list[dict]:
    if not EVENTS_FILE.exists():
        return []
    return [json.loads(line) for line in EVENTS_FILE.read_text().splitlines() if line.strip()]


def test_connection_notifications_to_a_declared_sns_topic(plan, client):
    consumer, provider = client("consumer"), client("provider")
    svc = service_of(provider)
    arn = "arn:aws:sns:us-east-1:111111111111:endpoint-events"
    assert code(consumer.create_vpc_endpoint_connection_notification, ServiceId=svc["ServiceId"],
                ConnectionNotificationArn=arn, ConnectionEvents=["Connect"]) == "InvalidVpcEndpointServiceId.NotFound"
    assert code(provider.create_vpc_endpoint_connection_notification, ServiceId=svc["ServiceId"],
                ConnectionNotificationArn=arn.replace("endpoint-events", "nope"), ConnectionEvents=["Connect"]) == \
        "InvalidParameter"
    made = provider.create_vpc_endpoint_connection_notification(
        ServiceId=svc["ServiceId"], ConnectionNotificationArn=arn, ConnectionEvents=["Connect", "Accept"])
    nfn = made["ConnectionNotification"]["ConnectionNotificationId"]
    listed = provider.describe_vpc_endpoint_connection_notifications()["ConnectionNotificationSet"]
    assert [(n["ConnectionNotificationId"], n["ConnectionNotificationArn"], sorted(n["ConnectionEvents"]))
            for n in listed] == [(nfn, arn, ["Accept", "Connect"])]
    start = len(delivered())
    vpc = consumer.describe_vpcs()["Vpcs"][0]["VpcId"]
    vpce = consumer.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc,
                                        ServiceName=svc["ServiceName"])["VpcEndpoint"]["VpcEndpointId"]
    try:
        provider.accept_vpc_endpoint_connections(ServiceId=svc["ServiceId"], VpcEndpointIds=[vpce])
        got = [(e["ConnectionEvent"], e["VpcEndpointId"], e["VpcEndpointState"]) for e in delivered()[start:]]
        assert got == [("Connect", vpce, "pendingAcceptance"), ("Accept", vpce, "available")]
        provider.modify_vpc_endpoint_connection_notification(ConnectionNotificationId=nfn, ConnectionEvents=["Reject"])
        provider.reject_vpc_endpoint_connections(ServiceId=svc["ServiceId"], VpcEndpointIds=[vpce])
        assert [e["ConnectionEvent"] for e in delivered()[start:]] == ["Connect", "Accept", "Reject"]
        assert provider.delete_vpc_endpoint_connection_notifications(ConnectionNotificationIds=[nfn])["Unsuccessful"] == []
        assert provider.describe_vpc_endpoint_connection_notifications()["ConnectionNotificationSet"] == []
    finally:
        consumer.delete_vpc_endpoints(VpcEndpointIds=[vpce])
    assert [e["ConnectionEvent"] for e in delivered()[start:]] == ["Connect", "Accept", "Reject"]  # none after delete
