"""The pieces a verify run is made of (pure: no root): a flow to an ENI, a DNS query, a probe, and
the plan indexed to build them. lab.verify.spec builds a run's list of them; lab.verify.names adds
flows by DNS name; lab.verify.traffic makes them happen."""

from __future__ import annotations

from dataclasses import dataclass

from lab.plan.links import Link, vpc_sides


@dataclass(frozen=True)
class Target:
    name: str
    ip: str
    port: int
    link: str
    az: str = ""


@dataclass(frozen=True)
class FlowSpec:
    """A TCP connection + HTTP request from a client to an endpoint ENI, through the NLB node."""

    client: str
    client_ip: str
    client_netns: str
    client_link: str
    endpoint_id: str
    endpoint: str
    eni_id: str
    eni_ip: str
    az: str
    eni_link: str
    port: int
    node: str
    node_ip: str
    node_link: str
    targets: tuple[Target, ...]
    ppv2: bool
    declared: bool = False
    # "reach", or "blocked" when no rule of the ENI's security groups admits the client: then the
    # flow must die at the ENI leg (the node drops it), unanswered and unseen on the provider side.
    expect: str = "reach"
    # A flow by DNS name (lab.verify.names): the name the client resolved to reach eni_ip, and its kind.
    via_name: str = ""
    via_origin: str = ""
    # A multi-tenant lab (lab.verify.tenancy): the tenant the answer must name ("-": none, refuse),
    # the credential presented (another tenant's, for a declared `credential:`), and how.
    tenant: str = ""
    tenancy_mode: str = ""
    credential: str = ""
    auth_token: str = ""
    forged_header: bytes = b""
    forged_vpce: str = ""
    # Which AZ each hop is in, for the AZ-crossing report (lab.verify.azpath).
    client_az: str = ""
    node_az: str = ""
    # Links the flow must cross between the client's link and the ENI's, in order: an on-premises
    # client's Direct Connect link (lab.plan.onprem). Empty for a client inside the endpoint's VPC.
    transit: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        shown = f" (with {self.credential}'s credential)" if self.credential else ""
        if self.via_name:  # the same subject whichever ENI the name resolved to
            return f"{self.client} -> {self.via_origin} {self.via_name}:{self.port}{shown}"
        return f"{self.client} -> {self.endpoint}@{self.az} {self.eni_ip}:{self.port}{shown}"


@dataclass(frozen=True)
class DnsSpec:
    """An A query from a client to its VPC's resolver for one of an endpoint's names."""

    client: str
    client_ip: str
    client_netns: str
    client_link: str
    resolver: str
    qname: str
    origin: str  # regional | zonal | private-dns | alias
    endpoint: str
    expected: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.client} asks {self.resolver} for the {self.origin} name of {self.endpoint}"


@dataclass(frozen=True)
class ProbeSpec:
    """One packet (TCP SYN or ICMP echo) from a client that must stay within `allowed` links."""

    client: str
    client_ip: str
    client_netns: str
    dst_ip: str
    what: str  # what the address is, for the report
    proto: str  # "tcp" | "icmp"
    port: int | None
    allowed: frozenset[str]
    at_eni: bool = False  # aimed at an ENI: only listener ports may answer
    declared: bool = False

    @property
    def name(self) -> str:
        where = f"{self.dst_ip}:{self.port}" if self.proto == "tcp" else f"{self.dst_ip} (ICMP echo)"
        return f"{self.client} -> {self.what} {where}"


def sg_admits(plan: dict, eni_ip: str, client_ip: str, port: int) -> bool:
    """Whether the security groups on the ENI at `eni_ip` admit TCP from client_ip to port.
    A plan without security groups (or an ENI without a guard) admits everything."""
    import ipaddress

    guard = next((g for g in plan.get("eni_guards", []) if g["ip"] == eni_ip and g.get("live", True)), None)
    if guard is None:
        return True
    groups = {g["id"]: g for g in plan.get("security_groups", [])}
    addr = ipaddress.IPv4Address(client_ip)
    for gid in guard["groups"]:
        for rule in groups.get(gid, {}).get("ingress", []):
            if rule["protocol"].lower() in ("tcp", "-1", "all") and rule["from_port"] <= port <= rule["to_port"] \
                    and addr in ipaddress.IPv4Network(rule["cidr"], strict=False):
                return True
    return False


