"""The topology file's schema: what a user may write, and nothing more.

Every model forbids unknown keys, so a typo is an error rather than a silently ignored setting.
Field validators only check a value on its own; rules that relate two parts of the file
(references, overlaps, AZ coverage) live in `lab.topology.rules`, which runs after this.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from lab.topology import units

from lab.topology.events import CONNECTION_EVENTS

from lab.topology.base import (  # noqa: F401 - re-exported: the file's building blocks
    NAME_RE, ACCOUNT_RE, DNS_NAME_RE, ENDPOINT_STATES, Name, IPv4Net, IPv4Addr, AccountId, IPv4Cidr, DnsName, Port, Strict, _name, _ipv4_network, _ipv4_address, _ipv4_cidr, _dns_name, _account_id,
)
from lab.topology.base import health_path as _health_path, http_codes as _http_codes


class AvailabilityZone(Strict):
    """An AZ has a per-account name (us-east-1a) and a global ID (use1-az1), as on AWS."""

    name: Annotated[str, Field(pattern=r"^[a-z]{2}-[a-z]+-[0-9][a-z]$")]
    id: Annotated[str, Field(pattern=r"^[a-z0-9]+-az[0-9]+$")]


class Subnet(Strict):
    name: Name
    az: str
    cidr: IPv4Net
    # A public subnet's route table sends 0.0.0.0/0 to the VPC's internet gateway (lab.plan.internet).
    public: bool = False
    nat_gateway: str | None = None  # a private subnet's 0.0.0.0/0 -> this NAT gateway of the VPC


class Instance(Strict):
    name: Name
    subnet: str
    ip: IPv4Addr | None = None
    app: Literal["demo-target", "webhook-receiver"] | None = None
    port: Port = 8080
    # Translated 1:1 at the VPC's internet gateway; the instance itself holds only its private address.
    public_ip: IPv4Addr | None = None
    # Jumbo frames (9001) unless the instance lowers its own (lab.plan.mtu); it can never raise it.
    mtu: Annotated[int, Field(ge=1280, le=9001)] | None = None


class SecurityGroupRule(Strict):
    """One inbound rule: TCP from a CIDR to one port (`port`) or a range (`ports: [from, to]`)."""

    protocol: Literal["tcp"] = "tcp"
    cidr: IPv4Cidr
    port: Port | None = None
    ports: Annotated[list[Port], Field(min_length=2, max_length=2)] | None = None
    description: Annotated[str, Field(max_length=64)] = ""


class SecurityGroup(Strict):
    """Stateful inbound rules for endpoint ENIs. A group named `default` replaces the VPC's lab default."""

    name: Name
    description: Annotated[str, Field(max_length=64)] = ""
    ingress: Annotated[list[SecurityGroupRule], Field(max_length=60)] = []  # AWS: 60 inbound rules per group


class VpnGateway(Strict):
    """A VPC's virtual private gateway; its BGP ASN is Amazon's side of every DX session (AWS default 64512).
    Range rules (16-bit 64512-65534 or 32-bit 4200000000-4294967294) are checked in lab.topology.onprem."""

    amazon_side_asn: int = 64512
class NatGateway(Strict):
    """A public NAT gateway: an address in a public subnet, translated at the IGW to its own public IP."""

    name: Name
    subnet: str  # a public subnet of the VPC
    public_ip: IPv4Addr | None = None  # its Elastic IP; unset: allocated from 203.0.113.0/24


class Vpc(Strict):
    name: Name
    account: str
    cidr: IPv4Net
    subnets: Annotated[list[Subnet], Field(min_length=1, max_length=16)]
    instances: Annotated[list[Instance], Field(max_length=64)] = []
    enable_dns_support: bool = True
    enable_dns_hostnames: bool = True
    security_groups: Annotated[list[SecurityGroup], Field(max_length=50)] = []
    # A virtual private gateway (AWS's CreateVpnGateway): what a Direct Connect private VIF attaches to.
    vpn_gateway: VpnGateway | None = None
    internet_gateway: bool = False  # an IGW attached to the VPC (lab.plan.internet)
    nat_gateways: Annotated[list[NatGateway], Field(max_length=5)] = []
    region: str | None = None  # one of `regions:`; unset: the top-level region (lab.topology.regions)


