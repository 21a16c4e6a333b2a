"""The EC2 API against a paper lab (tests/unit/conftest.py), through a real boto3 client over
loopback HTTP: botocore's own parser reading every reply is the check that it has EC2's shapes;
the fields are compared with what the lab's control plane says (lab.api)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from botocore.exceptions import ClientError

from lab import api

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def code_of(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as err:
        call(*args, **kwargs)
    return err.value.response["Error"]["Code"]


def lab_endpoints(name: str, account_id: str) -> dict[str, dict]:
    view = api.ec2_view(name)
    out = {}
    for ep in view.topo.endpoints:
        item = api.ec2_describe_endpoint(view, ep)
        if item["OwnerId"] == account_id:
            out[item["VpcEndpointId"]] = item
    return out


def test_describe_vpc_endpoints_matches_the_control_plane(served):
    client, name, _, _ = served
    got = client("consumer").describe_vpc_endpoints()["VpcEndpoints"]
    want = lab_endpoints(name, "222222222222")
    assert sorted(e["VpcEndpointId"] for e in got) == sorted(want)
    for e in got:
        w = want[e["VpcEndpointId"]]
        for key in ("VpcEndpointType", "VpcId", "ServiceName", "State", "SubnetIds", "Groups", "DnsEntries",
                    "NetworkInterfaceIds", "PrivateDnsEnabled", "OwnerId", "Tags", "IpAddressType", "DnsOptions"):
            assert e[key] == w[key], key
    assert not client("provider").describe_vpc_endpoints()["VpcEndpoints"]  # the provider owns none


def test_filters_ids_and_pagination(served):
    client, _, _, _ = served
    con = client("consumer")
    pending = con.describe_vpc_endpoints(Filters=[{"Name": "vpc-endpoint-state", "Values": ["pendingAcceptance"]}])
    assert {e["State"] for e in pending["VpcEndpoints"]} == {"pendingAcceptance"} and len(pending["VpcEndpoints"]) == 4  # web-endpoint, extra-1,3,5
    named = con.describe_vpc_endpoints(Filters=[{"Name": "tag:Name", "Values": ["extra-*"]},
                                                {"Name": "vpc-endpoint-state", "Values": ["available"]}])
    assert sorted(t["Value"] for e in named["VpcEndpoints"] for t in e["Tags"]) == ["extra-0", "extra-2", "extra-4"]
    one = named["VpcEndpoints"][0]["VpcEndpointId"]
    assert [e["VpcEndpointId"] for e in con.describe_vpc_endpoints(VpcEndpointIds=[one])["VpcEndpoints"]] == [one]
    pages = list(con.get_paginator("describe_vpc_endpoints").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["VpcEndpoints"]) for p in pages] == [2, 2, 2, 1]
    assert len({e["VpcEndpointId"] for p in pages for e in p["VpcEndpoints"]}) == 7


@pytest.mark.parametrize("kwargs,code", [
    ({"VpcEndpointIds": ["vpce-0123456789abcdef0"]}, "InvalidVpcEndpointId.NotFound"),
    ({"VpcEndpointIds": ["sg-0123"]}, "InvalidVpcEndpointId.Malformed"),
    ({"Filters": [{"Name": "no-such-filter", "Values": ["x"]}]}, "InvalidParameterValue"),
    ({"Filters": [{"Name": "vpc-id", "Values": []}]}, "InvalidParameterValue"),
    ({"MaxResults": 5000}, "InvalidParameterValue"),
    ({"NextToken": "garbage!"}, "InvalidPaginationToken"),
])
def test_describe_errors(served, kwargs, code):
    client, _, _, _ = served
    assert code_of(client("consumer").describe_vpc_endpoints, **kwargs) == code


def test_ids_with_max_results_is_an_invalid_combination(served):
    client, name, _, _ = served
    some = next(iter(lab_endpoints(name, "222222222222")))
    assert code_of(client("consumer").describe_vpc_endpoints, VpcEndpointIds=[some], MaxResults=5) == \
        "InvalidParameterCombination"


def test_discovery_calls(served):
    client, name, _, _ = served
    con = client("consumer")
    view = api.ec2_view(name)
    vpcs = con.describe_vpcs()["Vpcs"]
    assert [v["VpcId"] for v in vpcs] == [view.vpc_id("consumer")] and vpcs[0]["CidrBlock"] == "10.0.0.0/16"
    subnets = con.describe_subnets(Filters=[{"Name": "availability-zone", "Values": ["us-east-1b"]}])["Subnets"]
    assert [(s["CidrBlock"], s["AvailabilityZoneId"]) for s in subnets] == [("10.0.2.0/24", "use1-az2")]
    assert code_of(con.describe_subnets, SubnetIds=["subnet-0000000000000000"]) == "InvalidSubnetID.NotFound"
    zones = con.describe_availability_zones()["AvailabilityZones"]
    assert [(z["ZoneName"], z["ZoneId"]) for z in zones] == [("us-east-1a", "use1-az1"), ("us-east-1b", "use1-az2")]
    groups = con.describe_security_groups()["SecurityGroups"]
    assert [g["GroupName"] for g in groups] == ["default"] and groups[0]["IpPermissions"][0]["FromPort"] == 1
    enis = con.describe_network_interfaces()["NetworkInterfaces"]
    live = [e for e in lab_endpoints(name, "222222222222").values() if e["State"] == "available"]
    assert sorted(n["NetworkInterfaceId"] for n in enis) == sorted(x for e in live for x in e["NetworkInterfaceIds"])
    ips = {x["NetworkInterfaceId"]: x["PrivateIpAddress"] for e in live for x in e["Lab"]["Enis"]}
    assert all(n["PrivateIpAddress"] == ips[n["NetworkInterfaceId"]] and n["InterfaceType"] == "vpc_endpoint"
               for n in enis)


def test_services_as_provider_and_consumer(served):
    client, name, _, _ = served
    prov, con = client("provider"), client("consumer")
    configs = prov.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]
    assert len(configs) == 1 and configs[0]["AcceptanceRequired"] is True
    assert configs[0]["NetworkLoadBalancerArns"][0].startswith("arn:aws:elasticloadbalancing:us-east-1:111111111111:")
    assert not con.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]
    seen = con.describe_vpc_endpoint_services()
    assert seen["ServiceNames"] == [configs[0]["ServiceName"]] and seen["ServiceDetails"][0]["Owner"] == "111111111111"
    assert code_of(con.describe_vpc_endpoint_services, ServiceNames=["com.amazonaws.vpce.us-east-1.vpce-svc-0nope"]) \
        == "InvalidServiceName"
    perms = prov.describe_vpc_endpoint_service_permissions(ServiceId=configs[0]["ServiceId"])["AllowedPrincipals"]
    assert [(p["Principal"], p["PrincipalType"]) for p in perms] == [("arn:aws:iam::222222222222:root", "Account")]
    conns = prov.describe_vpc_endpoint_connections()["VpcEndpointConnections"]
    assert len(conns) == 7 and {c["VpcEndpointOwner"] for c in conns} == {"222222222222"}
    assert not con.describe_vpc_endpoint_connections()["VpcEndpointConnections"]


def test_cross_account_refusals_use_aws_codes(served):
    client, name, _, _ = served
    prov, con = client("provider"), client("consumer")
    view = api.ec2_view(name)
    svc = view.topo.endpoint_services[0]
    some = next(iter(lab_endpoints(name, "222222222222")))
    # a consumer cannot accept its own connection: it does not own (so cannot see) the service
    assert code_of(con.accept_vpc_endpoint_connections, ServiceId=view.service_id(svc), VpcEndpointIds=[some]) == \
        "InvalidVpcEndpointServiceId.NotFound"
    # a provider cannot delete a consumer's endpoint: it is not the provider's to see
    out = prov.delete_vpc_endpoints(VpcEndpointIds=[some])["Unsuccessful"]
    assert [(u["ResourceId"], u["Error"]["Code"]) for u in out] == [(some, "InvalidVpcEndpoint.NotFound")]
    # nobody creates in another account's VPC
    assert code_of(prov.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=view.vpc_id("consumer"),
                   ServiceName=view.service_name(svc)) == "InvalidVpcID.NotFound"
    assert code_of(con.modify_vpc_endpoint_service_permissions, ServiceId=view.service_id(svc),
                   AddAllowedPrincipals=["*"]) == "InvalidVpcEndpointServiceId.NotFound"


def test_create_validation_errors(served):
    client, name, state, _ = served
    con = client("consumer")
    view = api.ec2_view(name)
    vpc, svc = view.vpc_id("consumer"), view.service_name(view.topo.endpoint_services[0])
    subnets = {s["Name"]: s["SubnetId"] for s in view.plan["inventory"]["subnets"]}
    cases = [
        (dict(VpcId=vpc, ServiceName=svc), "InvalidParameterValue"),  # EC2's default type is Gateway
        (dict(VpcEndpointType="Interface", VpcId=vpc, ServiceName=svc + "x"), "InvalidServiceName"),
        (dict(VpcEndpointType="Interface", VpcId="vpc-0000000000000000", ServiceName=svc), "InvalidVpcID.NotFound"),
        (dict(VpcEndpointType="Interface", VpcId=vpc, ServiceName=svc, SubnetIds=["subnet-0nope"]),
         "InvalidSubnetID.NotFound"),
        (dict(VpcEndpointType="Interface", VpcId=vpc, ServiceName=svc, SubnetIds=[subnets["provider-a"]]),
         "InvalidSubnetID.NotFound"),  # a subnet of another VPC
        (dict(VpcEndpointType="Interface", VpcId=vpc, ServiceName=svc, SecurityGroupIds=["sg-0nope"]),
         "InvalidSecurityGroupID.NotFound"),
        (dict(VpcEndpointType="Interface", VpcId=vpc, ServiceName=svc, RouteTableIds=["rtb-0123"]),
         "InvalidParameterCombination"),
        (dict(VpcEndpointType="Interface", VpcId=vpc), "MissingParameter"),
    ]
    for kwargs, code in cases:
        assert code_of(con.create_vpc_endpoint, **kwargs) == code, kwargs


def digest(state) -> str:
    return hashlib.sha256(b"".join((state.dir / f).read_bytes() for f in ("topology.yaml", "plan.json"))).hexdigest()


def test_dry_run_answers_without_changing_anything(served):
    client, name, state, _ = served
    view = api.ec2_view(name)
    before = digest(state)
    con = client("consumer")
    assert code_of(con.describe_vpcs, DryRun=True) == "DryRunOperation"
    # the root may create: DryRunOperation, after every check, and the tripwired control plane is not reached
    assert code_of(con.create_vpc_endpoint, DryRun=True, VpcEndpointType="Interface", VpcId=view.vpc_id("consumer"),
                   ServiceName=view.service_name(view.topo.endpoint_services[0])) == "DryRunOperation"
    svc_id = view.service_id(view.topo.endpoint_services[0])
    some = next(iter(lab_endpoints(name, "222222222222")))
    assert code_of(client("provider").reject_vpc_endpoint_connections, DryRun=True, ServiceId=svc_id,
                   VpcEndpointIds=[some]) == "DryRunOperation"
    assert code_of(client("consumer", "reader").create_vpc_endpoint, DryRun=True, VpcEndpointType="Interface",
                   VpcId=view.vpc_id("consumer"), ServiceName=view.service_name(view.topo.endpoint_services[0])) \
        == "UnauthorizedOperation"
    assert digest(state) == before


def test_identity_policies(served):
    client, name, state, _ = served
    view = api.ec2_view(name)
    create = dict(VpcEndpointType="Interface", VpcId=view.vpc_id("consumer"),
                  ServiceName=view.service_name(view.topo.endpoint_services[0]))
    reader, scoped = client("consumer", "reader"), client("consumer", "scoped")
    assert reader.describe_vpc_endpoints()["VpcEndpoints"]  # Describe* allowed
    with pytest.raises(ClientError) as err:
        reader.create_vpc_endpoint(**create)
    assert err.value.response["Error"]["Code"] == "UnauthorizedOperation"
    assert "arn:aws:iam::222222222222:user/reader" in err.value.response["Error"]["Message"]
    # scoped may create only to services owned by 999999999999: this one's owner is 111111111111
    assert code_of(scoped.create_vpc_endpoint, **create) == "UnauthorizedOperation"
    assert scoped.describe_subnets()["Subnets"]
    assert code_of(scoped.describe_security_groups) == "UnauthorizedOperation"  # explicit deny over the allow
    assert client("consumer").describe_security_groups()["SecurityGroups"]  # the root has no policies


def test_authentication(served, monkeypatch):
    client, name, _, url = served
    assert code_of(client("consumer", secret="wrong" * 8).describe_vpcs) == "AuthFailure"
    import boto3

    stranger = boto3.client("ec2", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIAUNKNOWNUNKNOWN00",
                            aws_secret_access_key="x" * 40)
    assert code_of(stranger.describe_vpcs) == "AuthFailure"
    other_region = boto3.client("ec2", endpoint_url=url, region_name="eu-west-1",
                                aws_access_key_id=api.ec2_credentials(name)[0].access_key_id,
                                aws_secret_access_key=api.ec2_credentials(name)[0].secret_access_key)
    assert code_of(other_region.describe_vpcs) == "AuthFailure"


def test_stale_dates_are_request_expired(paper_lab):
    """The server's clock 20 minutes ahead of the client's: EC2's RequestExpired (its limit is 15)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from werkzeug.test import Client

    from lab.awsapi.server import Ec2Api

    name, _ = paper_lab
    key = api.ec2_credentials(name)[1]
    for ahead_min, code in ((20, "RequestExpired"), (-20, "RequestExpired"), (10, None)):
        app = Ec2Api(name, clock=lambda m=ahead_min: dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=m))
        req = AWSRequest(method="POST", url="http://localhost/", data=b"Action=DescribeVpcs&Version=2016-11-15",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "ec2", "us-east-1").add_auth(req)
        reply = Client(app).post("/", data=req.body, headers=dict(req.headers.items()))
        if code is None:
            assert reply.status_code == 200, reply.get_data(as_text=True)
        else:
            assert f"<Code>{code}</Code>" in reply.get_data(as_text=True)
