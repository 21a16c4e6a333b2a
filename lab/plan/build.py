"""Topology -> Plan: resolve every name, address, ID, table and config value, touching nothing.

Stages run in a fixed order (VPCs, then load balancer nodes, then endpoints) because later
stages allocate addresses from pools that earlier stages filled. The result is deterministic for
a given topology and lab name.

A live lab changes (endpoints come and go, lab.privatelink): re-planning it passes the lab's
current plan as `previous`, and every endpoint that still exists keeps its ENI addresses and its
legs keep their routing tables, whatever was added or removed before it in the file.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict

from lab.plan import names
from lab.plan.addressing import SubnetPool
from lab.plan.dns import plan_dns
from lab.plan.ids import aws_id, digest, dns_token
from lab.plan.impair import resolve as resolve_impairments
from lab.plan.internet import plan_internet
from lab.plan.model import (
    App,
    Backend,
    Bridge,
    EndpointPlan,
    Eni,
    Frontend,
    Iface,
    Netns,
    NlbNode,
    Place,
    Plan,
    Route,
    Rule,
    Server,
    VethPair,
)
from lab.plan.onprem import plan_onprem
from lab.plan.mtu import VPC_MTU, mtu_of_role
from lab.plan.names import LAB_NAME_RE, check_lab_name  # noqa: F401 - re-exported
from lab.plan.model import INSTANCE_SYSCTLS, NO_IPV6, ROUTER_SYSCTLS  # noqa: F401 - re-exported
from lab.plan.regions import node_for, plan_regions, service_region
from lab.plan.security import plan_security
from lab.plan.tenancy import plan_tenancy
from lab.topology.model import LoadBalancer, Topology

# An NLB node holds legs in overlapping subnets: it must never route between them (ip_forward=0),
# answer ARP only for the leg's own address, and accept replies that policy routing sends on a
# leg other than the main table would pick (rp_filter=0). "default" is set before legs move in,
# because an interface created in a namespace takes its settings from it.
NODE_SYSCTLS = {
    "net/ipv4/ip_forward": "0",
    "net/ipv4/conf/all/rp_filter": "0",
    "net/ipv4/conf/default/rp_filter": "0",
    "net/ipv4/conf/all/arp_ignore": "1",
    "net/ipv4/conf/default/arp_ignore": "1",
    "net/ipv4/conf/all/arp_announce": "2",
    "net/ipv4/conf/default/arp_announce": "2",
    **NO_IPV6,
}
PROVIDER_LEG = "prov"
FIRST_LEG_TABLE = 100
FIRST_RULE_PRIORITY = 1000


def endpoint_state(topo: Topology, ep_name: str) -> str:
    ep = next(e for e in topo.endpoints if e.name == ep_name)
    if ep.state is not None:
        return ep.state
    svc = next(s for s in topo.endpoint_services if s.name == ep.service)
    return "pendingAcceptance" if svc.acceptance_required else "available"


class _Builder:
    def __init__(self, topo: Topology, lab: str, previous: dict | None = None):
        self.topo, self.lab = topo, lab
        self.previous_ips, self.previous_tables = _previous_allocations(previous)
        self.eni_ips: dict[tuple[str, str], str] = {}  # (endpoint, az) -> address kept from `previous`
        self.node_tables: dict[str, set[int]] = defaultdict(set)
        self.leg_tables: dict[tuple[str, str], int] = {}  # (node, leg address) -> table kept from `previous`
        self.plan = Plan(lab=lab, region=topo.region)
        self.pools: dict[tuple[str, str], SubnetPool] = {}
        self.instance_ip: dict[str, str] = {}
        self.instance_az: dict[str, str] = {}
        self.node_ips: dict[str, set[str]] = defaultdict(set)
        self.frontends: dict[str, list[Frontend]] = defaultdict(list)
        self.inv: dict[str, list[dict]] = defaultdict(list)

    def id(self, prefix: str, *identity: str) -> str:
        return aws_id(prefix, self.lab, *identity)

    def subnet_az(self, vpc_name: str, subnet: str) -> str:
        vpc = next(v for v in self.topo.vpcs if v.name == vpc_name)
        return next(s.az for s in vpc.subnets if s.name == subnet)

    def bridge_name(self, subnet: str) -> str:
        return names.short_ifname("br-", subnet)

    def build(self) -> Plan:
        for vpc in self.topo.vpcs:
            self.add_vpc(vpc)
        nodes = {nlb.name: self.add_nlb(nlb) for nlb in self.topo.nlbs}
        for svc in self.topo.endpoint_services:
            nlb = next(n for n in self.topo.nlbs if n.name == svc.nlb)
            svc_id = self.id("vpce-svc", "service", svc.name)
            self.inv["services"].append({
                "ServiceId": svc_id, "ServiceName": f"com.amazonaws.vpce.{service_region(self.topo, svc.name)}.{svc_id}",
                "Name": svc.name, "Owner": self.topo.accounts[svc.account], "Nlb": svc.nlb,
                "AcceptanceRequired": svc.acceptance_required, "AllowedPrincipals": list(svc.allowed_principals),
                "AvailabilityZones": sorted({n.az for n in nodes[nlb.name]}),
            })
        self.keep_previous(nodes)
        for ep in self.topo.endpoints:
            self.add_endpoint(ep, nodes)
        for i, peering in enumerate(self.topo.peerings):
            self.add_peering(peering, i)
        for nlb_nodes in nodes.values():
            for node in nlb_nodes:
                self.plan.nodes.append(NlbNode(**{**node.__dict__, "frontends": tuple(self.frontends[node.container])}))
        self.plan.inventory = dict(self.inv)
        plan_dns(self.topo, self.plan)
        plan_onprem(self)  # after DNS: the on-premises resolvers forward the services' private DNS names
        plan_security(self.topo, self.plan)
        plan_tenancy(self.topo, self.plan)
        plan_internet(self.topo, self.plan, self.bridge_name, self.pools)  # IGWs, NAT, public listeners and DNS
        plan_regions(self.topo, self.plan)  # multi-region topologies only (lab.plan.regions)
        return self.plan

    def add_vpc(self, vpc) -> None:
        router = names.router_netns(self.lab, vpc.name)
        rplace = Place("netns", router)
        self.plan.namespaces.append(Netns(router, "vpc-router", vpc.name, None, ROUTER_SYSCTLS))
        self.inv["vpcs"].append({"VpcId": self.id("vpc", "vpc", vpc.name), "Name": vpc.name, "CidrBlock": vpc.cidr,
                                 "OwnerId": self.topo.accounts[vpc.account], "Netns": router})
        for j, sub in enumerate(vpc.subnets):
            pool = SubnetPool(sub.cidr, f"vpcs[{vpc.name}].subnets[{j}]")
            self.pools[(vpc.name, sub.name)] = pool
            self.plan.bridges.append(Bridge(rplace, self.bridge_name(sub.name), (pool.cidr(pool.gateway),), sub.name,
                                            names.gateway_mac(self.lab, vpc.name, sub.name), VPC_MTU))
            self.inv["subnets"].append({"SubnetId": self.id("subnet", "subnet", vpc.name, sub.name), "Name": sub.name,
                                        "VpcId": self.id("vpc", "vpc", vpc.name), "CidrBlock": sub.cidr,
                                        "AvailabilityZone": sub.az, "Bridge": self.bridge_name(sub.name)})
        for inst in vpc.instances:  # fixed addresses first, so automatic ones never take them
            if inst.ip:
                self.pools[(vpc.name, inst.subnet)].take(inst.ip)
        for inst in vpc.instances:
            pool = self.pools[(vpc.name, inst.subnet)]
            ip = inst.ip or pool.lowest()
            az = self.subnet_az(vpc.name, inst.subnet)
            self.instance_ip[inst.name], self.instance_az[inst.name] = ip, az
            ns = names.instance_netns(self.lab, vpc.name, inst.name)
            self.plan.namespaces.append(Netns(ns, "instance", vpc.name, inst.name, INSTANCE_SYSCTLS))
            key = f"instance:{inst.name}"
            self.add_veth(key, "instance", Iface(Place("netns", ns), "eth0", (pool.cidr(ip),)),
                          Iface(rplace, names.short_ifname("i-", inst.name), master=self.bridge_name(inst.subnet)),
                          inst.mtu)
            self.plan.routes.append(Route(Place("netns", ns), "0.0.0.0/0", "eth0", gateway=pool.gateway))
            if inst.app:
                self.plan.apps.append(App(inst.name, ns, inst.app, inst.port, az, vpc.name))
            self.inv["instances"].append({"InstanceId": self.id("i", "instance", inst.name), "Name": inst.name,
                                          "VpcId": self.id("vpc", "vpc", vpc.name), "Subnet": inst.subnet,
                                          "AvailabilityZone": az, "PrivateIpAddress": ip, "Netns": ns,
                                          "App": inst.app})

    def add_veth(self, key: str, role: str, a: Iface, b: Iface, mtu: int | None = None) -> None:
        tmp = (names.temp_ifname(self.lab, key, "a"), names.temp_ifname(self.lab, key, "b"))
        self.plan.veths.append(VethPair(key, role, a, b, tmp, names.ownership_alias(self.lab, key),
                                        mtu or mtu_of_role(role)))

    def add_leg(self, node: str, key: str, role: str, ifname: str, ip: str, pool: SubnetPool,
                router_place: Place, router_ifname: str, subnet: str) -> None:
        """One NLB node leg: a veth into a subnet bridge, with its own routing table and rule."""
        place = Place("container", node)
        table = self.leg_tables.get((node, ip)) or self.free_table(node)
        priority = FIRST_RULE_PRIORITY + table - FIRST_LEG_TABLE
        self.node_ips[node].add(ip)
        self.add_veth(key, role, Iface(place, ifname, (pool.cidr(ip),), noprefixroute=True),
                      Iface(router_place, router_ifname, master=self.bridge_name(subnet)))
        self.plan.routes.append(Route(place, str(pool.net), ifname, table=table))
        self.plan.routes.append(Route(place, "0.0.0.0/0", ifname, gateway=pool.gateway, table=table))
        self.plan.rules.append(Rule(place, ip, table, priority))

    def free_table(self, node: str) -> int:
        table = FIRST_LEG_TABLE
        while table in self.node_tables[node]:
            table += 1
        self.node_tables[node].add(table)
        return table

    def keep_previous(self, nodes: dict[str, list[NlbNode]]) -> None:
        """Reserve, before any new allocation, the ENI addresses and leg tables that endpoints still
        in the topology hold in the live lab, so that no change elsewhere moves them."""
        for ep in self.topo.endpoints:
            svc = next(s for s in self.topo.endpoint_services if s.name == ep.service)
            available = endpoint_state(self.topo, ep.name) == "available"
            for subnet in ep.subnets:
                az = self.subnet_az(ep.vpc, subnet)
                ip = self.previous_ips.get((ep.name, az))
                node = getattr(node_for(self.topo, ep, az, nodes[svc.nlb]), "container", None)
                pool = self.pools[(ep.vpc, subnet)]
                if ip is None or node is None or ipaddress.IPv4Address(ip) not in pool.net or ip in self.node_ips[node]:
                    continue  # new, or no longer valid where it was: allocated afresh below
                self.eni_ips[(ep.name, az)] = pool.take(ip)
                self.node_ips[node].add(ip)
                table = self.previous_tables.get((node, ip))
                if available and table is not None and table not in self.node_tables[node]:
                    self.node_tables[node].add(table)
                    self.leg_tables[(node, ip)] = table

    def add_nlb(self, nlb: LoadBalancer) -> list:
        vpc = next(v for v in self.topo.vpcs if v.name == nlb.vpc)
        rplace = Place("netns", names.router_netns(self.lab, vpc.name))
        nodes = []
        for subnet in nlb.subnets:
            az = self.subnet_az(vpc.name, subnet)
            container = names.node_container(self.lab, nlb.name, az)
            pool = self.pools[(vpc.name, subnet)]
            ip = pool.highest()
            self.add_leg(container, f"nlb:{nlb.name}:{az}", "nlb-provider", PROVIDER_LEG, ip, pool, rplace,
                         names.short_ifname("nlb-", digest(container)[:11]), subnet)
            backends = tuple(self.backend(nlb, tg, az, ip) for tg in nlb.target_groups)
            nodes.append(NlbNode(container, nlb.name, az, ip, NODE_SYSCTLS, (), backends))
            self.inv["nlb_nodes"].append({"Container": container, "LoadBalancer": nlb.name, "AvailabilityZone": az,
                                          "Subnet": subnet, "PrivateIpAddress": ip, "CrossZone": nlb.cross_zone})
        return nodes

    def backend(self, nlb: LoadBalancer, tg, az: str, source: str) -> Backend:
        # Cross-zone off (AWS's default for NLBs): a node only sends to targets in its own AZ.
        draining = [d.target for d in tg.draining]
        targets = [t for t in [*tg.targets, *draining] if nlb.cross_zone or self.instance_az[t] == az]
        servers = tuple(Server(t, self.instance_ip[t], tg.port, source, PROVIDER_LEG, t in draining)
                        for t in targets)
        hc = tg.health_check
        http = hc.protocol == "HTTP"
        idle = max((ln.idle_timeout for ln in nlb.listeners if ln.target_group == tg.name), default=350)
        return Backend(f"tg-{tg.name}", tg.proxy_protocol_v2, hc.interval, hc.healthy_threshold,
                       hc.unhealthy_threshold, servers, (hc.path or "/") if http else "",
                       codes_regex(hc.matcher or "200-399") if http else "", idle)

    def add_endpoint(self, ep, nodes: dict[str, list[NlbNode]]) -> None:
        svc = next(s for s in self.topo.endpoint_services if s.name == ep.service)
        nlb = next(n for n in self.topo.nlbs if n.name == svc.nlb)
        vpc = next(v for v in self.topo.vpcs if v.name == ep.vpc)
        rplace = Place("netns", names.router_netns(self.lab, vpc.name))
        vpce_id = self.id("vpce", "endpoint", ep.name)
        svc_id = self.id("vpce-svc", "service", svc.name)
        state = endpoint_state(self.topo, ep.name)
        token = dns_token(self.lab, "endpoint", ep.name)
        # AWS names an endpoint after its service's region (the consumer's, unless cross-region).
        suffix = f"{svc_id}.{service_region(self.topo, svc.name)}.vpce.amazonaws.com"
        dns = [{"DnsName": f"{vpce_id}-{token}.{suffix}", "Scope": "regional"}]
        enis = []
        for subnet in ep.subnets:
            az = self.subnet_az(vpc.name, subnet)
            node = node_for(self.topo, ep, az, nodes[nlb.name])
            pool = self.pools[(vpc.name, subnet)]
            # The ENI's address comes from the consumer's subnet (as on AWS) and must differ from
            # every other leg of the same node, whose subnets may overlap this one.
            ip = self.eni_ips.get((ep.name, az)) or pool.highest(avoid=self.node_ips[node.container])
            # Reserved on the node whatever the state: accepting later must not find it taken.
            self.node_ips[node.container].add(ip)
            eni_id = self.id("eni", "eni", ep.name, az)
            # Both ends of the leg are named after the ENI ID, so captures and `ip link` read alike.
            ifname = "eni-" + eni_id.removeprefix("eni-0")[:11]
            eni = Eni(eni_id, subnet, self.id("subnet", "subnet", vpc.name, subnet), az, ip, node.container, ifname)
            enis.append(eni)
            dns.append({"DnsName": f"{vpce_id}-{token}-{az}.{suffix}", "Scope": "zonal", "AvailabilityZone": az})
            if state != "available":
                continue  # no data path until the provider accepts (issue: data plane follows state)
            self.add_leg(node.container, f"eni:{ep.name}:{az}", "endpoint-eni", ifname, ip, pool, rplace, ifname, subnet)
            for listener in nlb.listeners:
                self.frontends[node.container].append(
                    Frontend(f"{vpce_id}-{listener.port}", ip, listener.port, ifname, vpce_id, f"tg-{listener.target_group}",
                             listener.idle_timeout))
        self.plan.endpoints.append(EndpointPlan(vpce_id, ep.name, vpc.name, vpc.account, svc.name, svc_id, state,
                                                tuple(enis), tuple(dns)))


    def add_peering(self, peering, index: int) -> None:
        """A routed link between two VPC routers, addressed from link-local 169.254.x.y/30."""
        a, b = (next(v for v in self.topo.vpcs if v.name == n) for n in peering.vpcs)
        base = 169 << 24 | 254 << 16 | (index * 4)
        ips = [ipaddress.IPv4Address(base + 1), ipaddress.IPv4Address(base + 2)]
        ifname = names.short_ifname("pcx-", peering.name)
        places = [Place("netns", names.router_netns(self.lab, v.name)) for v in (a, b)]
        self.add_veth(f"peering:{peering.name}", "peering", Iface(places[0], ifname, (f"{ips[0]}/30",)),
                      Iface(places[1], ifname, (f"{ips[1]}/30",)))
        self.plan.routes.append(Route(places[0], b.cidr, ifname, gateway=str(ips[1])))
        self.plan.routes.append(Route(places[1], a.cidr, ifname, gateway=str(ips[0])))
        self.inv["peerings"].append({"VpcPeeringConnectionId": self.id("pcx", "peering", peering.name),
                                     "Name": peering.name, "Vpcs": [a.name, b.name], "Link": ifname})


def _previous_allocations(previous: dict | None) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], int]]:
    """From a saved plan (plan.json): ENI address per (endpoint, az), table per (node, leg address)."""
    if not previous:
        return {}, {}
    ips = {(ep["name"], eni["az"]): eni["ip"] for ep in previous.get("endpoints", []) for eni in ep["enis"]}
    tables = {(r["place"]["name"], r["src"]): r["table"] for r in previous.get("rules", [])
              if r["place"]["kind"] == "container"}
    return ips, tables


def build_plan(topo: Topology, lab: str, previous: dict | None = None) -> Plan:
    """The plan of `topo`; `previous` (the live lab's saved plan) keeps existing ENIs where they are."""
    check_lab_name(lab)
    plan = _Builder(topo, lab, previous).build()
    if topo.impairments:  # link names exist only once the plan has named every veth
        plan.impairments = resolve_impairments(plan.to_dict(), topo.impairments)
    return plan


def codes_regex(matcher: str) -> str:
    """AWS's Matcher.HttpCode ("200", "200,202", "200-399") as a regex of exactly those codes, for
    HAProxy's `http-check expect rstatus`."""
    codes = set()
    for part in matcher.split(","):
        low, _, high = part.partition("-")
        codes.update(range(int(low), int(high or low) + 1))
    by_hundred: dict[str, list[str]] = {}
    for code in sorted(codes):
        by_hundred.setdefault(str(code)[0], []).append(str(code)[1:])
    alts = []
    for first, rests in by_hundred.items():
        alts.append(first + ("[0-9][0-9]" if len(rests) == 100 else "(" + "|".join(rests) + ")"))
    return "^(" + "|".join(alts) + ")$"
