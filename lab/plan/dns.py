"""DNS in the plan: what each VPC's resolver ("AmazonProvidedDNS", the VPC CIDR base + 2) must answer.

Pure, like the rest of the plan: computed from the topology and the endpoints already planned.
Every record listed is one the resolver answers *now*. A name whose endpoint is not `available`,
whose service's domain is not verified, or whose CNAME target is not held is simply absent, so
`lab.apply.dns.sync` only has to make a running resolver hold exactly this list.

Which names a VPC's resolver holds (and only that VPC's, as the brief for the lab wants it):
- regional endpoint name -> every ENI address of the endpoint (A);
- zonal endpoint name -> the ENI address in that AZ (A);
- the service's private DNS name -> CNAME to the regional name, with private DNS enabled on the
  endpoint, DNS support + DNS hostnames on the VPC, and the provider's domain verified;
- aliases (`endpoints[].aliases`, the talk's tip) -> CNAME to the regional name or an AZ's zonal name;
- instance host names `ip-10-0-1-10.ec2.internal` (A) when the VPC has DNS hostnames on.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from lab.plan import names
from lab.plan.ids import digest

RecordType = Literal["A", "CNAME"]
VERIFIED = "verified"
PENDING = "pendingVerification"
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class DnsRecord:
    name: str
    type: RecordType
    values: tuple[str, ...]  # the addresses of an A record, or the one target of a CNAME
    origin: Literal["regional", "zonal", "private-dns", "alias", "hostname", "public"]
    endpoint: str | None = None


@dataclass(frozen=True)
class Resolver:
    vpc: str
    netns: str  # the VPC router's namespace: the resolver address sits on its loopback
    ip: str
    enabled: bool  # the VPC's enable_dns_support: off means nothing answers at base + 2, as on AWS
    search: str
    clients: tuple[str, ...]  # namespaces whose /etc/netns/<ns>/resolv.conf points at this resolver
    records: tuple[DnsRecord, ...]
    # Every (name, target) CNAME this VPC could serve, whatever endpoint states and verifications say
    # now: the CNAME server is loaded with all of them, so a state change only re-routes names.
    cname_pool: tuple[tuple[str, str], ...] = ()

    def cnames(self) -> tuple[DnsRecord, ...]:
        return tuple(r for r in self.records if r.type == "CNAME")


@dataclass(frozen=True)
class PrivateDnsName:
    """A service's private DNS name and its ownership check (AWS's PrivateDnsNameConfiguration)."""

    service: str
    service_id: str
    name: str
    state: str  # pendingVerification | verified | failed
    txt_name: str  # where the provider publishes the TXT record ...
    txt_value: str  # ... and what it must say


def resolver_ip(vpc_cidr: str) -> str:
    """AWS's DNS server address: the VPC's network address plus two."""
    return str(ipaddress.IPv4Network(vpc_cidr).network_address + 2)


def search_domain(region: str) -> str:
    """The DHCP option set's domain name on AWS: ec2.internal in us-east-1, <region>.compute.internal elsewhere."""
    return "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"


def hostname(ip: str, region: str) -> str:
    return f"ip-{ip.replace('.', '-')}.{search_domain(region)}"


def _token(length: int, *identity: str) -> str:
    n = int(digest("dns-verify", *identity), 16)
    out = []
    for _ in range(length):
        n, r = divmod(n, len(_ALNUM))
        out.append(_ALNUM[r])
    return "".join(out)


def verification_record(lab: str, service: str, domain: str) -> tuple[str, str]:
    """The TXT record (name, value) the provider must publish to prove it owns `domain`; stable per lab."""
    return f"_vpce-{_token(8, lab, service, domain)}.{domain}", f"vpce:{_token(20, lab, service, domain, 'value')}"


def verification_state(expected_value: str, published: list[str]) -> str:
    """What a verification run concludes from the TXT values found at the record's name."""
    return VERIFIED if expected_value in published else "failed"


