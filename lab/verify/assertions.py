"""Assertions for tests about where a flow went, with the evidence in the failure message.

Each takes a flow (from `lab.http(...)`) or a probe (from `lab.probe(...)`) made inside a
`lab.capture()` block, after the block ended. On failure the message carries the ledger of links
(what every link carried) and the flow's own packets, link by link.

Link patterns: a link name ("consumer-subnet/consumer-client"), a kind ("nlb-target"), or a
shell pattern ("endpoint-eni/*").
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from fnmatch import fnmatchcase

__all__ = ["assert_only_links", "assert_not_on", "assert_ppv2", "assert_snat"]


def _traced(run):
    if getattr(run, "trace", None) is None or getattr(run, "ledger", None) is None:
        raise AssertionError(f"{_label(run)} has no trace: make it inside a `with lab.capture():` block and "
                             "assert after the block")
    return run.trace, run.ledger


def _label(run) -> str:
    describe = getattr(run, "describe", None)
    return f"flow {describe()}" if describe else f"probe {run.name}"


def _matches(ledger, name: str, pattern: str) -> bool:
    link = ledger.links.get(name)
    return name == pattern or (link is not None and link.kind == pattern) or fnmatchcase(name, pattern)


def _evidence(run, trace, ledger) -> str:
    return (f"\n\nledger of links during the capture:\n{ledger.text()}\n\n"
            f"packets of {_label(run)}, in the order the links saw them:\n{trace.text(ledger)}")


def assert_only_links(run, expected: Iterable[str]) -> None:
    """The flow was seen on links matching `expected` -- every pattern on at least one link -- and
    on no other link."""
    __tracebackhide__ = True  # pytest: show the caller's line, not this helper's
    trace, ledger = _traced(run)
    expected = list(expected)
    seen = sorted(trace.link_names, key=ledger.order)
    extra = [n for n in seen if not any(_matches(ledger, n, p) for p in expected)]
    missing = [p for p in expected if not any(_matches(ledger, n, p) for n in seen)]
    if extra or missing:
        problems = []
        if extra:
            problems.append("seen on unexpected link(s): " + ", ".join(f"{n} ({ledger.links[n].kind})" for n in extra))
        if missing:
            problems.append("never seen on: " + ", ".join(missing))
        raise AssertionError(f"{_label(run)}: " + "; ".join(problems) + _evidence(run, trace, ledger))


def assert_not_on(run, forbidden: Iterable[str] = ("provider-subnet", "nlb-target", "peering", "unplanned")) -> None:
    """No packet of the flow (or probe) was seen on a link matching `forbidden`."""
    __tracebackhide__ = True  # pytest: show the caller's line, not this helper's
    trace, ledger = _traced(run)
    forbidden = list(forbidden)
    hits = [n for n in sorted(trace.link_names, key=ledger.order) if any(_matches(ledger, n, p) for p in forbidden)]
    if hits:
        raise AssertionError(f"{_label(run)} reached " + ", ".join(f"{n} ({ledger.links[n].kind})" for n in hits)
                             + _evidence(run, trace, ledger))


def _target_conns(trace, ledger):
    """(link, client end, server end) of each connection on an NLB provider leg of this flow."""
    from lab.verify.packets import TCP

    out = []
    for name, packets in trace.links.items():
        if ledger.links[name].kind != "nlb-target":
            continue
        for conn in trace.conns.get(name, ()):
            if conn[0] != TCP:
                continue
            syn = next((p for p in packets if p.is_syn and p.conn == conn), None)
            if syn is not None:
                out.append((name, (syn.src, syn.sport), (syn.dst, syn.dport)))
    return out


def _socket_spec(field: str, value: str) -> tuple[str, int | None]:
    """"10.0.2.20" (any port), "10.0.2.20:80", "2001:db8::1" or "[2001:db8::1]:80" -> (address, port)."""
    text = value.strip()
    try:
        return str(ipaddress.ip_address(text)), None
    except ValueError:
        pass
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(value)
        return str(ipaddress.ip_address(host)), int(port)
    except ValueError:
        raise ValueError(f"assert_ppv2: {field}={value!r} is not an address; give an IP (any port), "
                         "IP:PORT, or [IPv6]:PORT") from None


def _socket_matches(want: tuple[str, int | None], addr: str, port: int) -> bool:
    try:
        same = ipaddress.ip_address(addr) == ipaddress.ip_address(want[0])
    except ValueError:
        same = False
    return same and (want[1] is None or want[1] == port)


def assert_ppv2(run, vpce_id: str | None = None, src: str | None = None, dst: str | None = None) -> None:
    """Every connection the NLB opened to a target for this flow began with a valid PROXY protocol v2
    header: version 2, command PROXY, and

    - `src`: the header's source (the consumer as the target learns it). Default: the flow's own
      client socket, address and port. Give "10.0.2.20" for that address on any port, or
      "10.0.2.20:41000" (IPv6: "2001:db8::1" or "[2001:db8::1]:41000") for one socket.
    - `dst`: the header's destination (the ENI the client connected to), in the same forms. Default:
      the address and port the flow connected to.
    - `vpce_id`: the endpoint ID in the AWS TLV (type 0xEA, subtype 0x01), e.g. "vpce-0abc..."; not
      checked when not given.
    """
    __tracebackhide__ = True  # pytest: show the caller's line, not this helper's
    want_src = _socket_spec("src", src) if src else (tuple(run.local[:2]) if getattr(run, "local", None) else None)
    want_dst = _socket_spec("dst", dst) if dst else (tuple(run.dst[:2]) if getattr(run, "dst", None) else None)
    trace, ledger = _traced(run)
    conns = _target_conns(trace, ledger)
    if not conns:
        raise AssertionError(f"{_label(run)}: no connection from an NLB node to a target was captured"
                             + _evidence(run, trace, ledger))
    for link, client, server in conns:
        found = ledger.ppv2(link).get((*client, *server))
        where = f"{client[0]}:{client[1]} -> {server[0]}:{server[1]} on {link}"
        if found is None:
            raise AssertionError(f"{_label(run)}: {where} does not start with a PROXY header"
                                 + _evidence(run, trace, ledger))
        if found.error is not None:
            raise AssertionError(f"{_label(run)}: {where}: invalid PROXY header: {found.error}"
                                 + _evidence(run, trace, ledger))
        h = found.header
        wrong = []
        if h.version != 2:
            wrong.append(f"version={h.version!r} (expected 2)")
        if h.command.name != "PROXY":
            wrong.append(f"command={h.command.name!r} (expected 'PROXY')")
        for field, want, addr, port in (("src", want_src, h.src_addr, h.src_port),
                                        ("dst", want_dst, h.dst_addr, h.dst_port)):
            if want is not None and not _socket_matches(want, str(addr), port):
                expected = want[0] if want[1] is None else f"{want[0]}:{want[1]}"
                wrong.append(f"{field}='{addr}:{port}' (expected {expected!r}"
                             + (", any port)" if want[1] is None else ")"))
        if vpce_id is not None and h.aws_vpce_id != vpce_id:
            wrong.append(f"vpce_id={h.aws_vpce_id!r} (expected {vpce_id!r})")
        if wrong:
            raise AssertionError(f"{_label(run)}: header on {where} has " + ", ".join(wrong)
                                 + _evidence(run, trace, ledger))


def assert_snat(run, source: str | None = None) -> None:
    """Targets saw an NLB node's provider address (or `source`), never the client's address."""
    __tracebackhide__ = True  # pytest: show the caller's line, not this helper's
    trace, ledger = _traced(run)
    conns = _target_conns(trace, ledger)
    if not conns:
        raise AssertionError(f"{_label(run)}: no connection from an NLB node to a target was captured"
                             + _evidence(run, trace, ledger))
    for link, client, _server in conns:
        node_ips = [a.split("/")[0] for a in ledger.links[link].addresses]  # the node's end of its leg
        expected = source or (node_ips[0] if node_ips else "an NLB node address")
        if client[0] != expected:
            raise AssertionError(f"{_label(run)}: the target saw source {client[0]} on {link}, expected {expected}"
                                 + _evidence(run, trace, ledger))
