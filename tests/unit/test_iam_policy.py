"""The IAM policy evaluator (lab.iam.policy): AWS's grammar and evaluation logic, without a lab."""

from __future__ import annotations

import pytest

from lab.iam.policy import PolicyError, Request, check, decide

SVC = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
EP_ARN = "arn:aws:ec2:us-east-1:222222222222:vpc-endpoint/*"


def doc(*statements) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action="*", resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action="*", resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def create(svc=SVC, owner="111111111111", resources=(EP_ARN,)) -> Request:
    return Request("ec2:CreateVpcEndpoint", resources, {"ec2:VpceServiceName": svc, "ec2:VpceServiceOwner": owner})


def test_no_policies_is_the_root_which_may_do_anything():
    assert decide(None, create()) == "Allow"


def test_policies_that_match_nothing_deny_implicitly():
    assert decide([doc(allow("ec2:Describe*"))], create()) == "ImplicitDeny"
    assert decide([], create()) == "ImplicitDeny"  # declared, but empty: nothing is allowed


@pytest.mark.parametrize("action,expected", [
    ("ec2:CreateVpcEndpoint", "Allow"), ("ec2:createvpcendpoint", "Allow"),  # actions are case-insensitive
    ("ec2:Create*", "Allow"), ("ec2:*", "Allow"), ("*", "Allow"), ("ec2:CreateVpcEndpoin?", "Allow"),
    ("ec2:Describe*", "ImplicitDeny"), ("ec2:CreateVpcEndpoint?", "ImplicitDeny"), ("s3:*", "ImplicitDeny"),
])
def test_action_wildcards(action, expected):
    assert decide([doc(allow(action))], create()) == expected


def test_explicit_deny_wins_over_any_allow_in_any_policy():
    assert decide([doc(allow()), doc(deny("ec2:CreateVpcEndpoint"))], create()) == "ExplicitDeny"
    assert decide([doc(deny("ec2:Delete*"), allow())], create()) == "Allow"


def test_resource_arns_with_wildcards_and_every_resource_must_be_allowed():
    vpc = "arn:aws:ec2:us-east-1:222222222222:vpc/vpc-0aaa"
    req = create(resources=(EP_ARN, vpc))
    assert decide([doc(allow(resource="arn:aws:ec2:us-east-1:222222222222:*"))], req) == "Allow"
    assert decide([doc(allow(resource=EP_ARN))], req) == "ImplicitDeny"  # the VPC is not allowed
    assert decide([doc(allow(resource=[EP_ARN, "arn:aws:ec2:*:*:vpc/vpc-0a*"]))], req) == "Allow"
    assert decide([doc(allow(), deny(resource="arn:aws:ec2:*:*:vpc/vpc-0aaa"))], req) == "ExplicitDeny"


def test_not_action_and_not_resource():
    assert decide([doc({"Effect": "Allow", "NotAction": "ec2:Delete*", "Resource": "*"})], create()) == "Allow"
    assert decide([doc({"Effect": "Allow", "NotAction": "ec2:Create*", "Resource": "*"})], create()) == "ImplicitDeny"
    assert decide([doc({"Effect": "Allow", "Action": "*", "NotResource": EP_ARN})], create()) == "ImplicitDeny"


def test_string_equals_on_the_service_name_and_owner():
    only = allow("ec2:CreateVpcEndpoint", Condition={"StringEquals": {"ec2:VpceServiceName": SVC}})
    assert decide([doc(only)], create()) == "Allow"
    assert decide([doc(only)], create(svc=SVC.replace("0123", "9999"))) == "ImplicitDeny"
    owner = allow(Condition={"StringEquals": {"ec2:VpceServiceOwner": ["333333333333", "111111111111"]}})
    assert decide([doc(owner)], create()) == "Allow"
    assert decide([doc(owner)], create(owner="444444444444")) == "ImplicitDeny"
    # condition keys are case-insensitive, values are not
    assert decide([doc(allow(Condition={"StringEquals": {"EC2:vpceserviceowner": "111111111111"}}))], create()) == "Allow"
    assert decide([doc(allow(Condition={"StringEquals": {"ec2:VpceServiceName": SVC.upper()}}))], create()) == "ImplicitDeny"


def test_deny_unless_owner_with_string_not_equals():
    policies = [doc(allow(), deny("ec2:CreateVpcEndpoint",
                                   Condition={"StringNotEquals": {"ec2:VpceServiceOwner": "111111111111"}}))]
    assert decide(policies, create()) == "Allow"
    assert decide(policies, create(owner="999999999999")) == "ExplicitDeny"


def test_absent_condition_keys():
    req = Request("ec2:DescribeVpcs")  # no ec2:VpceServiceName on a Describe
    assert decide([doc(allow(Condition={"StringEquals": {"ec2:VpceServiceName": SVC}}))], req) == "ImplicitDeny"
    assert decide([doc(allow(Condition={"StringEqualsIfExists": {"ec2:VpceServiceName": SVC}}))], req) == "Allow"
    assert decide([doc(allow(Condition={"StringNotEquals": {"ec2:VpceServiceName": SVC}}))], req) == "Allow"


def test_string_like_and_brackets_are_literal():
    like = allow(Condition={"StringLike": {"ec2:VpceServiceName": "com.amazonaws.vpce.*.vpce-svc-0123*"}})
    assert decide([doc(like)], create()) == "Allow"
    assert decide([doc(allow(resource="arn:aws:ec2:[a-z]*"))], create(resources=("arn:aws:ec2:x",))) == "ImplicitDeny"


def test_single_statement_object_and_string_forms():
    assert decide([{"Version": "2012-10-17", "Statement": allow("ec2:CreateVpcEndpoint")}], create()) == "Allow"


@pytest.mark.parametrize("bad,where", [
    ("not a dict", ""),
    ({"Version": "2012-10-17"}, "Statement"),
    ({"Version": "2012-10-17", "Statement": [], "Extra": 1}, "Extra"),
    (doc({"Effect": "allow", "Action": "*", "Resource": "*"}), "Statement[0].Effect"),
    (doc({"Effect": "Allow", "Action": "*", "NotAction": "x:y", "Resource": "*"}), "Statement[0].Action"),
    (doc({"Effect": "Allow", "Action": "ec2 Create", "Resource": "*"}), "Statement[0].Action[0]"),
    (doc({"Effect": "Allow", "Action": 5, "Resource": "*"}), "Statement[0].Action[0]"),
    (doc({"Effect": "Allow", "Action": "*", "Resource": "arn:aws"}), "Statement[0].Resource[0]"),
    (doc({"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"}), "Statement[0].Principal"),
    (doc(allow(Condition={"StringEquals": {"ec2:Nope": "x"}})), "Statement[0].Condition.StringEquals.ec2:Nope"),
    (doc(allow(Condition={"DateGreaterThan": {"ec2:Vpc": "x"}})), "Statement[0].Condition.DateGreaterThan"),
    (doc(allow(Condition={"StringEquals": {"ec2:Vpc": 5}})), "Statement[0].Condition.StringEquals.ec2:Vpc"),
    (doc(allow(Condition={"StringEquals": {}})), "Statement[0].Condition.StringEquals"),
])
def test_check_names_the_bad_part(bad, where):
    with pytest.raises(PolicyError) as err:
        check(bad)
    assert err.value.path == where
    assert err.value.fix


def test_good_policies_pass_check():
    check(doc(allow("ec2:CreateVpcEndpoint", EP_ARN, Sid="one",
                    Condition={"StringEqualsIfExists": {"ec2:VpceServiceOwner": "111111111111"}}), deny("ec2:Delete*")))