class HealthCheck(Strict):
    # TCP: connect, then close. HTTP: GET `path`, healthy when the status is one of `matcher`
    # (AWS's HealthCheckPath and Matcher.HttpCode; AWS's defaults for an NLB are / and 200-399).
    protocol: Literal["TCP", "HTTP"] = "TCP"
    # AWS allows 5-300 s (default 30); the lab defaults to 5 s so a workshop sees a target fail quickly.
    interval: Annotated[int, Field(ge=5, le=300)] = 5
    healthy_threshold: Annotated[int, Field(ge=2, le=10)] = 5
    unhealthy_threshold: Annotated[int, Field(ge=2, le=10)] = 2
    path: Annotated[str, AfterValidator(_health_path)] | None = None
    matcher: Annotated[str, AfterValidator(_http_codes)] | None = None

    @model_validator(mode="after")
    def _http_only(self):
        if self.protocol != "HTTP":
            for key in ("path", "matcher"):
                if getattr(self, key) is not None:
                    raise ValueError(f"{key} needs protocol HTTP (a TCP check only connects); "
                                     f"fix: set protocol: HTTP or remove {key}")
        return self


class DrainingTarget(Strict):
    """A deregistered target while its deregistration delay runs (kept by `lab target deregister`)."""

    target: str
    until: Annotated[float, Field(ge=0)]  # Unix time at which the delay ends


class TargetGroup(Strict):
    name: Name
    protocol: Literal["TCP"] = "TCP"
    port: Port
    proxy_protocol_v2: bool = False
    health_check: HealthCheck = HealthCheck()
    # Registered targets (`lab target register|deregister` change them live). Empty is allowed, as on AWS.
    targets: Annotated[list[str], Field(max_length=64)]
    # AWS's deregistration_delay.timeout_seconds (0-3600, default 300): how long a deregistered target
    # drains (open connections go on, no new one reaches it) before it is removed.
    deregistration_delay: Annotated[int, Field(ge=0, le=3600)] = 300
    draining: Annotated[list[DrainingTarget], Field(max_length=64)] = []


class Listener(Strict):
    protocol: Literal["TCP"] = "TCP"
    port: Port
    target_group: str
    # AWS's listener attribute tcp.idle_timeout.seconds (60-6000, default 350): a flow that carries no
    # data either way for this long is forgotten; the next packet of either side meets a reset.
    idle_timeout: Annotated[int, Field(ge=60, le=6000)] = 350


class LoadBalancer(Strict):
    name: Name
    vpc: str
    subnets: Annotated[list[str], Field(min_length=1)]
    cross_zone: bool = False
    listeners: Annotated[list[Listener], Field(min_length=1)]
    target_groups: Annotated[list[TargetGroup], Field(min_length=1)]
    # internet-facing: each node gets a public address (one per subnet; unset: allocated), NATed at the IGW.
    scheme: Literal["internal", "internet-facing"] = "internal"
    public_ips: Annotated[list[IPv4Addr], Field(max_length=6)] = []
    public_dns_name: DnsName | None = None  # the provider's public DNS record for the NLB's addresses


