"""Flows by DNS name: reach an endpoint the way a consumer application does.

Each consumer instance asks its VPC's own resolver (from inside its namespace) for one of the
endpoint's names -- the regional name, each zonal name, and the private DNS name and aliases when
they answer now -- and sends its HTTP request to the first address of the answer, as a client
library would. The request is then an ordinary flow (lab.verify.spec.FlowSpec) towards the ENI the
name resolved to, judged by the same path / PPv2 / SNAT invariants, so the PROXY header's
destination must be that very ENI.

A name that resolves to anything but the ENIs it stands for (the regional name: any ENI of the
endpoint; a zonal name: its AZ's ENI; a CNAME: its target's) fails, and no request is sent to
such an address: traffic goes only to addresses named in the lab's plan. Without a resolver in
the VPC the name flows are SKIP, with the reason, never PASS.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lab.apply import netns
from lab.topology.errors import LabInputError
from lab.verify.flows import DnsSpec, FlowSpec, Index, flows_for
from lab.verify.traffic import FLOW_TIMEOUT_S, DnsRun, FlowRun, dns_query, http

NAME_ORIGINS = ("regional", "zonal", "private-dns", "alias")
MAX_CNAME_HOPS = 4  # an alias may point at the private DNS name's target; never a longer chain


@dataclass(frozen=True)
class NameFlowSpec:
    """An HTTP request from a client to `qname`:`port`, resolved by the client's VPC resolver."""

    client: str
    client_ip: str
    client_netns: str
    client_link: str
    resolver: str | None  # None: the VPC has no resolver, see skip
    qname: str
    origin: str  # regional | zonal | private-dns | alias
    endpoint: str
    port: int
    expected: tuple[str, ...]  # the ENI addresses this name stands for
    candidates: tuple[FlowSpec, ...]  # the flow towards each of those ENIs on this port
    skip: str = ""  # why this flow cannot run (no resolver, the name does not answer now)
    declared: bool = False
    # The lab's public addresses (lab.plan.internet): a name that answers one of them is followed
    # there, over the internet, so the verdict can name the first public hop it crossed.
    public: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.client} -> {self.origin} {self.qname}:{self.port}"

    def dns_spec(self) -> DnsSpec:
        return DnsSpec(self.client, self.client_ip, self.client_netns, self.client_link, self.resolver or "",
                       self.qname, self.origin, self.endpoint, self.expected)


def _resolve_in_plan(records: dict[str, dict], name: str) -> tuple[str, ...]:
    """The addresses the plan says `name` answers with, following CNAMEs within the VPC."""
    for _ in range(MAX_CNAME_HOPS):
        rec = records.get(name)
        if rec is None:
            return ()
        if rec["type"] == "A":
            return tuple(sorted(rec["values"]))
        name = rec["values"][0]
    return ()


def _resolver_of(plan: dict, vpc: str) -> tuple[dict | None, str]:
    resolver = next((r for r in plan.get("resolvers", []) if r["vpc"] == vpc), None)
    if resolver is None:
        return None, f"VPC {vpc} has no DNS resolver in the plan"
    if not resolver.get("enabled", True):
        return None, f"VPC {vpc} has DNS support off (enable_dns_support: false): nothing answers at base + 2"
    return resolver, ""


def served_names(plan: dict, ep: dict) -> dict[str, str]:
    """Every name the lab may serve for the endpoint in its VPC -> its origin: the generated names,
    and the CNAMEs (private DNS, aliases) whether or not they answer at this moment."""
    names = {e["DnsName"]: e["Scope"] for e in ep.get("dns_entries", ())}
    resolver = next((r for r in plan.get("resolvers", []) if r["vpc"] == ep["vpc"]), None)
    if resolver is not None:
        for rec in resolver["records"]:
            if rec.get("endpoint") == ep["name"] and rec["origin"] in NAME_ORIGINS:
                names[rec["name"]] = rec["origin"]
        for name, target in resolver.get("cname_pool", ()):
            if target in names:
                names.setdefault(name, "alias")
    return names


