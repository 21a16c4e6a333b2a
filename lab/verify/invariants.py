"""The invariants, judged from the ledger: each returns Check results, pass, fail or warn.

- path:       a flow appears on its required links (client subnet -> ENI leg, NLB provider leg ->
              a target) and on no other link.
- ppv2:       every connection the NLB opens to a PPv2 target starts with a valid header: PROXY
              with the consumer's address, the ENI's address and TLV 0xEA = the endpoint's ID;
              health checks carry LOCAL.
- snat:       targets see an NLB node's provider address, never a consumer's.
- isolation:  probes from consumers towards the provider (and to the ENIs' closed ports) reach
              no link beyond the consumer's own VPC, and only listener ports answer at an ENI.
- cross-side: no 5-tuple seen on a consumer-side link is ever seen on a provider-side link.
- capture:    the capture itself lost nothing, so the other verdicts can be trusted.
"""

from __future__ import annotations

import ipaddress
from collections import Counter

from lab.ppv2.aws import differences_from_aws

from lab.verify.checks import FAIL, PASS, SKIP, WARN, Check  # noqa: F401 - re-exported: the verdicts
from lab.verify.ledger import Ledger, Trace
from lab.plan.links import BETWEEN, CONSUMER, OTHER, PROVIDER, PUBLIC
from lab.verify.packets import ICMP, ICMP_ECHO_REPLY, ICMP_ERRORS, ConnKey, conn_text
from lab.verify.traffic import FlowRun, ProbeRun

def _kind(ledger: Ledger, name: str) -> str:
    return ledger.links[name].kind if name in ledger.links else "?"


def _order_leaks(ledger: Ledger, names: set[str]) -> list[str]:
    """Links a flow should not have crossed, the ones between VPCs (the usual culprits) first."""
    rank = {PUBLIC: 0, BETWEEN: 0, OTHER: 1, PROVIDER: 2, CONSUMER: 3}
    return sorted(names, key=lambda n: (rank.get(ledger.links[n].side, 9) if n in ledger.links else 9,
                                        ledger.order(n)))


def _leak_message(ledger: Ledger, extra: list[str]) -> str:
    via = [n for n in extra if ledger.links[n].side in (BETWEEN, OTHER, PUBLIC)]
    reached = [n for n in extra if n not in via]
    parts = []
    if via:
        parts.append("crossed " + ", ".join(f"{n} ({_kind(ledger, n)})" for n in via))
    if reached:
        parts.append("reached " + ", ".join(f"{n} ({_kind(ledger, n)})" for n in reached))
    return " and ".join(parts)


def _flooded_note(trace: Trace) -> str:
    if not trace.flooded:
        return ""
    count = sum(len(p) for p in trace.flooded.values())
    return (f" ({count} bridge-flooded cop{'y' if count == 1 else 'ies'} on {', '.join(sorted(trace.flooded))}, "
            "addressed to another MAC while the bridge relearned it: not traffic to that link)")


def flow_checks(run: FlowRun, trace: Trace, ledger: Ledger) -> list[Check]:
    spec = run.spec
    if spec.expect == "blocked":
        return [blocked_flow_check(run, trace, ledger)]
    subject = spec.name
    checks: list[Check] = []
    target_links = {t.link: t for t in spec.targets}
    transit = tuple(getattr(spec, "transit", ()))  # an on-premises client's DX link
    allowed = {spec.client_link, *transit, spec.eni_link, spec.node_link} | set(target_links)
    if not run.ok:
        checks.append(Check("path", subject, FAIL, f"the request did not complete: {run.error}",
                            [spec.eni_link], trace.text(ledger)))
        return checks
    seen = trace.link_names
    extra = _order_leaks(ledger, seen - allowed)
    missing = [n for n in (spec.client_link, *transit, spec.eni_link, spec.node_link) if n not in seen]
    hit_targets = [n for n in target_links if n in seen]
    if extra and any(ledger.links[n].side == PUBLIC for n in extra if n in ledger.links):
        from lab.verify.hops import hops
        from lab.verify.internet import private_violation

        checks.append(private_violation(subject, hops(trace, ledger), trace.text(ledger)))
    elif extra:
        checks.append(Check("path", subject, FAIL, f"the flow {_leak_message(ledger, extra)}: links it must never use",
                            extra, trace.text(ledger), leak=True))
    elif missing or not hit_targets:
        what = missing + ([] if hit_targets else ["any target's subnet link (" + ", ".join(target_links) + ")"])
        checks.append(Check("path", subject, FAIL, f"the flow never appeared on {', '.join(what)}", missing,
                            trace.text(ledger)))
    else:
        checks.append(Check("path", subject, PASS,
                            f"{' -> '.join((spec.client_link, *transit, spec.eni_link))} => {spec.node_link} -> "
                            f"{', '.join(hit_targets)}; "
                            f"no other link{_flooded_note(trace)}"))
    checks += _translation_checks(run, trace, ledger, hit_targets)
    if spec.tenant:  # a multi-tenant lab: was this tenant answered as itself? (lab.verify.tenancy)
        from lab.verify.tenancy import tenant_check

        checks.append(tenant_check(run, spec.tenancy_mode))
    from lab.verify.azpath import az_check  # which AZ each hop was in (issue 13: zonal names keep latency low)

    checks.append(az_check(run, hit_targets))
    return checks


