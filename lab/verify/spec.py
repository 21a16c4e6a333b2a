"""What `lab verify` tests: flows that must work and probes that must go nowhere, from the plan.

Built-in flows: every consumer instance -> every ENI of every available endpoint in its VPC, on
every listener port. Built-in probes, from every consumer instance: every provider address
(target instances, NLB node provider legs) on the targets' and listeners' ports and by ICMP, and
every ENI on ports that are not listeners and by ICMP. A topology's `verify:` section adds flows
and isolation pairs (and may turn the built-in ones off). Everything here is pure: no root.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.plan.links import PROVIDER, Link, vpc_sides

EXTRA_ENI_PORTS = (22, 443)  # besides the targets' ports: what a curious client tries first
MAX_PROBES = 2000  # each is one packet; beyond this a lab is too large to probe exhaustively


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


@dataclass
class VerifyPlan:
    flows: list[FlowSpec] = field(default_factory=list)
    probes: list[ProbeSpec] = field(default_factory=list)
    dns: list[DnsSpec] = field(default_factory=list)
    names: list = field(default_factory=list)  # lab.verify.names.NameFlowSpec: flows by DNS name
    notes: list[str] = field(default_factory=list)


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


class _Index:
    def __init__(self, plan: dict, links: list[Link]):
        self.plan = plan
        self.instances = {i["Name"]: i for i in plan["inventory"].get("instances", [])}
        self.vpc_of_id = {v["VpcId"]: v["Name"] for v in plan["inventory"].get("vpcs", [])}
        self.link_by_key = {ln.key: ln for ln in links}
        self.nodes = {n["container"]: n for n in plan["nodes"]}
        self.sides = vpc_sides(plan)

    def vpc(self, instance: str) -> str:
        return self.vpc_of_id[self.instances[instance]["VpcId"]]

    def instance_link(self, instance: str) -> str:
        return self.link_by_key[f"instance:{instance}"].name

    def consumers(self, vpc: str) -> list[dict]:
        return [i for i in self.instances.values() if self.vpc_of_id[i["VpcId"]] == vpc]

    def link_of_eni(self, eni: dict) -> str:
        return next(ln.name for ln in self.link_by_key.values() if ln.kind in ("endpoint-eni", "backbone") and ln.owner == eni["id"])

    def link_of_node(self, container: str) -> str:
        return next(ln.name for ln in self.link_by_key.values() if ln.kind == "nlb-target" and ln.owner == container)


def _flows_for(ix: _Index, client: dict, ep: dict, az: str | None, port: int | None, declared: bool,
               credential: str | None = None) -> list[FlowSpec]:
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
                client_az=client.get("AvailabilityZone", ""), node_az=node["az"]))
    return flows


def _forged_flows(ix: _Index, endpoints: list[dict]) -> list[FlowSpec]:
    """Tenancy mode ppv2: from each tenant's endpoint, one request carrying a forged PROXY header that
    names the next tenant's endpoint inside its payload (lab.verify.tenancy): the app must not believe it."""
    rows = ix.plan["tenancy"]["tenants"]
    owners = {v["VpcId"]: v["OwnerId"] for v in ix.plan["inventory"].get("vpcs", [])}
    out: list[FlowSpec] = []
    for ep in endpoints:
        clients = ix.consumers(ep["vpc"])
        mine = [i for i, t in enumerate(rows) if clients and t["account_id"] == owners.get(clients[0]["VpcId"])]
        if not mine or len(rows) < 2 or not ep["enis"]:
            continue
        other = rows[(mine[0] + 1) % len(rows)]["account"]
        out += _flows_for(ix, clients[0], ep, ep["enis"][0]["az"], None, False, other)[:1]
    return out


def build(plan: dict, links: list[Link], declared=None) -> VerifyPlan:
    """The flows and probes of one verify run. `declared` is the topology's VerifySpec (or None)."""
    ix = _Index(plan, links)
    out = VerifyPlan()
    builtin = declared is None or declared.builtin
    endpoints = [ep for ep in plan["endpoints"] if ep["state"] == "available"]
    for ep in plan["endpoints"]:
        if ep["state"] != "available":
            out.notes.append(f"endpoint {ep['name']} ({ep['id']}) is {ep['state']}: it has no data path to test")
    if builtin:
        for ep in endpoints:
            for client in ix.consumers(ep["vpc"]):
                out.flows += _flows_for(ix, client, ep, None, None, False)
        if (plan.get("tenancy") or {}).get("mode") == "ppv2":
            out.flows += _forged_flows(ix, endpoints)
        # Even an endpoint that is not available makes its VPC a consumer that must not reach the provider.
        out.probes += _builtin_probes(ix, plan["endpoints"])
    if declared is not None:
        by_name = {ep["name"]: ep for ep in plan["endpoints"]}
        for i, flow in enumerate(declared.flows):
            ep = by_name[flow.endpoint]
            if getattr(flow, "name", None):
                from lab.verify.names import declared_name_flows

                named = declared_name_flows(ix, ep, flow, f"verify.flows[{i}]")
                out.names += [n for n in named if n not in out.names]
                continue
            new = _flows_for(ix, ix.instances[flow.client], ep, flow.az, flow.port, True,
                             getattr(flow, "credential", None))
            if not new:
                out.notes.append(f"declared flow {flow.client} -> {flow.endpoint} has no data path "
                                 f"(endpoint state {ep['state']})")
            out.flows += [f for f in new if f not in out.flows]
        for iso in declared.isolation:
            out.probes += _isolation_probes(ix, iso)
    if builtin:
        from lab.verify.names import builtin_name_flows

        out.dns = _dns_queries(ix, endpoints)
        out.names = builtin_name_flows(ix, endpoints) + out.names
    if len(out.probes) > MAX_PROBES:
        out.notes.append(f"{len(out.probes)} probes planned; only the first {MAX_PROBES} are sent")
        out.probes = out.probes[:MAX_PROBES]
    return out