class Index:
    """The plan looked up by what a flow needs: instances, VPCs, links, NLB nodes."""

    def __init__(self, plan: dict, links: list[Link]):
        self.plan = plan
        self.instances = {i["Name"]: i for i in plan["inventory"].get("instances", [])}
        self.vpc_of_id = {v["VpcId"]: v["Name"] for v in plan["inventory"].get("vpcs", [])}
        self.link_by_key = {ln.key: ln for ln in links}
        self.nodes = {n["container"]: n for n in plan["nodes"]}
        self.sides = vpc_sides(plan)

    def vpc(self, instance: str) -> str | None:
        return self.vpc_of_id.get(self.instances[instance]["VpcId"])  # None: an on-premises instance

    def instance_link(self, instance: str) -> str:
        link = self.link_by_key.get(f"instance:{instance}") or self.link_by_key[f"onprem-instance:{instance}"]
        return link.name

    def consumers(self, vpc: str) -> list[dict]:
        """The VPC's own instances (on-premises clients take part only through declared flows)."""
        return [i for i in self.instances.values() if self.vpc_of_id.get(i["VpcId"]) == vpc]

    def transit(self, client: dict) -> tuple[str, ...]:
        """The DX link an on-premises client's traffic must cross to reach its VPC; () for a VPC instance."""
        site = client.get("OnPremises")
        if site is None:
            return ()
        return tuple(f"dx/{v['VirtualInterfaceName']}" for v in self.plan["inventory"].get("virtual_interfaces", [])
                     if v["OnPremises"] == site)

    def link_of_eni(self, eni: dict) -> str:
        return next(ln.name for ln in self.link_by_key.values()
                    if ln.kind in ("endpoint-eni", "backbone") and ln.owner == eni["id"])

    def link_of_node(self, container: str) -> str:
        return next(ln.name for ln in self.link_by_key.values() if ln.kind == "nlb-target" and ln.owner == container)


def flows_for(ix: Index, client: dict, ep: dict, az: str | None, port: int | None, declared: bool,
               credential: str | None = None) -> list[FlowSpec]:
    """The flows from `client` to each ENI of `ep` (in `az`, on `port`, when given), one per listener;
    `credential`: present another tenant's (lab.verify.tenancy)."""
    from lab.verify.tenancy import flow_tenancy

    owner = next((v["OwnerId"] for v in ix.plan["inventory"].get("vpcs", []) if v["VpcId"] == client["VpcId"]), "")
    flows = []
    for eni in ep["enis"]:
        if az is not None and eni["az"] != az:
            continue
        node = ix.nodes.get(eni["node"])
        if node is None:
            continue
        for fe in node["frontends"]:
            if fe["ip"] != eni["ip"] or fe["vpce_id"] != ep["id"] or (port is not None and fe["port"] != port):
                continue
            backend = next(b for b in node["backends"] if b["name"] == fe["backend"])
            targets = tuple(Target(s["name"], s["ip"], s["port"], ix.instance_link(s["name"]),
                                   ix.instances[s["name"]].get("AvailabilityZone", ""))
                            for s in backend["servers"])
            flows.append(FlowSpec(
                client["Name"], client["PrivateIpAddress"], client["Netns"], ix.instance_link(client["Name"]),
                ep["id"], ep["name"], eni["id"], eni["ip"], eni["az"], ix.link_of_eni(eni), fe["port"],
                node["container"], node["provider_ip"], ix.link_of_node(node["container"]), targets,
                backend["proxy_protocol_v2"], declared,
                "reach" if sg_admits(ix.plan, eni["ip"], client["PrivateIpAddress"], fe["port"]) else "blocked",
                **flow_tenancy(ix.plan, client, owner, eni["ip"], fe["port"], credential),
                client_az=client.get("AvailabilityZone", ""), node_az=node["az"], transit=ix.transit(client)))
    return flows