def _translation_checks(run: FlowRun, trace: Trace, ledger: Ledger, hit_targets: list[str]) -> list[Check]:
    """PPv2 and source NAT for one flow: what the NLB sent on its provider leg, and what the target saw."""
    spec = run.spec
    out: list[Check] = []
    consumer_conns = trace.conns.get(spec.client_link, set()) | trace.conns.get(spec.eni_link, set())
    provider_conns = trace.conns.get(spec.node_link, set())
    if not provider_conns:
        return out
    sources = set()
    for conn in provider_conns:
        _, a, b = conn
        client_end = a if b[0] in {t.ip for t in spec.targets} else b
        sources.add(client_end[0])
        header = ledger.ppv2(spec.node_link).get((*client_end, *(b if client_end == a else a)))
        out.append(_ppv2_of_flow(run, header, conn))
    if sources == {spec.node_ip} and not (consumer_conns & provider_conns):
        seen = run.json() or {}
        peer = f"; the target itself reports peer {seen['peer']}" if "peer" in seen else ""
        out.append(Check("snat", spec.name, PASS, f"targets saw {spec.node_ip} (the NLB node), never the consumer's "
                                                  f"{spec.client_ip}{peer}"))
    else:
        out.append(Check("snat", spec.name, FAIL, f"the NLB leg carried source(s) {', '.join(sorted(sources))}, "
                                                  f"expected only the node's {spec.node_ip}",
                         [spec.node_link], trace.text(ledger), leak=True))
    body = run.json()
    if body and body.get("service") == "demo-target" and spec.ppv2:
        want = {"vpce_id": spec.endpoint_id, "client": f"{run.local[0]}:{run.local[1]}",
                "eni": f"{spec.eni_ip}:{spec.port}"}
        wrong = {k: body.get(k) for k, v in want.items() if body.get(k) != v}
        status = PASS if not wrong else FAIL
        msg = ("the target read " + ", ".join(f"{k}={v}" for k, v in want.items()) if not wrong else
               "the target read " + ", ".join(f"{k}={body.get(k)} (expected {want[k]})" for k in wrong))
        out.append(Check("ppv2", spec.name + " (target's view)", status, msg, [] if not wrong else hit_targets))
    return out


def _ppv2_of_flow(run: FlowRun, found, conn) -> Check:
    spec = run.spec
    subject = spec.name
    if not spec.ppv2:
        if found is not None:
            return Check("ppv2", subject, FAIL, f"{conn_text(conn)} starts with a PROXY header, but the target "
                                                "group has proxy_protocol_v2 off", [spec.node_link])
        return Check("ppv2", subject, PASS, "no PROXY header (the target group has proxy_protocol_v2 off)")
    if found is None:
        return Check("ppv2", subject, FAIL, f"{conn_text(conn)} to the target does not start with a PROXY v2 header",
                     [spec.node_link])
    if found.error is not None:
        return Check("ppv2", subject, FAIL, f"{conn_text(conn)}: invalid PROXY header: {found.error}", [spec.node_link])
    h = found.header
    want = {"version": 2, "command": "PROXY", "src": f"{run.local[0]}:{run.local[1]}",
            "dst": f"{spec.eni_ip}:{spec.port}", "vpce": spec.endpoint_id}
    got = {"version": h.version, "command": h.command.name, "src": f"{h.src_addr}:{h.src_port}",
           "dst": f"{h.dst_addr}:{h.dst_port}", "vpce": h.aws_vpce_id}
    wrong = [k for k in want if got[k] != want[k]]
    text = f"PROXY v{h.version} {got['src']} -> {got['dst']}, TLV 0xEA {h.aws_vpce_id}"
    if h.crc32c is not None:
        text += ", CRC32C ok"
    if wrong:
        mismatch = ", ".join(f"{k}={got[k]} (expected {want[k]})" for k in wrong)
        return Check("ppv2", subject, FAIL, "header has " + mismatch,
                     [spec.node_link])
    return Check("ppv2", subject, PASS, text)