def _probe(client: dict, own: frozenset[str], **kw) -> ProbeSpec:
    return ProbeSpec(client["Name"], client["PrivateIpAddress"], client["Netns"], allowed=own, **kw)


def _own_vpc_links(ix: _Index, vpc: str) -> frozenset[str]:
    """A probe towards the provider may wander inside the client's own VPC (overlapping addresses
    answer there), but never onto an ENI, an NLB leg, a peering or another VPC's subnet."""
    return frozenset(ln.name for ln in ix.link_by_key.values()
                     if ln.vpc == vpc and ln.kind in ("consumer-subnet", "subnet"))


def _builtin_probes(ix: _Index, endpoints: list[dict]) -> list[ProbeSpec]:
    provider_vpcs = ix.sides[PROVIDER]
    provider_addrs = [(i["PrivateIpAddress"], f"provider instance {i['Name']}") for i in ix.instances.values()
                      if ix.vpc(i["Name"]) in provider_vpcs]
    provider_addrs += [(n["provider_ip"], f"NLB node {n['nlb']}@{n['az']} provider leg") for n in ix.nodes.values()]
    target_ports = sorted({s["port"] for n in ix.nodes.values() for b in n["backends"] for s in b["servers"]})
    listener_ports = sorted({fe["port"] for n in ix.nodes.values() for fe in n["frontends"]})
    provider_ports = sorted(set(target_ports) | set(listener_ports))
    probes: list[ProbeSpec] = []
    for vpc in sorted({ep["vpc"] for ep in endpoints}):
        own = _own_vpc_links(ix, vpc)
        # Address spaces overlap: a provider address that is also an ENI of this VPC (several NLBs
        # take several addresses at the top of a subnet) reaches that ENI, rightly; not a probe of the provider.
        own_enis = {eni["ip"] for ep in endpoints if ep["vpc"] == vpc for eni in ep["enis"]}
        for client in ix.consumers(vpc):
            client_link = ix.instance_link(client["Name"])
            for ip, what in provider_addrs:
                if ip in own_enis:
                    continue
                probes += [_probe(client, own, dst_ip=ip, what=what, proto="tcp", port=p) for p in provider_ports]
                probes.append(_probe(client, own, dst_ip=ip, what=what, proto="icmp", port=None))
            for ep in endpoints:
                if ep["vpc"] != vpc or ep["state"] != "available":
                    continue  # an ENI without a data path has nothing to probe
                for eni in ep["enis"]:
                    node = ix.nodes.get(eni["node"])
                    listening = {fe["port"] for fe in node["frontends"] if fe["ip"] == eni["ip"]} if node else set()
                    closed = sorted((set(target_ports) | set(EXTRA_ENI_PORTS)) - listening)
                    allowed = frozenset({client_link, ix.link_of_eni(eni)})
                    what = f"ENI {eni['id']} of {ep['name']}"
                    probes += [_probe(client, allowed, dst_ip=eni["ip"], what=what, proto="tcp", port=p, at_eni=True)
                               for p in closed]
                    probes.append(_probe(client, allowed, dst_ip=eni["ip"], what=what, proto="icmp", port=None,
                                         at_eni=True))
    return probes


def _isolation_probes(ix: _Index, iso) -> list[ProbeSpec]:
    client, target = ix.instances[iso.client], ix.instances[iso.target]
    ports = list(iso.ports) or sorted({s["port"] for n in ix.nodes.values() for b in n["backends"]
                                       for s in b["servers"] if s["name"] == iso.target}) or [22]
    own = _own_vpc_links(ix, ix.vpc(iso.client))
    what = f"instance {iso.target} (declared isolated)"
    probes = [_probe(client, own, dst_ip=target["PrivateIpAddress"], what=what, proto="tcp", port=p, declared=True)
              for p in ports]
    probes.append(_probe(client, own, dst_ip=target["PrivateIpAddress"], what=what, proto="icmp", port=None,
                         declared=True))
    return probes


DNS_ORIGINS = ("regional", "zonal", "private-dns")


def _dns_queries(ix: _Index, endpoints: list[dict]) -> list[DnsSpec]:
    """Each consumer instance asks its VPC's resolver for every name of every available endpoint there."""
    live = {ep["name"]: ep for ep in endpoints}
    out = []
    for resolver in ix.plan.get("resolvers", []):
        if not resolver.get("enabled", True):
            continue
        records = [r for r in resolver["records"] if r["origin"] in DNS_ORIGINS and r.get("endpoint") in live
                   and r["type"] == "A"]
        for client in ix.consumers(resolver["vpc"]):
            for rec in records:
                out.append(DnsSpec(client["Name"], client["PrivateIpAddress"], client["Netns"],
                                   ix.instance_link(client["Name"]), resolver["ip"], rec["name"], rec["origin"],
                                   rec["endpoint"], tuple(sorted(rec["values"]))))
    return out

