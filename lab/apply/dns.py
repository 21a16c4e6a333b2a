"""Each VPC's DNS resolver: a lab-owned dnsmasq at the VPC CIDR base + 2, in the VPC router's namespace.

The resolver address sits on the router's loopback as a /32, so every instance reaches it through
its default gateway, and `lab exec` processes use it through /etc/netns/<ns>/resolv.conf.

Names come and go with endpoint state WITHOUT restarting the resolver:
- A records (regional/zonal endpoint names, instance host names) are files in a `hostsdir=` folder,
  one file per source; dnsmasq notices a new, replaced or deleted file by inotify (measured: the
  answer changes within ~40 ms) and serves it with no restart.
- CNAMEs (private DNS names, aliases) are the hard part: `cname=` exists only in dnsmasq's main
  config, which it reads once (SIGHUP does not re-read it), and its target must be a name dnsmasq
  holds itself. So each VPC with CNAMEs gets a second dnsmasq, the CNAME server, on 127.0.0.1 in the
  same namespace, holding the `cname=` lines and reading the same hosts folder (so it answers
  CNAME + A in one reply). The resolver sends exactly the CNAME names that should answer now to it,
  through a `servers-file=` (which dnsmasq DOES re-read on SIGHUP). A CNAME appears or disappears
  with a rewrite of that file and a SIGHUP of the resolver (measured: answers change 3-5 ms after).
  The CNAME server is loaded with every CNAME the VPC could serve (plan: Resolver.cname_pool, i.e.
  whatever the endpoints' states and the domains' verifications), so accept, reject and
  verification never touch a process. Only a CNAME new to the VPC (an endpoint created later with
  aliases or private DNS) needs a new CNAME server: it starts on the other port, the resolver is
  switched to it (SIGHUP), the old one stops. The resolver at base + 2 keeps its PID for the lab's
  whole life. One limit, measured: dnsmasq drops a reply from a server that a SIGHUP just removed
  from its list, so a query forwarded to the old CNAME server in the ~1 ms before the switch is
  lost, and that client retries after its timeout (resolv.conf here: timeout:1 attempts:2).
  Seen: 1 such retry in ~1450 queries during 20 switches at ~700 queries/s.
- Order keeps answers whole: CNAMEs leave before their targets, and targets arrive before CNAMEs.

Files, in the state dir: dns/<vpc>/{resolver.conf, servers.conf, cname-<gen>.conf, hosts.d/, live.json};
logs in logs/dns-<vpc>.log and logs/dns-<vpc>-cname.log. Processes carry an owner token (journal
kind "process"), resolv.conf files and the /etc/netns folders we make are journaled as "path":
`lab down` removes exactly them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import time
from functools import lru_cache
from pathlib import Path

import jinja2

from lab.apply import netns, processes
from lab.apply.context import ApplyContext
from lab.apply.links import index
from lab.plan.dns import Resolver
from lab.plan.model import Place
from lab.resources import data_dir

DNS_PORT = 53
CNAME_PORTS = (5301, 5302)  # alternate, so a new CNAME server is up before the old one goes
TTL_S = 5  # short, so a name that went away is not held by a caching client for long (AWS uses 60)
START_TIMEOUT_S = 5.0
ETC_NETNS = Path("/etc/netns")


class DnsError(RuntimeError):
    """A resolver could not be started or changed (the message carries dnsmasq's own words)."""


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def render_config(lab: str, resolver: Resolver, folder: Path, *, role: str, port: int,
                  cnames: list[tuple[str, str]] = (), generation: int = 0) -> str:
    listen = resolver.ip if role == "resolver" else "127.0.0.1"
    return _env().get_template("dnsmasq.conf.j2").render(
        lab=lab, vpc=resolver.vpc, role=role, listen=listen, port=port, ttl=TTL_S, hostsdir=folder / "hosts.d",
        servers_file=folder / "servers.conf", cnames=list(cnames), generation=generation)


def hosts_files(resolver: Resolver) -> dict[str, str]:
    """The hosts folder's content: one file per source of A records (so one endpoint's change is one file)."""
    files: dict[str, list[str]] = {}
    for record in resolver.records:
        if record.type != "A":
            continue
        name = "hostnames" if record.origin == "hostname" else f"endpoint-{record.endpoint}"
        files.setdefault(name, []).extend(f"{ip} {record.name}" for ip in record.values)
    return {name: "\n".join(lines) + "\n" for name, lines in sorted(files.items())}


def servers_file(cnames: list[tuple[str, str]], port: int) -> str:
    return "".join(f"server=/{name}/127.0.0.1#{port}\n" for name, _ in cnames)


def resolv_conf(lab: str, resolver: Resolver) -> str:
    state = "" if resolver.enabled else " (DNS support is off in this VPC: nothing answers there)"
    return (f"# privatelink-lab {lab}: VPC {resolver.vpc}'s resolver, AmazonProvidedDNS{state}\n"
            f"nameserver {resolver.ip}\nsearch {resolver.search}\noptions timeout:1 attempts:2\n")


# -- sync --------------------------------------------------------------------------------------

def folder(ctx: ApplyContext, vpc: str) -> Path:
    return ctx.state.dir / "dns" / vpc


def sync(ctx: ApplyContext) -> None:
    """Make every VPC's resolver answer exactly the plan's records (idempotent; never restarts a resolver)."""
    journaled = _journaled(ctx)
    for resolver in ctx.plan.resolvers:
        _resolv_confs(ctx, resolver, journaled)
        live = _Live(folder(ctx, resolver.vpc))
        if not resolver.enabled:
            _stop_all(live)
            continue
        _ensure_resolver(ctx, resolver, live)
        wanted = sorted((r.name, r.values[0]) for r in resolver.cnames())
        # 1. CNAMEs that go away stop answering before anything else changes.
        _route_cnames(live, [c for c in live.routed() if c in wanted])
        # 2. A records: new and changed files in, stale files out (dnsmasq picks them up by itself).
        _write_hosts(live.dir / "hosts.d", hosts_files(resolver))
        # 3. CNAMEs that come: a CNAME server holding them, then route them to it. It is loaded with
        #    every CNAME the VPC could serve, so later state changes and verifications only re-route.
        if wanted and not set(wanted) <= set(live.held()):
            _start_cname_server(ctx, resolver, live, sorted(set(resolver.cname_pool) | set(wanted)))
        _route_cnames(live, wanted)
        live.save()


class _Live:
    """What runs for one VPC (live.json): the resolver's token, the CNAME server's token, port and names."""

    def __init__(self, path: Path):
        self.dir = path
        self.file = path / "live.json"
        self.data: dict = json.loads(self.file.read_text()) if self.file.exists() else {}

    def save(self) -> None:
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        tmp.replace(self.file)

    def held(self) -> list[tuple[str, str]]:
        cname = self.data.get("cname")
        if not cname or not processes.pids_with_token(cname["token"]):
            return []
        return [tuple(c) for c in cname["cnames"]]

    def routed(self) -> list[tuple[str, str]]:
        return [tuple(c) for c in self.data.get("routed", [])]


def _journaled(ctx: ApplyContext) -> set[str]:
    return {e["path"] for e in ctx.state.journal.entries() if e["kind"] == "path"}


def _resolv_confs(ctx: ApplyContext, resolver: Resolver, journaled: set[str]) -> None:
    """/etc/netns/<ns>/resolv.conf for the router and each instance: `lab exec` bind-mounts it."""
    text = resolv_conf(ctx.plan.lab, resolver)
    for ns in resolver.clients:
        where = ETC_NETNS / ns
        if not where.exists():
            _journal_path(ctx, where, journaled)
            where.mkdir(parents=True)
        path = where / "resolv.conf"
        if path.exists() and path.read_text() == text:
            continue
        _journal_path(ctx, path, journaled)
        tmp = where / ".resolv.conf.tmp"
        tmp.write_text(text)
        tmp.replace(path)


def _journal_path(ctx: ApplyContext, path: Path, journaled: set[str]) -> None:
    if str(path) not in journaled:
        ctx.state.journal.record("path", path=str(path))
        journaled.add(str(path))


def _ensure_resolver(ctx: ApplyContext, resolver: Resolver, live: _Live) -> None:
    """The resolver address on the router's loopback, and the resolver on it (started once, never restarted)."""
    ipr = ctx.netlink(Place("netns", resolver.netns))
    lo = index(ipr, "lo")
    if not ipr.get_addr(index=lo, address=resolver.ip):
        ipr.addr("add", index=lo, address=resolver.ip, prefixlen=32)
    token = live.data.get("resolver", {}).get("token")
    if token and processes.pids_with_token(token):
        return
    (live.dir / "hosts.d").mkdir(parents=True, exist_ok=True)
    (live.dir / "servers.conf").write_text("")
    live.data["routed"] = []
    conf = live.dir / "resolver.conf"
    conf.write_text(render_config(ctx.plan.lab, resolver, live.dir, role="resolver", port=DNS_PORT))
    token = processes.new_token(ctx.plan.lab, f"dns:{resolver.vpc}")
    ctx.state.journal.record("process", token=token, vpc=resolver.vpc, role="dns-resolver")
    _spawn(ctx, resolver, live, conf, token, resolver.ip, DNS_PORT, f"dns-{resolver.vpc}.log")
    live.data["resolver"] = {"token": token}
    live.save()


def _spawn(ctx: ApplyContext, resolver: Resolver, live: _Live, conf: Path, token: str, ip: str, port: int,
           log_name: str) -> int:
    """Start dnsmasq in the router's namespace and wait until it listens; the token rides in its pid-file path."""
    run = live.dir / "run"
    run.mkdir(parents=True, exist_ok=True)
    argv = ["dnsmasq", "--keep-in-foreground", f"--conf-file={conf}", f"--pid-file={run / token}.pid"]
    log = ctx.state.log_dir() / log_name
    try:
        pid = processes.spawn(argv, netns.netns_path(resolver.netns), log)
    except FileNotFoundError:
        raise DnsError("dnsmasq is not installed (Debian package dnsmasq-base); run setup.sh install") from None
    deadline = time.monotonic() + START_TIMEOUT_S
    while not processes.listening(f"/proc/{pid}", ip, port):
        if time.monotonic() > deadline or not Path(f"/proc/{pid}").exists():
            processes.stop([token])
            tail = log.read_text()[-1500:] if log.exists() else ""
            raise DnsError(f"dnsmasq for VPC {resolver.vpc} did not listen on {ip}:{port} "
                           f"within {START_TIMEOUT_S:.0f} s; it said:\n{tail}")
        time.sleep(0.01)
    return pid


def _start_cname_server(ctx: ApplyContext, resolver: Resolver, live: _Live, cnames: list[tuple[str, str]]) -> None:
    old = live.data.get("cname")
    generation = (old or {}).get("generation", 0) + 1
    busy = old["port"] if old and processes.pids_with_token(old["token"]) else None
    port = next(p for p in CNAME_PORTS if p != busy)
    conf = live.dir / f"cname-{generation}.conf"
    conf.write_text(render_config(ctx.plan.lab, resolver, live.dir, role="cname", port=port, cnames=cnames,
                                  generation=generation))
    token = processes.new_token(ctx.plan.lab, f"dns-cname:{resolver.vpc}")
    ctx.state.journal.record("process", token=token, vpc=resolver.vpc, role="dns-cname-server")
    _spawn(ctx, resolver, live, conf, token, "127.0.0.1", port, f"dns-{resolver.vpc}-cname.log")
    _wait_answering(resolver, port, cnames, token)
    live.data["cname"] = {"token": token, "port": port, "generation": generation, "cnames": [list(c) for c in cnames]}
    if old:
        # The old server keeps answering until the resolver has switched (next _route_cnames), then stops.
        live.data.setdefault("retired", []).append(old["token"])
    live.save()


def _wait_answering(resolver: Resolver, port: int, cnames: list[tuple[str, str]], token: str) -> None:
    """Listening is not ready: dnsmasq reads its hosts folder after it binds. Before the resolver is
    switched over, the new server must answer a CNAME whose target is held with the target's addresses."""
    held = {r.name for r in resolver.records if r.type == "A"}
    probe = next(((name, target) for name, target in cnames if target in held), None)
    if probe is None:
        return  # no CNAME can be complete yet: nothing to compare with
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if ask(netns.netns_path(resolver.netns), "127.0.0.1", port, probe[0]) > 0:
                return
        except OSError:
            pass
        time.sleep(0.005)
    processes.stop([token])
    raise DnsError(f"the new CNAME server of VPC {resolver.vpc} did not answer {probe[0]} -> {probe[1]} "
                   f"within {START_TIMEOUT_S:.0f} s")


def ask(ns_path: Path, ip: str, port: int, qname: str, timeout: float = 0.5) -> int:
    """One A query from inside a namespace; returns how many A records the answer holds (-rcode on error).

    Hand-made (RFC 1035: header, one question, answers with compressed names) to keep sync free of scapy.
    """
    query = struct.pack("!HHHHHH", os.getpid() & 0xFFFF, 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(label)]) + label.encode() for label in qname.split(".")) + b"\0"
    query += struct.pack("!HH", 1, 1)
    with netns.entered(ns_path):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        sock.settimeout(timeout)
        sock.sendto(query, (ip, port))
        reply = sock.recv(4096)
    rcode = reply[3] & 0x0F
    if rcode:
        return -rcode
    answers = struct.unpack("!H", reply[6:8])[0]
    offset = _skip_name(reply, 12) + 4
    count = 0
    for _ in range(answers):
        offset = _skip_name(reply, offset)
        rtype, _cls, _ttl, length = struct.unpack("!HHIH", reply[offset:offset + 10])
        count += rtype == 1
        offset += 10 + length
    return count


