"""On-premises networks and Direct Connect links (issue 12, section 2): schema and cross-checks.

An `on_premises` network is a data centre: one router namespace (the customer's edge router, which
speaks BGP), subnets on it, client instances and a DNS resolver. A `direct_connect` entry is a
private virtual interface from that router to a VPC's virtual private gateway (`vpn_gateway:` on
the VPC); the customer's BGP ASN is on the VIF, as CreatePrivateVirtualInterface has it (`asn`).

ASN rules, from AWS's documentation (checked 2026-12):
- a private VIF's customer ASN: 1 to 4294967294 (Direct Connect User Guide, "Create a private
  virtual interface": 2-byte 1-2147483647 and 4-byte up to 4294967294);
- EC2 reserves 7224 in us-east-1 and 9059 in eu-west-1 (CreateCustomerGateway's BgpAsn);
- a virtual private gateway's Amazon side ASN: 64512-65534 or 4200000000-4294967294 (CreateVpnGateway),
  default 64512;
- the two ends of an eBGP session need different ASNs.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field

from lab.topology.errors import TopologyError
from lab.topology.base import IPv4Addr, IPv4Cidr, IPv4Net, Name, Strict

ASN_MAX = 4294967294
RESERVED_ASNS = {7224: "us-east-1", 9059: "eu-west-1"}  # EC2 reserves these in these regions
AMAZON_ASN_RANGES = ((64512, 65534), (4200000000, 4294967294))


class OnPremSubnet(Strict):
    name: Name
    cidr: IPv4Net


class OnPremInstance(Strict):
    name: Name
    subnet: str
    ip: IPv4Addr | None = None


class OnPremises(Strict):
    """A data centre: its own address space, a router that speaks BGP, clients and a resolver."""

    name: Name
    cidr: IPv4Net
    subnets: Annotated[list[OnPremSubnet], Field(min_length=1, max_length=8)]
    instances: Annotated[list[OnPremInstance], Field(max_length=32)] = []


class DirectConnect(Strict):
    """A private virtual interface: on-premises router <-> a VPC's virtual private gateway, over BGP."""

    name: Name
    on_premises: str
    vpc: str
    asn: int  # the customer's (on-premises router's) BGP ASN
    vlan: Annotated[int, Field(ge=1, le=4094)] = 101
    # What the VPC side advertises to the data centre (AWS: a DX gateway association's allowed
    # prefixes). Unset: the VPC CIDR, as a virtual private gateway advertises it.
    allowed_prefixes: Annotated[list[IPv4Cidr], Field(min_length=1, max_length=20)] | None = None


