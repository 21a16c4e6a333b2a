"""Traffic for verification, made from inside the clients' namespaces by this very process.

A socket belongs to the namespace it was created in, so each flow's socket and each client's raw
probe socket is created while the thread is inside that client's namespace and used from home.
Everything is bounded: one connection per flow with a timeout, one packet per probe, and only
towards addresses the lab's plan names.
"""

from __future__ import annotations

import itertools
import json
import random
import secrets
import socket
import time
from dataclasses import dataclass, field

from lab.apply import netns
from lab.verify.ledger import Marks
from lab.verify.packets import TCP, ConnKey, conn_key, echo_key
from lab.verify.flows import DnsSpec, FlowSpec, ProbeSpec

FLOW_TIMEOUT_S = 3.0
MAX_RESPONSE = 64 * 1024
TOKEN_PREFIX = "lab-verify-"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_hex(8)


@dataclass
class FlowRun:
    spec: FlowSpec | None
    token: str
    client_ip: str
    dst: tuple[str, int]
    local: tuple[str, int] | None = None
    status: int | None = None
    body: bytes = b""
    error: str | None = None
    seconds: float = 0.0
    trace: object | None = None  # filled in when a capture that saw it ends (lab.verify.ledger.Trace)
    ledger: object | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None

    @property
    def conn(self) -> ConnKey | None:
        if self.local is None:
            return None
        return conn_key(TCP, self.local[0], self.local[1], self.dst[0], self.dst[1])

    @property
    def marks(self) -> Marks:
        return Marks(tokens=(self.token.encode(),), conns=frozenset({self.conn} if self.conn else set()))

    def json(self) -> dict | None:
        try:
            value = json.loads(self.body.decode())
        except (UnicodeDecodeError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def describe(self) -> str:
        where = f"{self.local[0]}:{self.local[1]} -> " if self.local else ""
        state = f"HTTP {self.status}" if self.status is not None else f"failed: {self.error}"
        return f"{where}{self.dst[0]}:{self.dst[1]} {state} in {self.seconds * 1000:.0f} ms"


def http(ns_path: str, client_ip: str, dst_ip: str, port: int, *, spec: FlowSpec | None = None,
         timeout: float = FLOW_TIMEOUT_S, token: str | None = None, host: str | None = None) -> FlowRun:
    """One HTTP/1.0 request from inside a namespace, carrying a token the capture can follow
    (`host`: the Host header, when the address came from a name; default the address)."""
    run = FlowRun(spec, token or new_token(), client_ip, (dst_ip, port))
    # A multi-tenant flow presents a credential: an API token, or a forged PROXY header (lab.verify.tenancy).
    auth = f"Authorization: Bearer {spec.auth_token}\r\n" if spec is not None and spec.auth_token else ""
    prefix = spec.forged_header if spec is not None else b""
    t0 = time.monotonic()
    with netns.entered(ns_path):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.bind((client_ip, 0))
        run.local = sock.getsockname()[:2]
        sock.connect((dst_ip, port))
        request = (f"GET /{run.token} HTTP/1.0\r\nHost: {host or dst_ip}\r\nUser-Agent: lab-verify\r\n"
                   f"X-Lab-Verify: {run.token}\r\n{auth}\r\n")
        sock.sendall(prefix + request.encode())
        chunks, size = [], 0
        deadline = t0 + timeout
        while size < MAX_RESPONSE and time.monotonic() < deadline:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        raw = b"".join(chunks)
        head, _, body = raw.partition(b"\r\n\r\n")
        first = head.split(b"\r\n", 1)[0].split()
        if len(first) >= 2 and first[0].startswith(b"HTTP/") and first[1].isdigit():
            run.status, run.body = int(first[1]), body
        else:
            run.error = f"no HTTP answer (got {len(raw)} bytes)"
    except OSError as err:
        run.error = err.strerror or str(err)
    finally:
        sock.close()
        run.seconds = time.monotonic() - t0
    return run


def run_flow(spec: FlowSpec, timeout: float = FLOW_TIMEOUT_S) -> FlowRun:
    return http(str(netns.netns_path(spec.client_netns)), spec.client_ip, spec.eni_ip, spec.port, spec=spec,
                timeout=timeout)


@dataclass
class ProbeRun:
    spec: ProbeSpec
    token: str
    sport: int = 0  # TCP source port, or the ICMP echo identifier
    isn: int = 0
    sent: bool = False
    error: str | None = None
    answer: str = "silent"  # filled in from the capture: open | refused | echo-reply | unreachable | silent
    extra_links: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # every link it was captured on
    trace: object | None = None  # filled in when a capture that saw it ends
    ledger: object | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def conn(self) -> ConnKey:
        s = self.spec
        if s.proto == "icmp":
            return echo_key(s.client_ip, s.dst_ip, self.sport)
        return conn_key(TCP, s.client_ip, self.sport, s.dst_ip, s.port)

    @property
    def marks(self) -> Marks:
        return Marks(tokens=(self.token.encode(),), syn_seqs=frozenset({self.isn}) if self.spec.proto == "tcp"
                     else frozenset(), conns=frozenset({self.conn}))


def _build(run: ProbeRun) -> bytes:
    """The probe packet, made with scapy (IP header included: the kernel only routes it)."""
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.inet import TCP as TCPLayer

    s = run.spec
    ip = IP(src=s.client_ip, dst=s.dst_ip, ttl=64, id=random.randrange(1, 65536))
    if s.proto == "icmp":
        return bytes(ip / ICMP(type=8, id=run.sport, seq=1) / run.token.encode())
    return bytes(ip / TCPLayer(sport=run.sport, dport=s.port, flags="S", seq=run.isn, window=1024))


def send_probes(probes: list[ProbeSpec], gap_s: float = 0.0005) -> list[ProbeRun]:
    """One packet per probe, each from a raw socket opened inside its client's namespace."""
    rng = random.SystemRandom()
    socks: dict[str, socket.socket] = {}
    runs = []
    try:
        for spec in probes:
            run = ProbeRun(spec, new_token(), sport=rng.randrange(33000, 61000), isn=rng.randrange(1, 1 << 32))
            runs.append(run)
            sock = socks.get(spec.client_netns)
            if sock is None:
                with netns.entered(netns.netns_path(spec.client_netns)):
                    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
                socks[spec.client_netns] = sock
            try:
                sock.sendto(_build(run), (spec.dst_ip, 0))
                run.sent = True
            except OSError as err:  # e.g. no route: the client's own kernel refused it, nothing left it
                run.error = err.strerror or str(err)
            time.sleep(gap_s)  # spread a little so no neighbour queue overflows while ARP resolves
    finally:
        for sock in socks.values():
            sock.close()
    return runs


@dataclass
class DnsRun:
    spec: DnsSpec
    local: tuple[str, int] | None = None
    answers: tuple[str, ...] = ()  # sorted, to compare with the plan
    given: tuple[str, ...] = ()  # in the resolver's order: a client connects to the first
    rcode: int | None = None
    error: str | None = None
    trace: object | None = None
    ledger: object | None = None

    @property
    def marks(self) -> Marks:
        from lab.verify.packets import UDP

        if self.local is None:
            return Marks()
        return Marks(conns=frozenset({conn_key(UDP, self.local[0], self.local[1], self.spec.resolver, 53)}))


# DNS queries are followed by their 5-tuple alone, and VPCs with identical CIDRs share client and
# resolver addresses: two clients picking the same ephemeral port would make one query's packets
# show up on the other's link. So the queries of one process take distinct source ports.
_DNS_PORTS = itertools.count(random.randrange(0, 20000))


def _bind_unique(sock: socket.socket, ip: str) -> None:
    for _ in range(64):
        try:
            sock.bind((ip, 32768 + next(_DNS_PORTS) % 28000))
            return
        except OSError:
            continue  # in use by someone else: the next one
    sock.bind((ip, 0))


def dns_query(spec: DnsSpec, timeout: float = 1.0) -> DnsRun:
    """One A query over UDP from inside the client to its VPC's resolver (built and read with scapy)."""
    from scapy.layers.dns import DNS, DNSQR

    run = DnsRun(spec)
    with netns.entered(netns.netns_path(spec.client_netns)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.settimeout(timeout)
        _bind_unique(sock, spec.client_ip)
        run.local = sock.getsockname()[:2]
        ident = random.randrange(1, 65536)
        sock.sendto(bytes(DNS(id=ident, rd=1, qd=DNSQR(qname=spec.qname, qtype="A"))), (spec.resolver, 53))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            data, peer = sock.recvfrom(4096)
            reply = DNS(data)
            if peer[0] != spec.resolver or reply.id != ident:
                continue  # not ours
            run.rcode = int(reply.rcode)
            answers = []
            for i in range(int(reply.ancount or 0)):
                rr = reply.an[i]
                if int(rr.type) == 1:
                    answers.append(str(rr.rdata))
            run.given, run.answers = tuple(answers), tuple(sorted(answers))
            break
        else:
            run.error = "no answer"
    except OSError as err:
        run.error = err.strerror or str(err) or type(err).__name__
    finally:
        sock.close()
    return run

