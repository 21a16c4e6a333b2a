"""The internet around the VPCs, planned: internet gateways with 1:1 NAT, and the internet itself.

    instance / NLB node ─ subnet bridge ─ VPC router ─igw─ IGW namespace ─internet─ internet router ─ hosts
    (private address only)   (public subnets: iif rule → table 200: 0.0.0.0/0 → IGW)   (/32 per public IP)

- The **internet router** (`pl-<lab>.+internet`) holds the hosts' LAN (`internet.cidr`, a
  documentation /24) on a bridge and one link per IGW, with a /32 route for every public address
  behind that IGW. It has no default route: nothing leaves the lab, there is nowhere to go.
- Each **IGW** (`pl-<lab>.<vpc>.+igw`; '+' is never in a topology name, so it cannot collide) routes
  between its VPC's router and the internet router and translates 1:1 in nftables: DNAT public ->
  private on the way in, SNAT private -> public on the way out. The instance holds only its private
  address, as on AWS. NAT state lives in the IGW's own namespace, so two VPCs with the same CIDR
  (consumer and provider are both 10.0.0.0/16) never meet: each IGW only knows its own VPC.
- An **internet-facing NLB** node keeps its provider-side address; its public address is DNATed
  to that address, listener ports only (an NLB forwards nothing else), and HAProxy listens there.
- A **public subnet** is one whose route table says 0.0.0.0/0 -> IGW. The VPC router has one table
  per VPC for that (IGW_TABLE) and an `iif <subnet bridge>` rule *after* the main table, so local and
  peering routes still win, and only packets from public subnets ever reach the IGW.

Link addresses are link-local (169.254.248.0/22 IGW-internet, 169.254.252.0/22 router-IGW): the
lab's only non-documentation addresses outside the VPCs, and they never leave their link.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from lab.plan import names
from lab.plan.addressing import SubnetPool
from lab.plan.dns import DnsRecord
from lab.plan.ids import aws_id
from lab.plan.model import Bridge, Frontend, Iface, Netns, Place, Plan, Route, VethPair
from lab.plan.mtu import mtu_of_role

IGW_TABLE = 200  # in a VPC router: the public subnets' route table (0.0.0.0/0 -> IGW)
PUBLIC_RULE_PRIORITY = 40000  # after main (32766): a destination main knows never goes to the IGW
INTERNET_LINKS = ipaddress.IPv4Address("169.254.248.0")
IGW_LINKS = ipaddress.IPv4Address("169.254.252.0")
AUTO_POOL = ipaddress.IPv4Network("203.0.113.0/24")  # where unset NLB public addresses come from
NAT_GW_TABLE = 201  # and up, one per NAT gateway of the VPC
ROUTER_SYSCTLS = {"net/ipv4/ip_forward": "1", "net/ipv4/conf/all/rp_filter": "0",
                  "net/ipv4/conf/default/rp_filter": "0", "net/ipv6/conf/all/disable_ipv6": "1",
                  "net/ipv6/conf/default/disable_ipv6": "1"}
# A NAT gateway is one-armed (in and out of the same leg): no ICMP redirects for that.
NAT_SYSCTLS = {**ROUTER_SYSCTLS, "net/ipv4/conf/all/send_redirects": "0", "net/ipv4/conf/default/send_redirects": "0"}
HOST_SYSCTLS = {"net/ipv6/conf/all/disable_ipv6": "1", "net/ipv6/conf/default/disable_ipv6": "1"}
LINK_ROLES = ("igw", "internet", "internet-host", "nat-gateway")  # veth roles this module plans (lab.plan.links names them)


@dataclass(frozen=True)
class Nat:
    """One 1:1 translation at an IGW. `ports` empty: every port (an instance); else listener ports (an NLB)."""

    public_ip: str
    private_ip: str
    owner: str  # instance name, or NLB node container
    kind: str  # "instance" | "nlb"
    ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class NatGatewayPlan:
    """A public NAT gateway: its own namespace on a public subnet's bridge. Private subnets that name
    it route 0.0.0.0/0 to it (`iif` rule -> its table in the VPC router); it SNATs their traffic to
    its own private address, which the IGW translates 1:1 to its public one. Unsolicited traffic
    from the internet is dropped, as AWS's NAT gateway drops it."""

    id: str
    name: str
    vpc: str
    subnet: str
    netns: str
    ip: str
    public_ip: str
    gateway: str  # the public subnet's router address (its default route)
    bridge: str  # the public subnet's bridge, in the VPC router
    private_bridges: tuple[str, ...]  # bridges of the private subnets that route to it
    table: int
    vpc_cidr: str
    nft_table: str = "privatelink_lab_natgw"