def _specs(ix: Index, client: dict, ep: dict, names: list[tuple[str, str]], port: int | None,
           declared: bool) -> list[NameFlowSpec]:
    from lab.plan.internet import public_addresses

    resolver, why = _resolver_of(ix.plan, ep["vpc"])
    records = {r["name"]: r for r in resolver["records"]} if resolver else {}
    flows = flows_for(ix, client, ep, None, port, declared)
    if client.get("OnPremises") and resolver is not None:  # asks its own site's resolver (forwarding over DX)
        onprem = next((r for r in ix.plan.get("onprem_resolvers", []) if r["site"] == client["OnPremises"]), None)
        resolver = {**resolver, "ip": onprem["ip"]} if onprem else None
        why = why or ("" if onprem else f"on-premises network {client['OnPremises']} has no resolver")
    public = tuple(sorted(public_addresses(ix.plan)))
    out = []
    for qname, origin in names:
        expected = _resolve_in_plan(records, qname) if resolver and origin != "public" else ()
        skip = why or ("" if expected or origin == "public" else
                       f"{qname} does not answer now (endpoint {ep['state']}, or its private DNS / alias is not live)")
        for p in sorted({f.port for f in flows}):
            cands = tuple(f for f in flows if f.port == p and (f.eni_ip in expected or skip))
            out.append(NameFlowSpec(client["Name"], client["PrivateIpAddress"], client["Netns"],
                                    ix.instance_link(client["Name"]), resolver["ip"] if resolver else None, qname,
                                    origin, ep["name"], p, expected, cands, skip, declared, public))
    return out


def builtin_name_flows(ix: Index, endpoints: list[dict]) -> list[NameFlowSpec]:
    """From every consumer instance, to every name of every available endpoint of its VPC that
    answers now (or, without a resolver, its generated names: reported as SKIP)."""
    out = []
    for ep in endpoints:
        resolver, _ = _resolver_of(ix.plan, ep["vpc"])
        if resolver is not None:
            names = [(r["name"], r["origin"]) for r in resolver["records"]
                     if r.get("endpoint") == ep["name"] and r["origin"] in NAME_ORIGINS]
        else:
            names = [(e["DnsName"], e["Scope"]) for e in ep.get("dns_entries", ())]
        for client in ix.consumers(ep["vpc"]):
            out += _specs(ix, client, ep, names, None, False)
    return out


def declared_name_flows(ix: Index, ep: dict, flow, path: str) -> list[NameFlowSpec]:
    """A `verify.flows[]` entry with `name:`: the words regional / zonal, or a name the lab serves."""
    served = served_names(ix.plan, ep)
    if flow.az is not None:
        raise LabInputError(f"{path}.az", "a flow by name goes where the name resolves; it cannot also pick an AZ",
                            "drop az (a zonal name picks its AZ), or drop name")
    resolver, _ = _resolver_of(ix.plan, ep["vpc"])
    public = {r["name"] for r in (resolver or {}).get("records", ()) if r["origin"] == "public"}
    if flow.name in ("regional", "zonal"):
        names = [(n, o) for n, o in served.items() if o == flow.name]
    elif flow.name.rstrip(".").lower() in {n.lower() for n in served}:
        key = next(n for n in served if n.lower() == flow.name.rstrip(".").lower())
        names = [(key, served[key])]
    elif flow.name.rstrip(".").lower() in public:  # answered by public DNS here: followed, and judged private
        names = [(flow.name.rstrip(".").lower(), "public")]
    else:
        raise LabInputError(f"{path}.name", f"the lab serves no name {flow.name!r} for endpoint {ep['name']!r} in "
                            f"VPC {ep['vpc']!r}", "use regional, zonal or one of: " + ", ".join(sorted(served)))
    return _specs(ix, ix.instances[flow.client], ep, names, flow.port, True)


def resolve(plan: dict, client: dict, qname: str) -> str:
    """`qname`'s first A answer (a client connects to the first) from the client's VPC resolver, asked
    from inside the client (`client`: its inventory entry), the resolver `lab exec` uses. LookupError
    says why when nothing usable answered."""
    vpc = next(v["Name"] for v in plan["inventory"]["vpcs"] if v["VpcId"] == client["VpcId"])
    resolver, why = _resolver_of(plan, vpc)
    if resolver is None:
        raise LookupError(f"cannot resolve {qname} from {client['Name']}: {why}")
    run = dns_query(DnsSpec(client["Name"], client["PrivateIpAddress"], client["Netns"], "", resolver["ip"], qname,
                            "lookup", "", ()))
    if run.error is not None or run.rcode not in (0, None) or not run.given:
        got = run.error or (f"rcode {run.rcode}" if run.rcode else "no A record in the answer")
        raise LookupError(f"{qname} did not resolve from {client['Name']} (resolver {resolver['ip']}: {got})")
    return run.given[0]


# -- running -----------------------------------------------------------------------------------

@dataclass
class NameFlowRun:
    spec: NameFlowSpec
    dns: DnsRun | None = None
    flow: FlowRun | None = None
    chosen: str | None = None  # the address the request went to (the answer's first)
    problem: str | None = None  # why no request was sent
    public: bool = False  # the name answered a public address, and the request went there
    path: list | None = None  # the request's hops (lab.verify.hops), once judged

    @property
    def answers(self) -> tuple[str, ...]:
        return self.dns.given if self.dns else ()


