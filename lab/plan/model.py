"""The plan: the lab's desired state, fully resolved (every name, address, ID and table number).

`lab.plan.build` makes it from a validated topology without touching the system; `lab.apply`
makes it real. Keeping the two apart lets the plan be unit-tested without root and lets
`lab status` explain the lab from the state file alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

PlaceKind = Literal["netns", "container"]
MAIN_TABLE = 254
# The sysctls of a VPC router and of an instance namespace (lab.plan.build, lab.plan.onprem).
NO_IPV6 = {"net/ipv6/conf/all/disable_ipv6": "1", "net/ipv6/conf/default/disable_ipv6": "1"}
ROUTER_SYSCTLS = {"net/ipv4/ip_forward": "1", **NO_IPV6}
INSTANCE_SYSCTLS = dict(NO_IPV6)


@dataclass(frozen=True)
class Place:
    """Where an interface lives: a named network namespace, or an NLB node container's namespace."""

    kind: PlaceKind
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class Iface:
    place: Place
    ifname: str
    addresses: tuple[str, ...] = ()  # CIDR notation, e.g. "10.0.1.10/24"
    master: str | None = None  # a bridge in the same place
    # Legs of an NLB node share subnets (consumer and provider CIDRs overlap), so their connected
    # routes live only in per-leg tables, never in the main table where they would collide.
    noprefixroute: bool = False


@dataclass(frozen=True)
class VethPair:
    key: str  # stable identity within the lab, e.g. "instance:consumer-client"
    role: str  # instance | nlb-provider | endpoint-eni
    a: Iface
    b: Iface
    tmp: tuple[str, str]  # root-namespace names before the ends are moved
    alias: str  # ownership marker written to both ends
    mtu: int | None = None  # both ends (lab.plan.mtu); None: the kernel's 1500


@dataclass(frozen=True)
class Bridge:
    place: Place
    ifname: str
    addresses: tuple[str, ...]
    subnet: str
    # Fixed, because a bridge without one takes the lowest MAC among its ports: adding or removing
    # an ENI leg would change the gateway's MAC under the instances' ARP caches (~30 s outage).
    mac: str
    mtu: int | None = None  # set explicitly, so an 8500 ENI port does not lower it (lab.plan.mtu)


@dataclass(frozen=True)
class Route:
    place: Place
    dst: str  # "0.0.0.0/0" or a CIDR
    dev: str
    gateway: str | None = None
    table: int = MAIN_TABLE


@dataclass(frozen=True)
class Rule:
    place: Place
    src: str
    table: int
    priority: int


@dataclass(frozen=True)
class Netns:
    name: str
    role: Literal["vpc-router", "instance", "onprem-router", "onprem-instance", "igw", "internet-router",
                  "internet-host", "nat-gateway"]
    vpc: str
    instance: str | None
    sysctls: dict[str, str]


@dataclass(frozen=True)
class Server:
    name: str
    ip: str
    port: int
    source: str  # the node's provider-leg IP: targets see it as the peer, as on AWS
    iface: str
    # Deregistered, its deregistration delay running: HAProxy keeps it in maintenance (`disabled`),
    # so no new connection reaches it while the ones it has go on.
    draining: bool = False


@dataclass(frozen=True)
class Backend:
    name: str
    proxy_protocol_v2: bool
    interval_s: int
    rise: int
    fall: int
    servers: tuple[Server, ...]
    # HTTP health checks (AWS's HealthCheckPath and Matcher.HttpCode); "" path: TCP checks.
    check_path: str = ""
    check_codes_regex: str = ""
    # The longest idle timeout of the listeners forwarding here (lab.apply.idle): HAProxy's timeout server.
    idle_timeout_s: int = 350


@dataclass(frozen=True)
class Frontend:
    name: str
    ip: str
    port: int
    iface: str
    vpce_id: str
    backend: str
    idle_timeout_s: int = 350  # the listener's tcp.idle_timeout.seconds


@dataclass(frozen=True)
class NlbNode:
    container: str
    nlb: str
    az: str
    provider_ip: str
    sysctls: dict[str, str]
    frontends: tuple[Frontend, ...]
    backends: tuple[Backend, ...]


@dataclass(frozen=True)
class App:
    instance: str
    netns: str
    kind: str
    port: int
    az: str
    vpc: str
    # Filled in by lab.plan.tenancy for demo targets: every port it listens on (its own and every
    # target group's that sends to it), the ones that receive PROXY v2, and the tenant table.
    ports: tuple[int, ...] = ()
    ppv2_ports: tuple[int, ...] = ()
    tenancy: str = ""  # "", token, port or ppv2
    tenants: tuple[tuple[str, str], ...] = ()  # (token | port | endpoint ID, tenant) pairs


@dataclass(frozen=True)
class Eni:
    id: str
    subnet: str
    subnet_id: str
    az: str
    ip: str
    node: str  # the NLB node container that owns this leg
    ifname: str


@dataclass(frozen=True)
class EndpointPlan:
    id: str
    name: str
    vpc: str
    account: str
    service: str
    service_id: str
    state: str
    enis: tuple[Eni, ...]
    dns_entries: tuple[dict[str, str], ...]


@dataclass
class Plan:
    lab: str
    region: str
    namespaces: list[Netns] = field(default_factory=list)
    bridges: list[Bridge] = field(default_factory=list)
    veths: list[VethPair] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    nodes: list[NlbNode] = field(default_factory=list)
    apps: list[App] = field(default_factory=list)
    endpoints: list[EndpointPlan] = field(default_factory=list)
    inventory: dict[str, list[dict]] = field(default_factory=dict)
    # DNS and security groups (their dataclasses live in lab.plan.dns and lab.plan.security).
    resolvers: list = field(default_factory=list)  # lab.plan.dns.Resolver, one per VPC
    private_dns_names: list = field(default_factory=list)  # lab.plan.dns.PrivateDnsName, one per service with one
    security_groups: list = field(default_factory=list)  # lab.plan.security.SecurityGroupPlan
    eni_guards: list = field(default_factory=list)  # lab.plan.security.EniGuard, one per endpoint ENI
    impairments: list = field(default_factory=list)  # lab.plan.impair.LinkImpairment, one per impaired link
    tenancy: dict = field(default_factory=dict)  # lab.plan.tenancy: the mode and tenants, for lab verify
    # Direct Connect (lab.plan.onprem): DxPlan per link, OnPremResolver per site, InboundEndpoint per DX VPC.
    direct_connect: list = field(default_factory=list)
    onprem_resolvers: list = field(default_factory=list)
    inbound_endpoints: list = field(default_factory=list)
    # The internet around the VPCs (lab.plan.internet): gateways with their 1:1 NAT, and the internet router.
    igws: list = field(default_factory=list)  # lab.plan.internet.IgwPlan, one per VPC with internet_gateway
    internet: object | None = None  # lab.plan.internet.InternetPlan, when the lab has an internet

    def to_dict(self) -> dict:
        return asdict(self)

    def places(self) -> list[Place]:
        return [Place("netns", ns.name) for ns in self.namespaces] + [Place("container", n.container) for n in self.nodes]