class Subscriber(Strict):
    """Who hears about the service's endpoint connections (AWS: an SNS topic with a Lambda on it).

    Exactly one of `command` (run on the host with the event JSON on stdin, like a Lambda) or
    `webhook` (an HTTP POST sent from inside the lab, from the namespace of instance or VPC `from`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    command: Annotated[list[str], Field(min_length=1)] | None = None
    webhook: str | None = None
    from_: Annotated[str | None, Field(alias="from")] = None
    events: list[Literal["Connect", "Accept", "Reject", "Delete"]] = list(CONNECTION_EVENTS)
    timeout: Annotated[int, Field(ge=1, le=300)] = 30
    attempts: Annotated[int, Field(ge=1, le=5)] = 3  # a failed delivery is retried, bounded (lab.privatelink.retry)


class EndpointService(Strict):
    name: Name
    account: str
    nlb: str
    acceptance_required: bool = True
    allowed_principals: list[str] = []
    private_dns_name: DnsName | None = None
    # AWS's PrivateDnsNameConfiguration.State. `lab dns verify-domain` sets it after checking the TXT
    # record; unset means pendingVerification. Writing `verified` skips the ownership check.
    private_dns_state: Literal["pendingVerification", "verified", "failed"] | None = None
    notifications: list[Subscriber] = []
    # Regions whose consumers may reach the service (AWS: SupportedRegions); its own region always may.
    supported_regions: Annotated[list[str], Field(max_length=16)] = []


class DnsAlias(Strict):
    """A friendly name (the talk's CNAME tip): CNAME to the regional name, or to one AZ's zonal name."""

    name: DnsName
    az: str | None = None


def _alias_shorthand(value: object) -> object:
    return {"name": value} if isinstance(value, str) else value  # `- web.internal` means {name: web.internal}


AliasEntry = Annotated[DnsAlias, BeforeValidator(_alias_shorthand, json_schema_input_type=DnsName | DnsAlias)]


class Endpoint(Strict):
    name: Name
    vpc: str
    service: str
    subnets: Annotated[list[str], Field(min_length=1)]
    # Unset means what AWS would do: pendingAcceptance when the service requires acceptance, else available.
    state: Literal["pendingAcceptance", "available", "rejected", "failed"] | None = None
    private_dns_enabled: bool = False
    security_groups: Annotated[list[Name], Field(max_length=5)] = []  # AWS: 5 groups per ENI; none = `default`
    # json_schema_input_type: `lab schema` must accept the `- web.internal` shorthand too.
    aliases: Annotated[list[AliasEntry], Field(max_length=20)] = []
    # The consumer's own subscribers (AWS: CreateVpcEndpointConnectionNotification on the endpoint),
    # told about this endpoint's events in addition to the service's subscribers.
    notifications: list[Subscriber] = []
    # Where the service lives (AWS: CreateVpcEndpoint's ServiceRegion); unset: the endpoint's own region.
    service_region: str | None = None


class Peering(Strict):
    """A VPC peering connection: routed traffic between two VPCs whose CIDRs do not overlap.

    PrivateLink exists so that consumers do not need one; the lab has it so that a topology can
    show (and `lab verify` can catch) service traffic that leaks around the endpoint.
    """

    name: Name
    vpcs: Annotated[list[str], Field(min_length=2, max_length=2)]


class VerifyFlow(Strict):
    """A consumer -> endpoint flow that `lab verify` must see working, and only through the endpoint;
    or (with `nlb:` instead of `endpoint:`) a flow to an internet-facing NLB's public addresses."""

    client: str  # an instance in the endpoint's VPC
    endpoint: str | None = None
    nlb: str | None = None  # an internet-facing NLB, reached over the internet (needs exposure: public)
    # private: the flow must never touch a public-side link (internet, IGW); public: it may cross them.
    exposure: Literal["private", "public"] = "private"
    az: str | None = None  # one ENI (by AZ); unset: every ENI of the endpoint
    port: Port | None = None  # one listener; unset: every listener
    # Reach the endpoint by a DNS name, resolved by the VPC's resolver inside the client: `regional`,
    # `zonal`, or a name the lab serves for it (the generated names, its private DNS name, an alias).
    # Which names a lab serves is known only once planned, so lab/verify/spec.py checks it.
    name: str | None = None
    # Multi-tenant labs: present this tenant's credential (an account of `tenancy.tenants`) instead
    # of the client's own: mode token sends its API token, mode ppv2 a forged PROXY header naming
    # its endpoint inside the payload. The tenant check still expects the client's own tenant.
    credential: str | None = None


class VerifyIsolation(Strict):
    """An instance a client must not reach at all: judged by capture, not by whether something answers."""

    client: str
    target: str  # an instance in another VPC
    ports: Annotated[list[Port], Field(max_length=16)] = []  # TCP ports probed besides ICMP; unset: the target's port


class Residency(Strict):
    """Data residency: the regions the bytes of these endpoints' flows may reach (unset endpoints: every flow)."""

    endpoints: Annotated[list[str], Field(max_length=64)] = []
    regions: Annotated[list[str], Field(min_length=1, max_length=16)]


class VerifySpec(Strict):
    """Checks `lab verify` runs on top of (or, with builtin: false, instead of) its built-in ones."""

    builtin: bool = True
    flows: Annotated[list[VerifyFlow], Field(max_length=64)] = []
    isolation: Annotated[list[VerifyIsolation], Field(max_length=64)] = []
    residency: Annotated[list[Residency], Field(max_length=64)] = []  # lab.verify.residency


def _unit(parse):
    def check(value: str) -> str:
        parse(value)  # raises ValueError with its fix
        return value
    return AfterValidator(check)


def _number_as_text(value):
    """`rate: 100` is a number without its unit: say that, rather than "expected a string"."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Unitful = BeforeValidator(_number_as_text)


class Impairment(Strict):
    """What a link does to the packets it carries, in each direction (tbf for rate, netem for the rest)."""

    link: Annotated[str, Field(min_length=1, max_length=96)]  # a name as `lab capture --list` shows it
    rate: Annotated[str | None, Unitful, _unit(units.rate_bps)] = None
    delay: Annotated[str | None, Unitful, _unit(units.duration_us)] = None
    jitter: Annotated[str | None, Unitful, _unit(units.duration_us)] = None
    loss: Annotated[str | None, Unitful, _unit(units.percent)] = None

    @model_validator(mode="after")
    def _something_and_jitter_with_delay(self) -> Impairment:
        if self.rate is self.delay is self.loss is None:
            raise ValueError("sets nothing; fix: give at least one of rate, delay or loss")
        if self.jitter is not None and self.delay is None:
            raise ValueError("jitter needs a delay to vary; fix: add delay (e.g. delay: 20ms)")
        return self


TOKEN_RE = r"^[A-Za-z0-9._~+/=-]{8,128}$"  # an RFC 6750 bearer token, 8-128 characters


class Tenant(Strict):
    """One customer of a multi-tenant service: an account of `accounts:`, and how the app knows it."""

    account: str
    endpoint: str | None = None  # mode ppv2: the endpoint whose ID (TLV 0xEA) names this tenant
    port: Port | None = None  # mode port: the target port the tenant's own NLB forwards to
    token: Annotated[str, Field(pattern=TOKEN_RE)] | None = None  # mode token: the tenant's API token


class Tenancy(Strict):
    """How the demo targets tell tenants apart (the talk's three multi-tenant modes)."""

    mode: Literal["token", "port", "ppv2"]
    tenants: Annotated[list[Tenant], Field(min_length=1, max_length=64)]


from lab.topology.onprem import DirectConnect, OnPremises  # noqa: E402 - its models build on Strict above
def _policy(value: dict) -> dict:
    from lab.iam.policy import PolicyError, check

    try:
        check(value)
    except PolicyError as err:
        raise ValueError(f"{err.path + ': ' if err.path else ''}{err.problem}; fix: {err.fix}") from None
    return value


class IamIdentity(Strict):
    """Identity policies (AWS's JSON grammar) for an account's own keys, or for an IAM user in it
    (who then gets keys of their own). An account with no entry here acts as its root: anything."""

    account: str
    user: Name | None = None
    policies: Annotated[list[Annotated[dict, AfterValidator(_policy)]], Field(min_length=1, max_length=10)]


class SnsTopic(Strict):
    """An SNS topic for the EC2 API's CreateVpcEndpointConnectionNotification: its ARN is
    arn:aws:sns:<region>:<account id>:<name>, and its subscribers are the lab's (commands, webhooks)."""

    name: Name
    account: str
    subscribers: Annotated[list[Subscriber], Field(min_length=1, max_length=10)]
class InternetHost(Strict):
    """A host on the lab's public internet (a namespace behind the internet router), e.g. a scanner."""

    name: Name
    ip: IPv4Addr | None = None


class Internet(Strict):
    """Namespaces standing for the public internet. Every address in it is from RFC 5737."""

    cidr: IPv4Net = "198.51.100.0/24"  # the hosts' LAN behind the internet router
    hosts: Annotated[list[InternetHost], Field(max_length=16)] = []
RegionName = Annotated[str, Field(pattern=r"^[a-z]{2}-[a-z]+-[0-9]$")]


class Region(Strict):
    """One region of a multi-region topology, with its own AZs (lab.topology.regions)."""

    name: RegionName
    azs: Annotated[list[AvailabilityZone], Field(min_length=1, max_length=6)]


class Backbone(Strict):
    """The inter-region backbone: its one-way delay (netem, where the kernel has it)."""

    delay: Annotated[str, Unitful, _unit(units.duration_us)] | None = None


def _regions_form(data: object) -> object:
    """`regions:` is the multi-region form of `region:` + `azs:`: fill those in from it, so everything
    that reads topo.region (the default region) and topo.azs (every AZ) works unchanged."""
    if not isinstance(data, dict) or "regions" not in data or "azs" in data:
        return data
    regions = data["regions"]
    if not isinstance(regions, list) or not all(isinstance(r, dict) and isinstance(r.get("azs"), list)
                                                for r in regions):
        return data  # the schema reports what is wrong with regions:
    filled = {**data, "azs": [az for r in regions for az in r["azs"]]}
    if "region" not in data and regions and isinstance(regions[0].get("name"), str):
        filled["region"] = regions[0]["name"]
    return filled


def _azs_or_regions(schema: dict) -> None:
    """`lab schema`: a file gives `azs:` (one region) or `regions:` (each with its AZs)."""
    schema["required"] = [k for k in schema.get("required", []) if k != "azs"]
    schema["anyOf"] = [{"required": ["azs"]}, {"required": ["regions"]}]


class Topology(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, json_schema_extra=_azs_or_regions)

    description: str = ""
    region: Annotated[str, Field(pattern=r"^[a-z]{2}-[a-z]+-[0-9]$")] = "us-east-1"
    regions: Annotated[list[Region], Field(max_length=8)] = []  # unset: one region, `region:` with `azs:`
    azs: Annotated[list[AvailabilityZone], Field(min_length=1, max_length=6)]
    accounts: Annotated[dict[Name, AccountId], Field(min_length=1)]
    vpcs: Annotated[list[Vpc], Field(min_length=1, max_length=256)]
    nlbs: list[LoadBalancer] = []
    endpoint_services: list[EndpointService] = []
    endpoints: list[Endpoint] = []
    peerings: list[Peering] = []
    # Direct Connect (issue 12, section 2): the networks and links are defined in lab.topology.onprem.
    on_premises: Annotated[list[OnPremises], Field(max_length=8)] = []
    direct_connect: Annotated[list[DirectConnect], Field(max_length=8)] = []
    impairments: list[Impairment] = []
    verify: VerifySpec = VerifySpec()
    tenancy: Tenancy | None = None  # lab.plan.tenancy; checked by lab.topology.tenancy
    iam: Annotated[list[IamIdentity], Field(max_length=64)] = []  # policies for the EC2 API (lab api serve)
    sns_topics: Annotated[list[SnsTopic], Field(max_length=64)] = []  # notification targets for the EC2 API
    internet: Internet | None = None
    backbone: Backbone = Backbone()  # cross-region links (lab.plan.regions)

    @model_validator(mode="before")
    @classmethod
    def _fill_from_regions(cls, data: object) -> object:
        return _regions_form(data)