def _skip_name(message: bytes, offset: int) -> int:
    while True:
        length = message[offset]
        if length == 0:
            return offset + 1
        if length & 0xC0 == 0xC0:  # a compression pointer ends the name
            return offset + 2
        offset += 1 + length


def _route_cnames(live: _Live, cnames: list[tuple[str, str]]) -> None:
    """Point the resolver at the CNAME server for exactly these names (servers-file + SIGHUP)."""
    cname = live.data.get("cname")
    port = cname["port"] if cname else CNAME_PORTS[0]
    text = servers_file(cnames, port)
    path = live.dir / "servers.conf"
    if live.routed() == cnames and path.exists() and path.read_text() == text:
        return
    tmp = live.dir / ".servers.conf.tmp"
    tmp.write_text(text)
    tmp.replace(path)
    for pid in processes.pids_with_token(live.data["resolver"]["token"]):
        os.kill(pid, signal.SIGHUP)  # re-reads the servers file; the process (and its PID) stays
    live.data["routed"] = [list(c) for c in cnames]
    retired = live.data.pop("retired", [])
    if retired:
        time.sleep(0.05)  # let queries already forwarded to the old server come back
        processes.stop(retired)


def _stop_all(live: _Live) -> None:
    tokens = [live.data.get(k, {}).get("token") for k in ("resolver", "cname")]
    processes.stop([t for t in tokens if t])
    live.data = {}
    if live.file.exists():
        live.save()


def _write_hosts(hosts_dir: Path, files: dict[str, str]) -> None:
    hosts_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = hosts_dir / name
        if path.exists() and path.read_text() == text:
            continue
        tmp = hosts_dir / f".{name}.tmp"  # dnsmasq skips dot files, and a rename is atomic
        tmp.write_text(text)
        tmp.replace(path)
    for path in hosts_dir.iterdir():
        if not path.name.startswith(".") and path.name not in files:
            path.unlink()


# -- reading (lab dns records) -----------------------------------------------------------------

def running(lab_state_dir: Path, vpc: str) -> dict:
    """Whether the VPC's resolver and CNAME server run, with their PIDs (from live.json and /proc)."""
    path = lab_state_dir / "dns" / vpc / "live.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    out = {}
    for key in ("resolver", "cname"):
        token = data.get(key, {}).get("token")
        out[key] = processes.pids_with_token(token) if token else []
    out["cname_port"] = data.get("cname", {}).get("port")
    return out
