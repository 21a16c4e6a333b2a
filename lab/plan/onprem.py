"""On-premises networks and Direct Connect in the plan (pure: names, addresses, BGP settings).

- Each on-premises network is a router namespace (the customer's edge router) with one bridge
  per subnet (gateway = the subnet's first address) and one namespace per client instance.
- Each `direct_connect` entry is a private VIF: one veth between the on-premises router and the
  VPC router (the virtual private gateway lives in the VPC router's namespace, as the VPC's route
  table does), addressed from 169.254.0.0/16 as AWS assigns VIF peer addresses (a /30 each:
  Amazon .1, customer .2). No static route crosses it: BGP (BIRD on both ends, lab.apply.bgp)
  advertises the VPC CIDR to the data centre and the data centre's CIDR into the VPC's table.
- A Route 53 Resolver inbound endpoint gets one address per subnet of the VPC (the highest free
  one, like an ENI); the on-premises resolver (CIDR base + 2 on the router's loopback) forwards
  the endpoint's names (vpce.amazonaws.com and every private DNS name) to those addresses.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from lab.plan import names
from lab.plan.addressing import SubnetPool
from lab.plan.ids import aws_id
from lab.plan.model import Bridge, Iface, Netns, Place, Route

ONPREM_ROUTER_ROLE = "onprem-router"
ONPREM_INSTANCE_ROLE = "onprem-instance"
DX_ROLE = "dx"
DX_LINK_BASE = ipaddress.IPv4Address("169.254.252.0")  # clear of peerings, which count up from 169.254.0.0
KEEPALIVE_S, HOLD_S = 3, 9  # short enough for a lab (AWS's defaults are 30/90)
DNS_SUFFIXES = ("vpce.amazonaws.com",)


@dataclass(frozen=True)
class BgpSpeaker:
    """One BIRD: where it runs, who it peers with, what it announces (`lab.apply.bgp` renders it)."""

    name: str  # "<dx>-customer" or "<dx>-amazon"
    netns: str
    router_id: str
    local_ip: str
    local_asn: int
    peer_ip: str
    peer_asn: int
    announce: tuple[str, ...]  # prefixes originated here
    keepalive_s: int = KEEPALIVE_S
    hold_s: int = HOLD_S


@dataclass(frozen=True)
class DxPlan:
    name: str
    vif_id: str
    vgw_id: str
    vpc: str
    on_premises: str
    vlan: int
    ifname: str
    amazon_ip: str
    customer_ip: str
    speakers: tuple[BgpSpeaker, BgpSpeaker]  # customer side first


@dataclass(frozen=True)
class OnPremResolver:
    site: str
    netns: str
    ip: str
    clients: tuple[str, ...]
    forward: tuple[tuple[str, tuple[str, ...]], ...]  # (domain, inbound endpoint addresses)


@dataclass(frozen=True)
class InboundEndpoint:
    """Route 53 Resolver inbound endpoint: resolver addresses in the VPC's subnets."""

    id: str
    vpc: str
    netns: str  # the VPC router's namespace (the addresses sit on the subnet bridges)
    addresses: tuple[tuple[str, str], ...]  # (bridge ifname, address)
    upstream: str  # the VPC resolver (base + 2): it answers with the VPC's own view


def plan_onprem(builder) -> None:
    """Add every on-premises network and DX link of builder.topo to builder.plan (after VPCs and endpoints)."""
    topo, plan, lab = builder.topo, builder.plan, builder.lab
    plan.direct_connect, plan.onprem_resolvers, plan.inbound_endpoints = [], [], []
    if not topo.on_premises:
        return
    for site in topo.on_premises:
        _add_site(builder, site)
    vpcs = {v.name: v for v in topo.vpcs}
    for i, dx in enumerate(topo.direct_connect):
        site = next(o for o in topo.on_premises if o.name == dx.on_premises)
        vpc = vpcs[dx.vpc]
        base = int(DX_LINK_BASE) + 4 * i
        amazon, customer = str(ipaddress.IPv4Address(base + 1)), str(ipaddress.IPv4Address(base + 2))
        ifname = names.short_ifname("dx-", dx.name)
        router, dc = names.router_netns(lab, vpc.name), names.router_netns(lab, site.name)
        builder.add_veth(f"dx:{dx.name}", DX_ROLE, Iface(Place("netns", dc), ifname, (f"{customer}/30",)),
                         Iface(Place("netns", router), ifname, (f"{amazon}/30",)))
        amazon_asn = vpc.vpn_gateway.amazon_side_asn
        speakers = (BgpSpeaker(f"{dx.name}-customer", dc, customer, customer, dx.asn, amazon, amazon_asn, (site.cidr,)),
                    BgpSpeaker(f"{dx.name}-amazon", router, amazon, amazon, amazon_asn, customer, dx.asn,
                               tuple(dx.allowed_prefixes or (vpc.cidr,))))
        vif_id = builder.id("dxvif", "dx", dx.name)
        vgw_id = builder.id("vgw", "vgw", vpc.name)
        plan.direct_connect.append(DxPlan(dx.name, vif_id, vgw_id, vpc.name, site.name, dx.vlan, ifname, amazon,
                                          customer, speakers))
        builder.inv["virtual_interfaces"].append({
            "VirtualInterfaceId": vif_id, "VirtualInterfaceName": dx.name, "VirtualInterfaceType": "private",
            "Vlan": dx.vlan, "Asn": dx.asn, "AmazonSideAsn": amazon_asn, "AmazonAddress": f"{amazon}/30",
            "CustomerAddress": f"{customer}/30", "AddressFamily": "ipv4", "VirtualGatewayId": vgw_id,
            "AllowedPrefixes": list(dx.allowed_prefixes or (vpc.cidr,)), "OnPremises": site.name, "Link": ifname})
        builder.inv["vpn_gateways"].append({"VpnGatewayId": vgw_id, "Type": "ipsec.1", "AmazonSideAsn": amazon_asn,
                                            "VpcAttachments": [{"VpcId": builder.id("vpc", "vpc", vpc.name),
                                                                "State": "attached"}]})
        inbound = _inbound_endpoint(builder, vpc)
        plan.inbound_endpoints.append(inbound)
        domains = list(DNS_SUFFIXES) + sorted({p.name for p in plan.private_dns_names})
        ips = tuple(ip for _br, ip in inbound.addresses)
        clients = (dc,) + tuple(names.instance_netns(lab, site.name, inst.name) for inst in site.instances)
        plan.onprem_resolvers.append(OnPremResolver(site.name, dc, _base_plus(site.cidr, 2), clients,
                                                    tuple((d, ips) for d in domains)))
    for key, items in builder.inv.items():  # the inventory was copied before this stage: add the new lists
        plan.inventory.setdefault(key, items)