@dataclass(frozen=True)
class IgwPlan:
    id: str
    vpc: str
    vpc_id: str
    netns: str
    router_netns: str
    router_ifname: str  # the VPC router's end of the router-IGW link
    router_ip: str  # ... and its address (the IGW's next hop into the VPC)
    vpc_ifname: str  # the IGW's ends
    vpc_ip: str
    inet_ifname: str
    inet_ip: str
    internet_ip: str  # the internet router's end of the IGW-internet link (the IGW's default route)
    vpc_cidr: str
    public_bridges: tuple[str, ...]  # bridges of the public subnets, in the VPC router
    nat: tuple[Nat, ...]
    table: int = IGW_TABLE
    priority: int = PUBLIC_RULE_PRIORITY
    nft_table: str = "privatelink_lab_igw"
    nat_gateways: tuple[NatGatewayPlan, ...] = ()


@dataclass(frozen=True)
class InternetHost:
    name: str
    netns: str
    ip: str


@dataclass(frozen=True)
class InternetPlan:
    netns: str
    cidr: str
    gateway: str
    bridge: str
    hosts: tuple[InternetHost, ...]


def internet_netns(lab: str) -> str:
    return f"{names.PREFIX}{lab}.+internet"


def igw_netns(lab: str, vpc: str) -> str:
    return f"{names.PREFIX}{lab}.{vpc}.+igw"


def nat_netns(lab: str, vpc: str, name: str) -> str:
    return f"{names.PREFIX}{lab}.{vpc}.+nat-{name}"


def host_netns(lab: str, host: str) -> str:
    return f"{internet_netns(lab)}.{host}"


def _veth(plan: Plan, key: str, role: str, a: Iface, b: Iface) -> None:
    tmp = (names.temp_ifname(plan.lab, key, "a"), names.temp_ifname(plan.lab, key, "b"))
    plan.veths.append(VethPair(key, role, a, b, tmp, names.ownership_alias(plan.lab, key), mtu_of_role(role)))


def _link_pair(base: ipaddress.IPv4Address, index: int) -> tuple[str, str]:
    first = base + 4 * index
    return str(first + 1), str(first + 2)


def _nlb_public_ips(topo, plan: Plan) -> dict[str, str]:
    """Node container -> its public address: written in the topology, or the highest free of AUTO_POOL."""
    taken = {i.public_ip for v in topo.vpcs for i in v.instances if i.public_ip}
    taken |= {ip for n in topo.nlbs for ip in n.public_ips}
    taken |= {g.public_ip for v in topo.vpcs for g in v.nat_gateways if g.public_ip}
    if topo.internet is not None:
        taken |= {h.ip for h in topo.internet.hosts if h.ip}
    free = (str(a) for a in reversed(list(AUTO_POOL.hosts())) if str(a) not in taken)
    out = {}
    for nlb in topo.nlbs:
        if nlb.scheme != "internet-facing":
            continue
        vpc = next(v for v in topo.vpcs if v.name == nlb.vpc)
        for k, subnet in enumerate(nlb.subnets):
            az = next(s.az for s in vpc.subnets if s.name == subnet)
            out[names.node_container(plan.lab, nlb.name, az)] = nlb.public_ips[k] if nlb.public_ips else next(free)
    for vpc in topo.vpcs:
        for ngw in vpc.nat_gateways:
            out[nat_netns(plan.lab, vpc.name, ngw.name)] = ngw.public_ip or next(free)
    return out


def needs_internet(topo) -> bool:
    return topo.internet is not None or any(v.internet_gateway for v in topo.vpcs)


def plan_internet(topo, plan: Plan, bridge_name, pools: dict) -> None:
    """Add the internet, the IGWs, their NAT, public frontends and public DNS to a built plan."""
    if not needs_internet(topo):
        return
    lab = plan.lab
    inet_ns = internet_netns(lab)
    inet_place = Place("netns", inet_ns)
    plan.namespaces.append(Netns(inet_ns, "internet-router", "", None, ROUTER_SYSCTLS))
    spec = topo.internet
    pool = SubnetPool(spec.cidr if spec else "198.51.100.0/24", "internet.cidr")
    bridge = "br-hosts"
    plan.bridges.append(Bridge(inet_place, bridge, (pool.cidr(pool.gateway),), "internet",
                               names.gateway_mac(lab, "+internet", "hosts")))
    for host in (spec.hosts if spec else ()):
        if host.ip:
            pool.take(host.ip)
    hosts = []
    for host in (spec.hosts if spec else ()):
        ip = host.ip or pool.lowest()
        ns = host_netns(lab, host.name)
        plan.namespaces.append(Netns(ns, "internet-host", "", host.name, HOST_SYSCTLS))
        _veth(plan, f"internet-host:{host.name}", "internet-host", Iface(Place("netns", ns), "eth0", (pool.cidr(ip),)),
              Iface(inet_place, names.short_ifname("h-", host.name), master=bridge))
        plan.routes.append(Route(Place("netns", ns), "0.0.0.0/0", "eth0", gateway=pool.gateway))
        hosts.append(InternetHost(host.name, ns, ip))
    plan.internet = InternetPlan(inet_ns, str(pool.net), pool.gateway, bridge, tuple(hosts))
    plan.inventory.setdefault("internet_hosts", []).extend(
        {"Name": h.name, "PublicIpAddress": h.ip, "Netns": h.netns} for h in hosts)

    node_public = _nlb_public_ips(topo, plan)
    instances = {i["Name"]: i for i in plan.inventory.get("instances", [])}
    nodes = {n.container: n for n in plan.nodes}
    for index, vpc in enumerate(v for v in topo.vpcs if v.internet_gateway):
        _plan_igw(topo, plan, vpc, index, bridge_name, instances, nodes, node_public, pools)
    _public_frontends(topo, plan, node_public)
    _public_dns(topo, plan, node_public)


