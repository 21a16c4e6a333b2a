"""Flows over the internet, and the rule that a private flow never touches it.

- A declared flow with `nlb:` (exposure: public) goes from a client with a public IP to each public
  address of an internet-facing NLB: out through its VPC's IGW (SNAT), across the internet router,
  in through the provider's IGW (DNAT to the node), to a target. It must work, cross public links
  (that is what it is for, and the report says so), reach a target, and the target must see the
  client's *public* address in the PROXY header: the IGW translated it 1:1.
- A flow that must stay private (every flow through an endpoint; a flow by name whose answer turned
  out to be a public address) fails at the first public hop, which the check names first.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.apply import netns
from lab.topology.errors import LabInputError
from lab.verify import hops as hoplib
from lab.verify.checks import FAIL, PASS, Check
from lab.verify.traffic import FLOW_TIMEOUT_S, FlowRun, http


@dataclass(frozen=True)
class InternetFlowSpec:
    client: str
    client_ip: str
    client_public_ip: str
    client_netns: str
    client_link: str
    nlb: str
    public_ip: str
    port: int
    exposure: str
    target_links: tuple[str, ...]
    declared: bool = True

    @property
    def name(self) -> str:
        return f"{self.client} -> internet-facing {self.nlb} {self.public_ip}:{self.port}"


@dataclass
class InternetFlowRun:
    spec: InternetFlowSpec
    flow: FlowRun | None = None
    path: list | None = None  # hops, once judged


def declared_specs(plan: dict, links: list, declared) -> list[InternetFlowSpec]:
    if declared is None:
        return []
    instances = {i["Name"]: i for i in plan["inventory"].get("instances", [])}
    by_key = {ln.key: ln.name for ln in links}
    nodes = {n["Container"]: n for n in plan["inventory"].get("nlb_nodes", [])}
    out = []
    for flow in declared.flows:
        if flow.nlb is None:
            continue
        client = instances[flow.client]
        node_list = [n for n in plan["nodes"] if n["nlb"] == flow.nlb]
        for node in node_list:
            public_ip = nodes[node["container"]].get("PublicIpAddress")
            for fe in node["frontends"]:
                if fe["vpce_id"] or (flow.port is not None and fe["port"] != flow.port) or public_ip is None:
                    continue
                backend = next(b for b in node["backends"] if b["name"] == fe["backend"])
                targets = tuple(by_key[f"instance:{s['name']}"] for s in backend["servers"])
                spec = InternetFlowSpec(flow.client, client["PrivateIpAddress"], client.get("PublicIpAddress", ""),
                                        client["Netns"], by_key[f"instance:{flow.client}"], flow.nlb, public_ip,
                                        fe["port"], flow.exposure, targets)
                if spec not in out:
                    out.append(spec)
    return out


def run(spec: InternetFlowSpec, timeout: float = FLOW_TIMEOUT_S) -> InternetFlowRun:
    flow = http(str(netns.netns_path(spec.client_netns)), spec.client_ip, spec.public_ip, spec.port, timeout=timeout)
    return InternetFlowRun(spec, flow)


def checks(run_: InternetFlowRun, ledger) -> list[Check]:
    spec, flow = run_.spec, run_.flow
    flow.trace, flow.ledger = ledger.trace(flow.marks), ledger
    path = hoplib.hops(flow.trace, ledger)
    run_.path = path
    subject = spec.name
    if not flow.ok:
        return [Check("path", subject, FAIL, f"the request did not complete: {flow.error}; hops: {hoplib.text(path)}",
                      [spec.client_link], flow.trace.text(ledger))]
    public = [h.link for h in path if hoplib.is_public(h.kind)]
    if spec.exposure == "private":
        return [private_violation(subject, path, flow.trace.text(ledger))]
    out = []
    reached = [h.link for h in path if h.link in spec.target_links]
    if not public:
        out.append(Check("path", subject, FAIL, f"declared over the internet, but no public link carried it; hops: "
                         f"{hoplib.text(path)}", [spec.client_link], flow.trace.text(ledger)))
    elif not reached:
        out.append(Check("path", subject, FAIL, f"crossed the internet but reached no target ({', '.join(spec.target_links)}); "
                         f"hops: {hoplib.text(path)}", list(spec.target_links), flow.trace.text(ledger)))
    else:
        out.append(Check("path", subject, PASS, f"over the internet, as declared (exposure: public): "
                         f"{hoplib.text(path)}"))
    seen = (flow.json() or {}).get("client", "")
    want = spec.client_public_ip
    if seen.split(":")[0] == want:
        out.append(Check("nat", subject, PASS, f"the target saw {seen}: the client's public address (its own is "
                         f"{spec.client_ip}); the IGWs translated 1:1"))
    else:
        out.append(Check("nat", subject, FAIL, f"the target saw {seen or 'no PROXY source'}, not the client's public "
                         f"address {want}", [spec.client_link]))
    return out


def private_violation(subject: str, path: list, evidence: str) -> Check:
    """A must-stay-private flow that touched the internet: FAIL, the first public hop named first."""
    first = hoplib.first_public(path)
    public = [h.link for h in path if hoplib.is_public(h.kind)]
    return Check("path", subject, FAIL, f"must stay private, but crossed the internet: first hop that broke the rule: "
                 f"{first.link} ({first.kind}, {first.side}); hops: {hoplib.text(path)}",
                 public, evidence, leak=True)


# -- scanning from the internet ------------------------------------------------------------------

MAX_SCAN = 64  # probes per scan: a scan here is a check, not a sweep
SCAN_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class ScanResult:
    ip: str
    port: int
    state: str  # open | refused | filtered (no answer in time) | unreachable
    local: tuple[str, int] | None = None


def scan(plan: dict, host: str, addresses: list[str], ports: list[int],
         timeout: float = SCAN_TIMEOUT_S) -> list[ScanResult]:
    """TCP connect() from internet host `host` to every address x port, all at once, each bounded by
    `timeout`. Only lab addresses: the plan's public addresses, the internet's own, or the VPCs'."""
    import errno
    import ipaddress
    import select
    import socket
    import time

    from lab.plan.internet import public_addresses

    hosts = {h["name"]: h for h in (plan.get("internet") or {}).get("hosts", [])}
    if host not in hosts:
        raise LabInputError("--from", f"no internet host {host!r} in lab {plan['lab']!r}",
                            f"use one of: {', '.join(hosts) or '(none: add internet.hosts to the topology)'}")
    known = set(public_addresses(plan)) | {h["ip"] for h in hosts.values()}
    vpcs = [ipaddress.IPv4Network(v["CidrBlock"]) for v in plan["inventory"].get("vpcs", [])]
    for ip in addresses:
        if ip not in known and not any(ipaddress.IPv4Address(ip) in n for n in vpcs):
            raise LabInputError("ADDRESS", f"{ip} is not an address of lab {plan['lab']!r}",
                                "scan the lab's public addresses (`lab status`) or its VPCs' addresses only")
    targets = [(ip, p) for ip in addresses for p in ports]
    if len(targets) > MAX_SCAN:
        raise LabInputError("ADDRESS", f"{len(targets)} probes asked, over the limit of {MAX_SCAN}",
                            "scan fewer addresses or ports")
    socks = {}
    with netns.entered(netns.netns_path(hosts[host]["netns"])):
        for target in targets:
            socks[target] = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    results: dict[tuple[str, int], ScanResult] = {}
    pending = {}
    try:
        for target, sock in socks.items():
            sock.setblocking(False)
            sock.bind((hosts[host]["ip"], 0))
            rc = sock.connect_ex(target)
            local = sock.getsockname()[:2]
            if rc in (0, errno.EINPROGRESS):
                pending[sock.fileno()] = (target, sock, local)
            else:
                results[target] = ScanResult(*target, _state(rc), local)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            _, ready, _ = select.select([], [p[1] for p in pending.values()], [], max(0.0, deadline - time.monotonic()))
            for sock in ready:
                target, _, local = pending.pop(sock.fileno())
                results[target] = ScanResult(*target, _state(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)),
                                             local)
        for target, _, local in pending.values():
            results[target] = ScanResult(*target, "filtered", local)
    finally:
        for sock in socks.values():
            sock.close()
    return [results[t] for t in targets]


def _state(rc: int) -> str:
    import errno

    return {0: "open", errno.ECONNREFUSED: "refused"}.get(rc, "unreachable" if rc in (
        errno.EHOSTUNREACH, errno.ENETUNREACH) else f"error {errno.errorcode.get(rc, rc)}")