def _notes_text(notes: Counter | None) -> str:
    """The layout differences from AWS's headers, said rather than hidden (HAProxy cannot match AWS's bytes)."""
    if not notes:
        return ""
    return "; differs from AWS: " + ", ".join(f"{note} [{n}]" for note, n in sorted(notes.items()))


def node_ppv2_checks(ledger: Ledger, plan: dict, waited: bool, window_s: float) -> list[Check]:
    """Every connection start on every NLB provider leg, including ones this run did not make."""
    checks = []
    enis = {eni["ip"]: ep["id"] for ep in plan["endpoints"] for eni in ep["enis"]}
    for node in plan["nodes"]:
        link = next((n for n, ln in ledger.links.items() if ln.kind == "nlb-target" and ln.owner == node["container"]),
                    None)
        if link is None:
            continue
        ppv2_servers = {(s["ip"], s["port"]) for b in node["backends"] if b["proxy_protocol_v2"] for s in b["servers"]}
        if not ppv2_servers:
            continue
        headers = ledger.ppv2(link)
        local = proxy = public = 0
        bad: list[str] = []
        notes: dict[str, Counter] = {}  # command -> how its headers' layout differs from AWS's, and how often
        for start in ledger.tcp_starts(link):
            if start.server not in ppv2_servers:
                continue
            fh = headers.get((*start.client, *start.server))
            name = f"{start.client[0]}:{start.client[1]} -> {start.server[0]}:{start.server[1]}"
            if fh is None:
                if start.first_payload:
                    bad.append(f"{name}: data without a PROXY v2 header ({start.first_payload[:16].hex()})")
                continue  # no data captured yet: nothing to judge
            if fh.error is not None:
                bad.append(f"{name}: invalid header: {fh.error}")
                continue
            for note in differences_from_aws(fh.header):
                notes.setdefault(fh.header.command.name, Counter())[note] += 1
            if fh.header.command.name == "LOCAL":
                if fh.header.aws_vpce_id is not None or fh.header.find(0xEA) is not None:
                    bad.append(f"{name}: a LOCAL (health check) header carries TLV 0xEA; AWS's carry none")
                else:
                    local += 1
            elif fh.header.dst_addr == node["provider_ip"] and any(not fe["vpce_id"] for fe in node["frontends"]):
                if fh.header.aws_vpce_id:  # an internet-facing listener's: no endpoint, so no endpoint ID
                    bad.append(f"{name}: PROXY from the internet-facing listener carries 0xEA {fh.header.aws_vpce_id}")
                else:
                    public += 1
            elif fh.header.dst_addr not in enis or enis[fh.header.dst_addr] != fh.header.aws_vpce_id:
                bad.append(f"{name}: PROXY dst {fh.header.dst_addr} with 0xEA {fh.header.aws_vpce_id}: "
                           "not an ENI of that endpoint")
            else:
                proxy += 1
        if bad:
            checks.append(Check("ppv2", f"NLB leg {link}", FAIL, "; ".join(bad[:5]), [link]))
        else:
            checks.append(Check("ppv2", f"NLB leg {link}", PASS,
                                f"{proxy} PROXY connection(s), every one with an ENI address and its endpoint's ID"
                                + (f"; {public} from the internet-facing listener, without one" if public else "")
                                + _notes_text(notes.get("PROXY"))))
        if local:
            checks.append(Check("ppv2", f"health checks on {link}", PASS,
                                f"{local} health check(s), all LOCAL without TLV 0xEA" + _notes_text(notes.get("LOCAL"))))
        elif waited:
            checks.append(Check("ppv2", f"health checks on {link}", FAIL,
                                f"no health check seen within {window_s:.1f} s (interval "
                                f"{max(b['interval_s'] for b in node['backends'])} s)", [link]))
        else:
            checks.append(Check("ppv2", f"health checks on {link}", SKIP,
                                "none seen in this short capture (use --wait-health-checks to wait for one)"))
    return checks