def plan_dns(topo, plan) -> None:
    """Fill plan.private_dns_names and plan.resolvers (needs plan.endpoints and the instance inventory)."""
    services = {s.name: s for s in topo.endpoint_services}
    ids = {s["Name"]: s["ServiceId"] for s in plan.inventory.get("services", [])}
    plan.private_dns_names = []
    for svc in topo.endpoint_services:
        if svc.private_dns_name is None:
            continue
        txt_name, txt_value = verification_record(plan.lab, svc.name, svc.private_dns_name)
        plan.private_dns_names.append(PrivateDnsName(svc.name, ids.get(svc.name, ""), svc.private_dns_name,
                                                     svc.private_dns_state or PENDING, txt_name, txt_value))
    _describe_services(plan)
    endpoints = {e.name: e for e in topo.endpoints}
    instance_ips = {i["Name"]: i["PrivateIpAddress"] for i in plan.inventory.get("instances", [])}
    plan.resolvers = []
    for vpc in topo.vpcs:
        records: list[DnsRecord] = []
        pool: set[tuple[str, str]] = set()
        if vpc.enable_dns_support:
            if vpc.enable_dns_hostnames:
                records += [DnsRecord(hostname(instance_ips[i.name], topo.region), "A", (instance_ips[i.name],),
                                      "hostname") for i in vpc.instances]
            for ep in plan.endpoints:
                if ep.vpc != vpc.name:
                    continue
                every = _endpoint_records(ep, endpoints[ep.name], services[ep.service], vpc, gated=False)
                pool |= {(r.name, r.values[0]) for r in every if r.type == "CNAME"}
                if ep.state == "available":
                    records += _endpoint_records(ep, endpoints[ep.name], services[ep.service], vpc)
        router = names.router_netns(plan.lab, vpc.name)
        clients = (router,) + tuple(names.instance_netns(plan.lab, vpc.name, i.name) for i in vpc.instances)
        plan.resolvers.append(Resolver(vpc.name, router, resolver_ip(vpc.cidr), vpc.enable_dns_support,
                                       search_domain(topo.region), clients, tuple(records), tuple(sorted(pool))))


def _endpoint_records(ep, spec, svc, vpc, gated: bool = True) -> list[DnsRecord]:
    """An available endpoint's names; `ep` is its plan, `spec` its topology entry. With `gated` off, the
    private DNS name is included whether or not the provider's domain is verified (for the CNAME pool)."""
    regional = next(e["DnsName"] for e in ep.dns_entries if e.get("Scope") == "regional")
    zonal = {e["AvailabilityZone"]: e["DnsName"] for e in ep.dns_entries if e.get("Scope") == "zonal"}
    records = [DnsRecord(regional, "A", tuple(eni.ip for eni in ep.enis), "regional", ep.name)]
    records += [DnsRecord(zonal[eni.az], "A", (eni.ip,), "zonal", ep.name) for eni in ep.enis if eni.az in zonal]
    if (spec.private_dns_enabled and svc.private_dns_name and (svc.private_dns_state == VERIFIED or not gated)
            and vpc.enable_dns_hostnames):
        records.append(DnsRecord(svc.private_dns_name, "CNAME", (regional,), "private-dns", ep.name))
    for alias in spec.aliases:
        target = regional if alias.az is None else zonal.get(alias.az)
        if target is not None:
            records.append(DnsRecord(alias.name, "CNAME", (target,), "alias", ep.name))
    return records


def _describe_services(plan) -> None:
    """Add AWS's PrivateDnsName / PrivateDnsNameConfiguration fields to the services' inventory."""
    by_service = {p.service: p for p in plan.private_dns_names}
    for item in plan.inventory.get("services", []):
        pdn = by_service.get(item["Name"])
        if pdn is not None:
            item["PrivateDnsName"] = pdn.name
            item["PrivateDnsNameConfiguration"] = {"State": pdn.state, "Type": "TXT", "Name": pdn.txt_name,
                                                   "Value": pdn.txt_value}