def check_onprem(topo) -> None:
    """Cross-checks of `on_premises` and `direct_connect`; raises TopologyError at the first problem."""
    from lab.topology.base import unique as _unique

    vpc_names = {v.name for v in topo.vpcs}
    _unique(((f"on_premises[{i}].name", o.name) for i, o in enumerate(topo.on_premises)), "on-premises network")
    for i, site in enumerate(topo.on_premises):
        path = f"on_premises[{i}]"
        if site.name in vpc_names:
            raise TopologyError(f"{path}.name", f"{site.name!r} is also a VPC's name",
                                "give the on-premises network a name no VPC has")
        net = ipaddress.IPv4Network(site.cidr)
        subnets = {}
        for j, sub in enumerate(site.subnets):
            if not ipaddress.IPv4Network(sub.cidr).subnet_of(net):
                raise TopologyError(f"{path}.subnets[{j}].cidr", f"{sub.cidr} is not inside {site.cidr}",
                                    f"pick a subnet of {site.cidr}")
            subnets[sub.name] = sub
        for j, inst in enumerate(site.instances):
            if inst.subnet not in subnets:
                raise TopologyError(f"{path}.instances[{j}].subnet", f"no subnet {inst.subnet!r} in {site.name!r}",
                                    f"use one of: {', '.join(subnets)}")
            if inst.ip and ipaddress.IPv4Address(inst.ip) not in ipaddress.IPv4Network(subnets[inst.subnet].cidr):
                raise TopologyError(f"{path}.instances[{j}].ip", f"{inst.ip} is not in {subnets[inst.subnet].cidr}",
                                    "pick an address of the instance's subnet")
            if inst.ip:
                sub_net = ipaddress.IPv4Network(subnets[inst.subnet].cidr)
                # The lab's own: the subnet's gateway (.1 on the router) and the site's resolver (CIDR base + 2).
                taken = {sub_net.network_address, sub_net.network_address + 1, sub_net.broadcast_address,
                         net.network_address + 2}
                if ipaddress.IPv4Address(inst.ip) in taken:
                    raise TopologyError(f"{path}.instances[{j}].ip", f"{inst.ip} is the subnet's network, gateway or "
                                        "broadcast address, or the site resolver's",
                                        f"pick another address of {sub_net}, e.g. {sub_net.network_address + 10}")
    sites = {o.name: o for o in topo.on_premises}
    vpcs = {v.name: v for v in topo.vpcs}
    for i, vpc in enumerate(topo.vpcs):
        if vpc.vpn_gateway is not None:
            asn = vpc.vpn_gateway.amazon_side_asn
            if not any(lo <= asn <= hi for lo, hi in AMAZON_ASN_RANGES):
                raise TopologyError(f"vpcs[{i}].vpn_gateway.amazon_side_asn", f"{asn} is not a private ASN AWS accepts",
                                    "use 64512-65534 or 4200000000-4294967294 (AWS's default is 64512)")
    _unique(((f"direct_connect[{i}].name", d.name) for i, d in enumerate(topo.direct_connect)), "Direct Connect link")
    for i, dx in enumerate(topo.direct_connect):
        path = f"direct_connect[{i}]"
        site = sites.get(dx.on_premises)
        if site is None:
            raise TopologyError(f"{path}.on_premises", f"no on-premises network {dx.on_premises!r}",
                                f"use one of: {', '.join(sites) or '(none: add on_premises)'}")
        vpc = vpcs.get(dx.vpc)
        if vpc is None:
            raise TopologyError(f"{path}.vpc", f"no VPC {dx.vpc!r}", f"use one of: {', '.join(vpcs)}")
        if vpc.vpn_gateway is None:
            raise TopologyError(f"{path}.vpc", f"VPC {vpc.name!r} has no virtual private gateway to attach to",
                                f"add `vpn_gateway: {{amazon_side_asn: 64512}}` to VPC {vpc.name!r}")
        if not 1 <= dx.asn <= ASN_MAX:
            raise TopologyError(f"{path}.asn", f"{dx.asn} is outside the BGP ASN range",
                                f"use an ASN from 1 to {ASN_MAX} (a private one: 64512-65534)")
        if RESERVED_ASNS.get(dx.asn) == topo.region:
            raise TopologyError(f"{path}.asn", f"ASN {dx.asn} is reserved by AWS in {topo.region}",
                                "use another ASN (a private one: 64512-65534)")
        if dx.asn == vpc.vpn_gateway.amazon_side_asn:
            raise TopologyError(f"{path}.asn", f"{dx.asn} is also the Amazon side ASN of the gateway of VPC {vpc.name!r}",
                                "give the customer side its own ASN (e.g. 65000)")
        for k, prefix in enumerate(dx.allowed_prefixes or ()):
            if not ipaddress.IPv4Network(prefix).subnet_of(ipaddress.IPv4Network(vpc.cidr)):
                raise TopologyError(f"{path}.allowed_prefixes[{k}]", f"{prefix} is not inside VPC {vpc.name}'s {vpc.cidr}",
                                    f"advertise the VPC's own range (e.g. {vpc.cidr}) or a part of it")
        if ipaddress.IPv4Network(site.cidr).overlaps(ipaddress.IPv4Network(vpc.cidr)):
            raise TopologyError(path, f"on-premises {site.name} ({site.cidr}) overlaps VPC {vpc.name} ({vpc.cidr})",
                                "routing over Direct Connect needs them apart: renumber one side")
    seen: dict[str, str] = {}
    for i, dx in enumerate(topo.direct_connect):
        if dx.on_premises in seen:
            raise TopologyError(f"{path_of(i)}.on_premises", f"{dx.on_premises!r} already has a Direct Connect link "
                                f"({seen[dx.on_premises]})", "the lab gives each on-premises network one link")
        seen[dx.on_premises] = path_of(i)


def path_of(i: int) -> str:
    return f"direct_connect[{i}]"


def onprem_instance_site(topo, name: str):
    """The on-premises network holding instance `name`, or None."""
    return next((o for o in topo.on_premises if any(i.name == name for i in o.instances)), None)


def dx_vpc_of(topo, site_name: str) -> str | None:
    return next((d.vpc for d in topo.direct_connect if d.on_premises == site_name), None)