def snat_checks(ledger: Ledger, plan: dict) -> list[Check]:
    """Every SYN that reaches a target comes from an NLB node's provider address."""
    node_ips = {n["provider_ip"] for n in plan["nodes"]}
    servers = {(s["ip"], s["port"]): s["name"] for n in plan["nodes"] for b in n["backends"] for s in b["servers"]}
    checks = []
    for name, entry in ledger.by_link.items():
        if entry.link.kind != "provider-subnet":
            continue
        syns = [p for p in entry.packets if p.is_syn and servers.get((p.dst, p.dport)) == entry.link.owner]
        wrong = [p for p in syns if p.src not in node_ips]
        if wrong:
            checks.append(Check("snat", f"target {entry.link.owner}", FAIL,
                                f"{len(wrong)} connection(s) to the target came from "
                                f"{', '.join(sorted({p.src for p in wrong}))},"
                                f" not from an NLB node ({', '.join(sorted(node_ips))})", [name],
                                "\n".join(f"    {p.summary()}" for p in wrong[:12]), leak=True))
        elif syns:
            checks.append(Check("snat", f"target {entry.link.owner}", PASS,
                                f"all {len(syns)} connection(s) came from NLB node address(es) "
                                f"{', '.join(sorted({p.src for p in syns}))}"))
    return checks


def probe_checks(run: ProbeRun, trace: Trace, ledger: Ledger) -> Check:
    spec = run.spec
    extra = _order_leaks(ledger, trace.link_names - spec.allowed)
    run.extra_links = extra
    run.links = sorted(trace.link_names, key=ledger.order)
    run.answer = _answer(run, trace)
    if not run.sent:
        return Check("isolation", spec.name, PASS, f"the client's kernel refused to send it ({run.error})")
    if extra:
        return Check("isolation", spec.name, FAIL, f"the probe {_leak_message(ledger, extra)} (answer: {run.answer})",
                     extra, trace.text(ledger), leak=True)
    if spec.at_eni and run.answer == "open":
        return Check("isolation", spec.name, FAIL, f"port {spec.port} answered at the ENI, but no listener uses it",
                     [n for n in trace.link_names if ledger.links[n].kind in ("endpoint-eni", "backbone")], trace.text(ledger))
    if spec.at_eni and run.answer == "echo-reply":
        return Check("isolation", spec.name, WARN, "the ENI answers ping (an AWS endpoint ENI does not); "
                                                   "nothing went past it")
    where = "stayed inside the client (its own address)" if not trace.link_names else \
        "stayed on " + ", ".join(sorted(trace.link_names, key=ledger.order))
    return Check("isolation", spec.name, PASS, f"{where}; answer: {run.answer}")


def _answer(run: ProbeRun, trace: Trace) -> str:
    spec = run.spec
    replies = [p for ps in trace.links.values() for p in ps if p.src == spec.dst_ip and p.dst == spec.client_ip]
    if any(p.is_synack for p in replies):
        return "open"
    if any(p.is_rst for p in replies):
        return "refused"
    if any(p.proto == ICMP and p.icmp_type == ICMP_ECHO_REPLY for p in replies):
        return "echo-reply"
    errors = [p for ps in trace.links.values() for p in ps if p.proto == ICMP and p.icmp_type in ICMP_ERRORS]
    if errors:
        return f"unreachable (ICMP from {errors[0].src})"
    return "silent"


def _link_scoped(key: ConnKey) -> bool:
    """Multicast and limited broadcast never leave their link (IGMP reports, for one, go to
    224.0.0.22 with TTL 1), so identical ones on both sides are two links' own chatter: the two
    VPCs' gateways share an address, and both bridges report their groups."""
    return any(ipaddress.ip_address(addr).is_multicast or addr == "255.255.255.255" for addr, _ in key[1:])


def cross_side_check(ledger: Ledger) -> Check:
    """Consumer and provider address spaces overlap, so only whole 5-tuples can be compared."""
    consumer = ledger.conns_on(["consumer-subnet", "endpoint-eni", "backbone"])
    provider = ledger.conns_on(["provider-subnet", "nlb-target"])
    both = sorted((k for k in set(consumer) & set(provider) if not _link_scoped(k)), key=conn_text)
    if not both:
        return Check("cross-side", "consumer vs provider links", PASS,
                     f"{len(consumer)} connection(s) on consumer-side links, {len(provider)} on provider-side links, "
                     "none on both")
    lines = [f"    {conn_text(k)}: consumer side {sorted(consumer[k])}, provider side {sorted(provider[k])}"
             for k in both[:12]]
    links = sorted({n for k in both for n in provider[k]}, key=ledger.order)
    between = [n for n, e in ledger.by_link.items() if e.link.side in (BETWEEN, OTHER)
               and any(k in e.conns for k in both)]
    return Check("cross-side", "consumer vs provider links", FAIL,
                 f"{len(both)} connection(s) seen on both sides"
                 + (f", carried by {', '.join(between)}" if between else ""),
                 between + links, "\n".join(lines), leak=True)


