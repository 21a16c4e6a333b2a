"""Security groups in the plan: each VPC's groups (with AWS-shaped IDs) and what guards each endpoint ENI.

Every VPC has a group named `default`. On AWS the default group admits traffic from members of
the same group only; the lab's instances carry no groups, so "the same group" cannot be judged.
The lab's default instead allows TCP on every port from the VPC's own CIDR: clients in the VPC
reach the endpoint, nothing else does. Define a group named `default` in the VPC to replace it.

An endpoint with no `security_groups` gets its VPC's `default`, as on AWS. An ENI is guarded only
while its leg exists (the endpoint is `available`); `lab.apply.firewall` turns each guard into one
chain, named after the ENI's leg, of its NLB node's one nftables table.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from lab.plan.ids import aws_id

DEFAULT_GROUP = "default"
TABLE_PREFIX = "plsg_"  # nftables tables the lab owns in an NLB node's namespace
NODE_TABLE = TABLE_PREFIX + "enis"  # the one table of a node: a map from leg to that ENI's chain


@dataclass(frozen=True)
class SgRule:
    protocol: str
    cidr: str
    from_port: int
    to_port: int
    description: str = ""

    @property
    def port_text(self) -> str:
        return str(self.from_port) if self.from_port == self.to_port else f"{self.from_port}-{self.to_port}"


@dataclass(frozen=True)
class SecurityGroupPlan:
    id: str
    name: str
    vpc: str
    vpc_id: str
    description: str
    lab_default: bool  # made by the lab because the topology does not define this VPC's `default`
    ingress: tuple[SgRule, ...]


@dataclass(frozen=True)
class EniGuard:
    """The groups on one endpoint ENI, and where they are enforced (the ENI's leg in its NLB node)."""

    eni_id: str
    endpoint: str
    vpce_id: str
    vpc: str
    az: str
    ip: str
    node: str  # NLB node container whose namespace holds the leg
    ifname: str
    table: str  # the node's table; the ENI's chain in it is named after the leg (ifname)
    groups: tuple[str, ...]  # security group IDs, in the endpoint's order
    live: bool  # the leg exists (endpoint available); a table is only made for a live ENI


def group_id(lab: str, vpc: str, name: str) -> str:
    return aws_id("sg", lab, "security-group", vpc, name)


def _rules(group) -> tuple[SgRule, ...]:
    out = []
    for rule in group.ingress:
        low, high = (rule.port, rule.port) if rule.port is not None else tuple(rule.ports)
        out.append(SgRule(rule.protocol, rule.cidr, low, high, rule.description))
    return tuple(out)


def plan_security(topo, plan) -> None:
    """Fill plan.security_groups and plan.eni_guards; add AWS-shaped groups to the inventory."""
    groups: dict[tuple[str, str], SecurityGroupPlan] = {}
    for vpc in topo.vpcs:
        vpc_id = aws_id("vpc", plan.lab, "vpc", vpc.name)
        defined = {g.name: g for g in vpc.security_groups}
        if DEFAULT_GROUP not in defined:
            everything = SgRule("tcp", str(ipaddress.IPv4Network(vpc.cidr)), 1, 65535,
                                "lab default: TCP from the VPC's own CIDR")
            groups[(vpc.name, DEFAULT_GROUP)] = SecurityGroupPlan(
                group_id(plan.lab, vpc.name, DEFAULT_GROUP), DEFAULT_GROUP, vpc.name, vpc_id,
                "default VPC security group (lab default)", True, (everything,))
        for group in vpc.security_groups:
            groups[(vpc.name, group.name)] = SecurityGroupPlan(
                group_id(plan.lab, vpc.name, group.name), group.name, vpc.name, vpc_id, group.description, False,
                _rules(group))
    plan.security_groups = list(groups.values())
    specs = {e.name: e for e in topo.endpoints}
    # Judged from the plan's legs rather than the endpoint's state, so the guard follows the data plane.
    legs = {(v.a.place.name, v.a.ifname) for v in plan.veths if v.role == "endpoint-eni"}
    plan.eni_guards = []
    for ep in plan.endpoints:
        names = specs[ep.name].security_groups or [DEFAULT_GROUP]
        ids = tuple(groups[(ep.vpc, n)].id for n in names)
        for eni in ep.enis:
            plan.eni_guards.append(EniGuard(eni.id, ep.name, ep.id, ep.vpc, eni.az, eni.ip, eni.node, eni.ifname,
                                            NODE_TABLE, ids, (eni.node, eni.ifname) in legs))
    plan.inventory["security_groups"] = [_describe(g) for g in plan.security_groups]


def _describe(group: SecurityGroupPlan) -> dict:
    """DescribeSecurityGroups' shape."""
    return {
        "GroupId": group.id, "GroupName": group.name, "VpcId": group.vpc_id, "Description": group.description,
        "IpPermissions": [{"IpProtocol": r.protocol, "FromPort": r.from_port, "ToPort": r.to_port,
                           "IpRanges": [{"CidrIp": r.cidr, "Description": r.description}]} for r in group.ingress],
        "Vpc": group.vpc, "LabDefault": group.lab_default,
    }
