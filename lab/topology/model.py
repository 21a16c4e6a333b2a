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

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
DNS_NAME_RE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# States an endpoint can be stored in. `failed` is set by the control plane (lab.privatelink) when
# its legs could not be made; `deleting`/`deleted` are transient and only appear in its event log.
ENDPOINT_STATES = ("pendingAcceptance", "available", "rejected", "failed")
CONNECTION_EVENTS = ("Connect", "Accept", "Reject", "Delete")  # AWS endpoint connection notifications


def _name(value: str) -> str:
    if len(value) > 32:
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise ValueError(f"{shown!r} is {len(value)} characters long; fix: shorten it to at most 32 "
                         "(a-z, 0-9 and '-', starting with a letter)")
    if not NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid name; fix: use 1-32 characters of a-z, 0-9 and '-', starting with a letter"
        )
    return value


def _ipv4_network(value: str) -> str:
    if "/" not in value:  # ipaddress would read it as a /32 and blame "host bits"
        raise ValueError(f"{value} has no prefix length; fix: write address/prefix, e.g. {value}/24")
    try:
        net = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise ValueError(
            f"{value} is not a valid IPv4 network; fix: write an address and prefix length, e.g. 10.0.1.0/24"
        ) from None
    if str(net) != value:
        raise ValueError(f"{value} has host bits set; fix: write the network address, {net}")
    if not 16 <= net.prefixlen <= 28:
        # AWS allows VPC and subnet prefixes from /16 to /28; larger ones would also exhaust the lab's allocator.
        raise ValueError(f"{value}: prefix /{net.prefixlen} is outside AWS's range; fix: use a prefix from /16 to /28")
    return value


def _ipv4_address(value: str) -> str:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError(f"{value} is not a valid IPv4 address; fix: write four numbers 0-255, e.g. 10.0.1.10") from None
    return value


def _ipv4_cidr(value: str) -> str:
    """A security group rule's source: any prefix length, from 0.0.0.0/0 to a single /32."""
    try:
        net = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value} is not a valid IPv4 CIDR; fix: write an address and prefix length, e.g. 10.0.1.0/24") from None
    if str(net) != value:
        raise ValueError(f"{value} has host bits set; fix: write the network address, {net}")
    return value


def _dns_name(value: str) -> str:
    if len(value) > 253 or not DNS_NAME_RE.match(value):
        raise ValueError(f"{value!r} is not a DNS name the lab can serve; fix: write lower-case labels of a-z, 0-9 "
                         "and '-' joined by dots, at least two labels, e.g. api.example.com")
    return value


def _account_id(value: str) -> str:
    if not ACCOUNT_RE.match(value):
        raise ValueError(f"{value!r} is not an AWS account ID; fix: write 12 digits in quotes, e.g. '111111111111'")
    return value


Name = Annotated[str, AfterValidator(_name)]
IPv4Net = Annotated[str, AfterValidator(_ipv4_network)]
IPv4Addr = Annotated[str, AfterValidator(_ipv4_address)]
AccountId = Annotated[str, AfterValidator(_account_id)]
IPv4Cidr = Annotated[str, AfterValidator(_ipv4_cidr)]
DnsName = Annotated[str, AfterValidator(_dns_name)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class AvailabilityZone(Strict):
    """An AZ has a per-account name (us-east-1a) and a global ID (use1-az1), as on AWS."""

    name: Annotated[str, Field(pattern=r"^[a-z]{2}-[a-z]+-[0-9][a-z]$")]
    id: Annotated[str, Field(pattern=r"^[a-z0-9]+-az[0-9]+$")]


class Subnet(Strict):
    name: Name
    az: str
    cidr: IPv4Net


class Instance(Strict):
    name: Name
    subnet: str
    ip: IPv4Addr | None = None
    app: Literal["demo-target", "webhook-receiver"] | None = None
    port: Port = 8080


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


class Vpc(Strict):
    name: Name
    account: str
    cidr: IPv4Net
    subnets: Annotated[list[Subnet], Field(min_length=1, max_length=16)]
    instances: Annotated[list[Instance], Field(max_length=64)] = []
    enable_dns_support: bool = True
    enable_dns_hostnames: bool = True
    security_groups: Annotated[list[SecurityGroup], Field(max_length=50)] = []
    region: str | None = None  # one of `regions:`; unset: the top-level region (lab.topology.regions)


class HealthCheck(Strict):
    protocol: Literal["TCP"] = "TCP"
    # AWS allows 5-300 s (default 30); the lab defaults to 5 s so a workshop sees a target fail quickly.
    interval: Annotated[int, Field(ge=5, le=300)] = 5
    healthy_threshold: Annotated[int, Field(ge=2, le=10)] = 5
    unhealthy_threshold: Annotated[int, Field(ge=2, le=10)] = 2


class TargetGroup(Strict):
    name: Name
    protocol: Literal["TCP"] = "TCP"
    port: Port
    proxy_protocol_v2: bool = False
    health_check: HealthCheck = HealthCheck()
    targets: Annotated[list[str], Field(min_length=1)]


class Listener(Strict):
    protocol: Literal["TCP"] = "TCP"
    port: Port
    target_group: str


class LoadBalancer(Strict):
    name: Name
    vpc: str
    subnets: Annotated[list[str], Field(min_length=1)]
    cross_zone: bool = False
    listeners: Annotated[list[Listener], Field(min_length=1)]
    target_groups: Annotated[list[TargetGroup], Field(min_length=1)]


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
    """A consumer -> endpoint flow that `lab verify` must see working, and only through the endpoint."""

    client: str  # an instance in the endpoint's VPC
    endpoint: str
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
    impairments: list[Impairment] = []
    verify: VerifySpec = VerifySpec()
    tenancy: Tenancy | None = None  # lab.plan.tenancy; checked by lab.topology.tenancy
    backbone: Backbone = Backbone()  # cross-region links (lab.plan.regions)

    @model_validator(mode="before")
    @classmethod
    def _fill_from_regions(cls, data: object) -> object:
        return _regions_form(data)