def _base_plus(cidr: str, n: int) -> str:
    return str(ipaddress.IPv4Network(cidr).network_address + n)


def _add_site(builder, site) -> None:
    from lab.plan.model import INSTANCE_SYSCTLS, ROUTER_SYSCTLS

    plan, lab = builder.plan, builder.lab
    dc = names.router_netns(lab, site.name)
    place = Place("netns", dc)
    plan.namespaces.append(Netns(dc, ONPREM_ROUTER_ROLE, site.name, None, ROUTER_SYSCTLS))
    builder.inv["on_premises"].append({"Name": site.name, "CidrBlock": site.cidr, "Netns": dc,
                                       "Subnets": [{"Name": s.name, "CidrBlock": s.cidr} for s in site.subnets]})
    pools = {}
    for j, sub in enumerate(site.subnets):
        pool = SubnetPool(sub.cidr, f"on_premises[{site.name}].subnets[{j}]")
        pools[sub.name] = pool
        plan.bridges.append(Bridge(place, builder.bridge_name(sub.name), (pool.cidr(pool.gateway),), sub.name,
                                   names.gateway_mac(lab, site.name, sub.name)))
    for inst in site.instances:
        if inst.ip:
            pools[inst.subnet].take(inst.ip)
    for inst in site.instances:
        pool = pools[inst.subnet]
        ip = inst.ip or pool.lowest()
        ns = names.instance_netns(lab, site.name, inst.name)
        plan.namespaces.append(Netns(ns, ONPREM_INSTANCE_ROLE, site.name, inst.name, INSTANCE_SYSCTLS))
        builder.add_veth(f"onprem-instance:{inst.name}", ONPREM_INSTANCE_ROLE,
                         Iface(Place("netns", ns), "eth0", (pool.cidr(ip),)),
                         Iface(place, names.short_ifname("i-", inst.name), master=builder.bridge_name(inst.subnet)))
        plan.routes.append(Route(Place("netns", ns), "0.0.0.0/0", "eth0", gateway=pool.gateway))
        builder.instance_ip[inst.name] = ip
        # Listed with the VPC instances (so `lab exec dc-client` works); VpcId None: it is not in AWS.
        builder.inv["instances"].append({"InstanceId": builder.id("i", "instance", inst.name), "Name": inst.name,
                                         "VpcId": None, "Subnet": inst.subnet, "AvailabilityZone": None,
                                         "PrivateIpAddress": ip, "Netns": ns, "App": None,
                                         "OnPremises": site.name})


def _inbound_endpoint(builder, vpc) -> InboundEndpoint:
    from lab.plan.dns import resolver_ip

    router = names.router_netns(builder.lab, vpc.name)
    addresses = []
    for sub in vpc.subnets:
        pool = builder.pools[(vpc.name, sub.name)]
        # The lowest free address: ENIs made later (live) take the highest, so this one never moves.
        addresses.append((builder.bridge_name(sub.name), pool.lowest()))
    rslvr = builder.id("rslvr-in", "inbound", vpc.name)
    builder.inv["resolver_endpoints"].append({
        "Id": rslvr, "Direction": "INBOUND", "Status": "OPERATIONAL", "IpAddressCount": len(addresses),
        "HostVPCId": builder.id("vpc", "vpc", vpc.name), "IpAddresses": [{"Ip": ip} for _b, ip in addresses]})
    return InboundEndpoint(rslvr, vpc.name, router, tuple(addresses), resolver_ip(vpc.cidr))