def run_name_flow(spec: NameFlowSpec, timeout: float = FLOW_TIMEOUT_S, blocked_timeout: float = 1.0) -> NameFlowRun:
    run = NameFlowRun(spec)
    if spec.skip:
        return run
    run.dns = dns_query(spec.dns_spec())
    if run.dns.error is not None or run.dns.rcode not in (0, None) or not run.dns.given:
        why = run.dns.error or (f"rcode {run.dns.rcode}" if run.dns.rcode else "no A record in the answer")
        run.problem = f"the name did not resolve ({why})"
        return run
    first = run.dns.given[0]
    flow = next((f for f in spec.candidates if f.eni_ip == first), None)
    if flow is None and first in spec.public:  # a public address of the lab: follow it to see where it goes
        run.chosen, run.public = first, True
        run.flow = http(str(netns.netns_path(spec.client_netns)), spec.client_ip, first, spec.port, timeout=timeout,
                        host=spec.qname)
        return run
    if flow is None:
        run.problem = f"it resolved first to {first}, which is not an ENI this name stands for: no request sent there"
        return run
    run.chosen = first
    flow = dataclasses.replace(flow, via_name=spec.qname, via_origin=spec.origin, declared=spec.declared)
    run.flow = http(str(netns.netns_path(flow.client_netns)), flow.client_ip, first, flow.port, spec=flow,
                    timeout=timeout if flow.expect == "reach" else blocked_timeout)
    return run


# -- judging -----------------------------------------------------------------------------------

def name_checks(run: NameFlowRun, ledger) -> list:
    """The `name` check (what the resolver answered, and where the query went), then the flow's own
    path / PPv2 / SNAT checks (lab.verify.invariants.flow_checks) under the same subject."""
    from lab.verify import invariants as inv

    spec = run.spec
    if spec.skip:
        return [inv.Check("name", spec.name, inv.SKIP, spec.skip)]
    run.dns.trace, run.dns.ledger = ledger.trace(run.dns.marks), ledger
    trace = run.dns.trace
    if run.public:
        return _public_answer_checks(run, ledger)
    stray = sorted(a for a in run.answers if a not in spec.expected)
    beyond = sorted(trace.link_names - {spec.client_link}, key=ledger.order)
    asked = f"{spec.resolver} answered"  # the subject already names the client and the name
    if run.problem is not None or stray:
        why = run.problem or f"the answer holds {', '.join(stray)}, not an ENI this name stands for"
        got = ", ".join(run.answers) or "nothing"
        checks = [inv.Check("name", spec.name, inv.FAIL, f"{asked} {got}: {why} (its ENIs: {', '.join(spec.expected)})",
                            [spec.client_link], trace.text(ledger))]
    elif beyond:
        checks = [inv.Check("name", spec.name, inv.FAIL, f"the query for {spec.qname} reached "
                            f"{', '.join(beyond)}: it must stay on {spec.client_link}", beyond, trace.text(ledger),
                            leak=True)]
    elif spec.client_link not in trace.link_names:
        checks = [inv.Check("name", spec.name, inv.FAIL, f"{asked}, but the query was never captured on "
                            f"{spec.client_link}", [spec.client_link])]
    else:
        checks = [inv.Check("name", spec.name, inv.PASS, f"{spec.resolver} answered {', '.join(run.answers)} "
                            f"(ENIs of {spec.endpoint}); the request went to {run.chosen}")]
    if run.flow is not None:
        run.flow.trace, run.flow.ledger = ledger.trace(run.flow.marks), ledger
        checks += inv.flow_checks(run.flow, run.flow.trace, ledger)
        from lab.verify.hops import hops

        run.path = hops(run.flow.trace, ledger)
    return checks


def _public_answer_checks(run: NameFlowRun, ledger) -> list:
    """The name answered a public address (private DNS off, or never on): the request went over the
    internet. A flow through an endpoint must stay private, so this is red, at its first public hop."""
    from lab.verify import invariants as inv
    from lab.verify.hops import first_public, hops, text
    from lab.verify.internet import private_violation

    spec, flow = run.spec, run.flow
    flow.trace, flow.ledger = ledger.trace(flow.marks), ledger
    run.path = hops(flow.trace, ledger)
    checks = [inv.Check("name", spec.name, inv.FAIL, f"{spec.resolver} answered {', '.join(run.answers)}: a public "
                        f"address of the lab, not an ENI of {spec.endpoint} (is private DNS off on the endpoint?)")]
    if first_public(run.path) is not None:
        checks.append(private_violation(spec.name, run.path, flow.trace.text(ledger)))
    else:
        checks.append(inv.Check("path", spec.name, inv.FAIL, f"sent to public address {run.chosen}, but no public "
                                f"link carried it ({flow.describe()}); hops: {text(run.path)}", [spec.client_link],
                                flow.trace.text(ledger)))
    return checks