def _plan_igw(topo, plan, vpc, index, bridge_name, instances, nodes, node_public, pools) -> None:
    lab = plan.lab
    ns = igw_netns(lab, vpc.name)
    router = names.router_netns(lab, vpc.name)
    router_ip, vpc_ip = _link_pair(IGW_LINKS, index)
    internet_ip, inet_ip = _link_pair(INTERNET_LINKS, index)
    igw_place, router_place = Place("netns", ns), Place("netns", router)
    inet_place = Place("netns", internet_netns(lab))
    plan.namespaces.append(Netns(ns, "igw", vpc.name, None, ROUTER_SYSCTLS))
    inet_end = names.short_ifname("igw-", vpc.name)
    # b is the end `lab verify` captures on: the VPC router's, and the internet router's.
    _veth(plan, f"igw:{vpc.name}", "igw", Iface(igw_place, "vpc", (f"{vpc_ip}/30",)),
          Iface(router_place, "igw", (f"{router_ip}/30",)))
    _veth(plan, f"internet:{vpc.name}", "internet", Iface(igw_place, "inet", (f"{inet_ip}/30",)),
          Iface(inet_place, inet_end, (f"{internet_ip}/30",)))
    plan.routes.append(Route(igw_place, "0.0.0.0/0", "inet", gateway=internet_ip))
    plan.routes.append(Route(igw_place, vpc.cidr, "vpc", gateway=router_ip))
    plan.routes.append(Route(router_place, "0.0.0.0/0", "igw", gateway=vpc_ip, table=IGW_TABLE))
    nat = []
    for inst in vpc.instances:
        if inst.public_ip:
            nat.append(Nat(inst.public_ip, instances[inst.name]["PrivateIpAddress"], inst.name, "instance"))
            instances[inst.name]["PublicIpAddress"] = inst.public_ip
    for nlb in topo.nlbs:
        if nlb.vpc != vpc.name or nlb.scheme != "internet-facing":
            continue
        for node in (n for n in nodes.values() if n.nlb == nlb.name):
            nat.append(Nat(node_public[node.container], node.provider_ip, node.container, "nlb",
                           tuple(sorted(ln.port for ln in nlb.listeners))))
    nat_gateways = _plan_nat_gateways(plan, vpc, bridge_name, pools, node_public)
    nat += [Nat(g.public_ip, g.ip, g.name, "nat-gateway") for g in nat_gateways]
    for n in nat:
        plan.routes.append(Route(inet_place, f"{n.public_ip}/32", inet_end, gateway=inet_ip))
    vpc_id = aws_id("vpc", lab, "vpc", vpc.name)
    igw = IgwPlan(aws_id("igw", lab, "igw", vpc.name), vpc.name, vpc_id, ns, router, "igw", router_ip, "vpc",
                  vpc_ip, "inet", inet_ip, internet_ip, vpc.cidr,
                  tuple(bridge_name(s.name) for s in vpc.subnets if s.public), tuple(nat),
                  nat_gateways=tuple(nat_gateways))
    plan.igws.append(igw)
    plan.inventory.setdefault("internet_gateways", []).append({
        "InternetGatewayId": igw.id, "Attachments": [{"State": "available", "VpcId": vpc_id}],
        "OwnerId": topo.accounts[vpc.account], "Tags": [{"Key": "Name", "Value": f"{vpc.name}-igw"}],
        "Netns": ns})  # Netns: lab-only
    for sub in plan.inventory.get("subnets", []):
        if sub["VpcId"] == vpc_id:
            public = any(s.public for s in vpc.subnets if s.name == sub["Name"])
            sub["MapPublicIpOnLaunch"] = public  # lab: public = its route table sends 0.0.0.0/0 to the IGW


