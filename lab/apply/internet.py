"""`lab up` step `internet`: the public subnets' route tables and the IGWs' 1:1 NAT.

Namespaces, veths and routes of the internet come with the VPCs' own (bring-up steps namespaces,
bridges, instances; lab.plan.internet plans them). What is left needs more than a route:
- in each VPC router, an `iif <public subnet bridge>` rule to the IGW table, after the main table;
- in each IGW namespace, the NAT table (templates/igw-nat.nft.j2), one `nft -f` transaction;
- for each NAT gateway, the private subnets' `iif` rules and its SNAT table (templates/nat-gateway.nft.j2).
Both live inside lab namespaces and go with them at `lab down`: nothing else to journal.
"""

from __future__ import annotations

from lab.apply import netns, templates
from lab.apply.context import ApplyContext
from lab.apply.firewall import nft
from lab.plan.model import Place

TEMPLATE = "igw-nat.nft.j2"
NAT_GW_TEMPLATE = "nat-gateway.nft.j2"


def render(lab: str, igw) -> str:
    return templates.render(TEMPLATE, lab=lab, igw=igw)


def sync(ctx: ApplyContext) -> None:
    for igw in ctx.plan.igws:
        ipr = ctx.netlink(Place("netns", igw.router_netns))
        for bridge in igw.public_bridges:
            ipr.rule("add", iifname=bridge, table=igw.table, priority=igw.priority)
        nft(netns.netns_path(igw.netns), ["-f", "-"], stdin=render(ctx.plan.lab, igw))
        for ngw in igw.nat_gateways:  # private subnets -> their NAT gateway, which SNATs to its own address
            for bridge in ngw.private_bridges:
                ipr.rule("add", iifname=bridge, table=ngw.table, priority=igw.priority)
            nft(netns.netns_path(ngw.netns), ["-f", "-"],
                stdin=templates.render(NAT_GW_TEMPLATE, lab=ctx.plan.lab, ngw=ngw))


def describe(plan) -> str:
    nat = sum(len(g.nat) for g in plan.igws)
    hosts = len(plan.internet.hosts) if plan.internet else 0
    ngws = sum(len(g.nat_gateways) for g in plan.igws)
    return (f"{len(plan.igws)} internet gateways, {nat} public addresses NATed 1:1, {ngws} NAT gateways, "
            f"{hosts} internet hosts")