def capture_checks(ledger: Ledger, truncated: str | None) -> list[Check]:
    checks = []
    lost = {n: e.stats.kernel_drops for n, e in ledger.by_link.items() if e.stats.kernel_drops}
    if lost:
        checks.append(Check("capture", "kernel drops", FAIL,
                            "the capture lost frames (" + ", ".join(f"{n}: {c}" for n, c in lost.items()) +
                            "); the other verdicts cannot be trusted", list(lost)))
    if truncated:
        checks.append(Check("capture", "limits", FAIL, truncated + "; the other verdicts cannot be trusted"))
    if not checks:
        checks.append(Check("capture", f"{len(ledger.links)} links", PASS,
                            f"{sum(len(e.packets) for e in ledger.by_link.values())} frames, none lost"))
    return checks


def between_checks(ledger: Ledger) -> list[Check]:
    """Links between VPCs (peerings) and unplanned links should be quiet while PrivateLink is tested."""
    checks = []
    for name, entry in ledger.by_link.items():
        if entry.link.side not in (BETWEEN, OTHER) or entry.link.kind == "subnet":
            continue
        ip = [p for p in entry.packets if p.proto is not None]
        if ip:
            checks.append(Check("links", name, WARN, f"{entry.link.kind} link carried {len(ip)} IP packet(s) in "
                                f"{len(entry.conns)} connection(s) during the capture", [name],
                                "\n".join(f"    {p.summary()}" for p in ip[:12])))
    return checks


def blocked_flow_check(run: FlowRun, trace: Trace, ledger: Ledger) -> Check:
    """A client the ENI's security groups do not admit: the SYN reaches the ENI leg and dies there."""
    spec = run.spec
    beyond = _order_leaks(ledger, trace.link_names - {spec.client_link, spec.eni_link})
    if run.ok:
        return Check("sg", spec.name, FAIL, "answered although no security group rule of the ENI admits "
                                            f"{spec.client_ip} on port {spec.port}", [spec.eni_link],
                     trace.text(ledger))
    if beyond:
        return Check("sg", spec.name, FAIL, f"not admitted, yet the flow {_leak_message(ledger, beyond)}", beyond,
                     trace.text(ledger), leak=True)
    if spec.eni_link not in trace.link_names:
        return Check("sg", spec.name, FAIL, f"the request never reached {spec.eni_link} (so the block was not the "
                                            f"ENI's: {run.error})", [spec.client_link], trace.text(ledger))
    return Check("sg", spec.name, PASS, f"dropped at {spec.eni_link} as its security groups say ({run.error}); "
                                        "nothing reached the provider")


def dns_check(run, trace: Trace, ledger: Ledger) -> Check:
    """The endpoint's name resolves, inside the client's VPC, to exactly its ENIs' addresses."""
    spec = run.spec
    subject = f"{spec.name}"
    beyond = _order_leaks(ledger, trace.link_names - {spec.client_link})
    if run.error is not None or run.rcode not in (0, None):
        return Check("dns", subject, FAIL, f"{spec.qname}: {run.error or f'rcode {run.rcode}'}", [spec.client_link],
                     trace.text(ledger))
    if tuple(run.answers) != tuple(spec.expected):
        return Check("dns", subject, FAIL, f"{spec.qname} -> {', '.join(run.answers) or 'nothing'}, expected "
                                           f"{', '.join(spec.expected)}", [spec.client_link])
    if beyond:
        return Check("dns", subject, FAIL, f"the query {_leak_message(ledger, beyond)}", beyond, trace.text(ledger),
                     leak=True)
    if spec.client_link not in trace.link_names:
        return Check("dns", subject, FAIL, f"answered, but the query was never captured on {spec.client_link}: "
                                           "the capture cannot vouch for where it went", [spec.client_link])
    return Check("dns", subject, PASS, f"{spec.qname} -> {', '.join(run.answers)}; the query stayed on "
                                       f"{spec.client_link}")