def _plan_nat_gateways(plan: Plan, vpc, bridge_name, pools: dict, node_public: dict[str, str]) -> list:
    lab, out = plan.lab, []
    router = Place("netns", names.router_netns(lab, vpc.name))
    vpc_id = aws_id("vpc", lab, "vpc", vpc.name)
    for k, ngw in enumerate(vpc.nat_gateways):
        pool = pools[(vpc.name, ngw.subnet)]
        ip = pool.lowest()
        ns = nat_netns(lab, vpc.name, ngw.name)
        place = Place("netns", ns)
        plan.namespaces.append(Netns(ns, "nat-gateway", vpc.name, None, NAT_SYSCTLS))
        _veth(plan, f"nat-gateway:{vpc.name}.{ngw.name}", "nat-gateway", Iface(place, "eth0", (pool.cidr(ip),)),
              Iface(router, names.short_ifname("nat-", ngw.name), master=bridge_name(ngw.subnet)))
        plan.routes.append(Route(place, "0.0.0.0/0", "eth0", gateway=pool.gateway))
        table = NAT_GW_TABLE + k
        plan.routes.append(Route(router, "0.0.0.0/0", bridge_name(ngw.subnet), gateway=ip, table=table))
        gw = NatGatewayPlan(aws_id("nat", lab, "nat", vpc.name, ngw.name), ngw.name, vpc.name, ngw.subnet, ns, ip,
                            node_public[ns], pool.gateway, bridge_name(ngw.subnet),
                            tuple(bridge_name(s.name) for s in vpc.subnets if s.nat_gateway == ngw.name), table,
                            vpc.cidr)
        out.append(gw)
        subnet_id = aws_id("subnet", lab, "subnet", vpc.name, ngw.subnet)
        plan.inventory.setdefault("nat_gateways", []).append({
            "NatGatewayId": gw.id, "SubnetId": subnet_id, "VpcId": vpc_id, "State": "available",
            "ConnectivityType": "public", "Tags": [{"Key": "Name", "Value": ngw.name}],
            "NatGatewayAddresses": [{"PublicIp": gw.public_ip, "PrivateIp": ip, "IsPrimary": True,
                                     "AllocationId": aws_id("eipalloc", lab, "eip", vpc.name, ngw.name)}],
            "Netns": ns})  # Netns: lab-only
    return out


def _public_frontends(topo, plan: Plan, node_public: dict[str, str]) -> None:
    """An internet-facing NLB's listeners also listen on each node's provider-side address (where the
    IGW's DNAT sends its public address). No endpoint: no TLV 0xEA (vpce_id empty)."""
    facing = {n.name: n for n in topo.nlbs if n.scheme == "internet-facing"}
    for i, node in enumerate(plan.nodes):
        nlb = facing.get(node.nlb)
        if nlb is None:
            continue
        public = tuple(Frontend(f"public-{ln.port}", node.provider_ip, ln.port, "prov", "", f"tg-{ln.target_group}",
                                ln.idle_timeout)
                       for ln in nlb.listeners)
        plan.nodes[i] = replace(node, frontends=node.frontends + public)
    for item in plan.inventory.get("nlb_nodes", []):
        nlb = facing.get(item["LoadBalancer"])
        item["Scheme"] = nlb.scheme if nlb else "internal"
        container = names.node_container(plan.lab, item["LoadBalancer"], item["AvailabilityZone"])
        if container in node_public:
            item["PublicIpAddress"] = node_public[container]


def _public_dns(topo, plan: Plan, node_public: dict[str, str]) -> None:
    """The provider's public record (an NLB's public_dns_name -> its public addresses), answered by
    every VPC resolver that does not hold a private name of its own for it: with private DNS on, the
    endpoint's answer wins inside the consumer VPC, as on AWS; with it off, the public one comes back."""
    records = []
    for nlb in topo.nlbs:
        if nlb.scheme == "internet-facing" and nlb.public_dns_name:
            ips = tuple(sorted(ip for c, ip in node_public.items()
                               if c.startswith(names.node_container(plan.lab, nlb.name, ""))))
            records.append(DnsRecord(nlb.public_dns_name, "A", ips, "public"))
    if not records:
        return
    for i, resolver in enumerate(plan.resolvers):
        if not resolver.enabled:
            continue
        held = {r.name for r in resolver.records} | {n for n, _ in resolver.cname_pool}
        extra = tuple(r for r in records if r.name not in held)
        plan.resolvers[i] = replace(resolver, records=resolver.records + extra)


def public_addresses(plan: dict) -> dict[str, str]:
    """Every public address of a (saved) plan -> what holds it, for verify and status."""
    out = {}
    for igw in plan.get("igws", []):
        for n in igw["nat"]:
            out[n["public_ip"]] = f"{n['kind']} {n['owner']} via {igw['id']}"
    return out

