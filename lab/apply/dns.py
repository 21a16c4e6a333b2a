"""Each VPC's DNS resolver: a lab-owned dnsmasq at the VPC CIDR base + 2, in the VPC router's namespace.

The resolver address sits on the router's loopback as a /32, so every instance reaches it through
its default gateway, and `lab exec` processes use it through /etc/netns/<ns>/resolv.conf.

Names come and go with endpoint state WITHOUT restarting the resolver:
- A records (regional/zonal endpoint names, instance host names) are files in an `addn-hosts=`
  folder, one file per source; after a change every dnsmasq of the VPC gets SIGHUP, which re-reads
  the folder (no restart, same PID), and sync waits until an added name answers. Not `hostsdir=`:
  that makes each dnsmasq hold an inotify instance, and a host allows 128 per user, so a lab with
  ~120 VPCs could not start its resolvers (found at N = 200 consumer VPCs).
- CNAMEs (private DNS names, aliases) are the hard part: `cname=` exists only in dnsmasq's main
  config, which it reads once (SIGHUP does not re-read it), and its target must be a name dnsmasq
  holds itself. So each VPC with CNAMEs gets a second dnsmasq, a CNAME server, on 127.0.0.1 in the
  same namespace, holding the `cname=` lines and reading the same hosts folder (so it answers
  CNAME + A in one reply). The resolver sends exactly the CNAME names that should answer now to it,
  through a `servers-file=` (which dnsmasq DOES re-read on SIGHUP). A CNAME appears or disappears
  with a rewrite of that file and a SIGHUP of the resolver (measured: answers change 3-5 ms after).
  A CNAME server is loaded with every CNAME the VPC could serve (plan: Resolver.cname_pool, whatever
  the endpoints' states and the domains' verifications), so accept, reject and verification never
  start or stop a process.
- A name, once routed to a CNAME server, stays routed to that server until the name goes away.
  Measured: when a SIGHUP removes a server entry, dnsmasq drops the queries it had forwarded there
  (the reply is ignored, and a client's retry may even be attached to the dead query), so moving a
  live name to another server loses answers. Hence, when a CNAME new to the VPC appears (an endpoint
  created later with aliases or private DNS), a NEW CNAME server starts on the next port and only the
  new names go to it; older servers keep their names and stop once they have none (the newest one
  always stays). The resolver at base + 2 keeps its PID for the lab's whole life.
- Order keeps answers whole: CNAMEs leave before their targets, and targets arrive before CNAMEs.

Files, in the state dir: dns/<vpc>/{resolver.conf, servers.conf, cname-<n>.conf, hosts.d/, live.json};
logs in logs/dns-<vpc>.log and logs/dns-<vpc>-cname.log. Processes carry an owner token (journal
kind "process"), resolv.conf files and the /etc/netns folders we make are journaled as "path":
`lab down` removes exactly them.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from lab.apply import netns, processes, templates
from lab.apply.context import ApplyContext
from lab.apply.dnsquery import ask
from lab.apply.links import index
from lab.plan.dns import Resolver
from lab.plan.model import Place
from lab.topology.errors import LabSystemError

DNS_PORT = 53
CNAME_PORTS = range(5301, 5400)  # one per live CNAME server of a VPC (its router namespace's loopback)
TTL_S = 5  # short, so a name that went away is not held by a caching client for long (AWS uses 60)
START_TIMEOUT_S = 5.0
ETC_NETNS = Path("/etc/netns")


class DnsError(LabSystemError, RuntimeError):
    """A resolver could not be started or changed (the message carries dnsmasq's own words)."""


def render_config(lab: str, resolver: Resolver, folder: Path, *, role: str, port: int,
                  cnames: list[tuple[str, str]] = (), generation: int = 0) -> str:
    listen = resolver.ip if role == "resolver" else "127.0.0.1"
    return templates.render("dnsmasq.conf.j2",
        lab=lab, vpc=resolver.vpc, role=role, listen=listen, port=port, ttl=TTL_S, hostsdir=folder / "hosts.d",
        servers_file=folder / "servers.conf", cnames=list(cnames), generation=generation)


def hosts_files(resolver: Resolver) -> dict[str, str]:
    """The hosts folder's content: one file per source of A records (so one endpoint's change is one file)."""
    files: dict[str, list[str]] = {}
    for record in resolver.records:
        if record.type != "A":
            continue
        name = {"hostname": "hostnames", "public": "public"}.get(record.origin) or f"endpoint-{record.endpoint}"
        files.setdefault(name, []).extend(f"{ip} {record.name}" for ip in record.values)
    return {name: "\n".join(lines) + "\n" for name, lines in sorted(files.items())}


def servers_file(routes: dict[str, int]) -> str:
    """The resolver's servers-file: each CNAME name that answers now -> the port of its CNAME server."""
    return "".join(f"server=/{name}/127.0.0.1#{port}\n" for name, port in sorted(routes.items()))


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
    enabled: list[tuple[Resolver, _Live]] = []
    starting: list[Callable[[], None]] = []
    for resolver in ctx.plan.resolvers:
        _resolv_confs(ctx, resolver, journaled)
        live = _Live(folder(ctx, resolver.vpc))
        if not resolver.enabled:
            _stop_all(live)
            continue
        enabled.append((resolver, live))
        wait = _ensure_resolver(ctx, resolver, live)
        if wait is not None:
            starting.append(wait)
    for wait in starting:  # resolvers start side by side: a lab of 200 VPCs waits for them once, not 200 times
        wait()
    for resolver, live in enabled:
        wanted = {r.name: r.values[0] for r in resolver.cnames()}
        # 1. CNAMEs that go away (or would change target) stop answering before anything else changes.
        routed = {n: r for n, r in live.routed().items() if wanted.get(n) == r["target"]}
        _route(live, routed)
        # 2. A records: new and changed files in, stale files out; every dnsmasq of the VPC re-reads them.
        files = hosts_files(resolver)
        added = _write_hosts(live.dir / "hosts.d", files)
        if added is not None:
            _reload_hosts(resolver, live, files, added)
        # 3. CNAMEs that come: to the newest server holding them, or to a new one loaded with the pool.
        missing = {n: t for n, t in wanted.items() if n not in routed}
        if missing and any(_holder(live, n, t) is None for n, t in missing.items()):
            _start_cname_server(ctx, resolver, live, sorted(set(resolver.cname_pool) | set(wanted.items())))
        for name, target in missing.items():
            routed[name] = {"target": target, "port": _holder(live, name, target)["port"]}
        _route(live, routed)
        # 4. Servers left without names stop (their entries are gone already); the newest stays.
        _retire_idle(live)
        live.save()


class _Live:
    """What runs for one VPC (live.json): the resolver's token; the CNAME servers (token, port, the
    CNAMEs each holds), oldest first; and `routed`, each answering CNAME name -> its target and server port."""

    def __init__(self, path: Path):
        self.dir = path
        self.file = path / "live.json"
        self.data: dict = json.loads(self.file.read_text()) if self.file.exists() else {}
        self._checked = False

    def save(self) -> None:
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        tmp.replace(self.file)

    def servers(self) -> list[dict]:
        """Live CNAME servers, oldest first (one that died is forgotten, and its names re-routed).
        Checked against /proc once per sync; starting and retiring servers keep the list current."""
        if not self._checked:
            self.data["cname_servers"] = [s for s in self.data.get("cname_servers", [])
                                          if processes.pids_with_token(s["token"])]
            self._checked = True
        return self.data["cname_servers"]

    def routed(self) -> dict[str, dict]:
        ports = {s["port"] for s in self.servers()}
        return {n: r for n, r in self.data.get("routed", {}).items() if r["port"] in ports}


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


def _ensure_resolver(ctx: ApplyContext, resolver: Resolver, live: _Live) -> Callable[[], None] | None:
    """The resolver address on the router's loopback, and the resolver on it (started once, never
    restarted). Returns, when it had to start one, the wait until it listens."""
    ipr = ctx.netlink(Place("netns", resolver.netns))
    lo = index(ipr, "lo")
    if not ipr.get_addr(index=lo, address=resolver.ip):
        ipr.addr("add", index=lo, address=resolver.ip, prefixlen=32)
    token = live.data.get("resolver", {}).get("token")
    if token and processes.pids_with_token(token):
        return None
    # The records go in first, so a fresh resolver reads them as it starts (no SIGHUP needed).
    _write_hosts(live.dir / "hosts.d", hosts_files(resolver))
    (live.dir / "servers.conf").write_text("")
    live.data["routed"] = {}
    conf = live.dir / "resolver.conf"
    conf.write_text(render_config(ctx.plan.lab, resolver, live.dir, role="resolver", port=DNS_PORT))
    token = processes.new_token(ctx.plan.lab, f"dns:{resolver.vpc}")
    ctx.state.journal.record("process", token=token, vpc=resolver.vpc, role="dns-resolver")
    pid = _spawn(ctx, resolver, live, conf, token, f"dns-{resolver.vpc}.log")
    live.data["resolver"] = {"token": token}
    live.save()
    return lambda: _await_listening(ctx, resolver, pid, token, resolver.ip, DNS_PORT, f"dns-{resolver.vpc}.log")


def _spawn(ctx: ApplyContext, resolver: Resolver, live: _Live, conf: Path, token: str, log_name: str) -> int:
    """Start dnsmasq in the router's namespace; the token rides in its pid-file path."""
    run = live.dir / "run"
    run.mkdir(parents=True, exist_ok=True)
    argv = ["dnsmasq", "--keep-in-foreground", f"--conf-file={conf}", f"--pid-file={run / token}.pid"]
    try:
        return processes.spawn(argv, netns.netns_path(resolver.netns), ctx.state.log_dir() / log_name)
    except FileNotFoundError:
        raise DnsError("dnsmasq is not installed (Debian package dnsmasq-base); run setup.sh install") from None


def _await_listening(ctx: ApplyContext, resolver: Resolver, pid: int, token: str, ip: str, port: int,
                     log_name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not processes.listening(f"/proc/{pid}", ip, port):
        if time.monotonic() > deadline or not Path(f"/proc/{pid}").exists():
            processes.stop([token])
            log = ctx.state.log_dir() / log_name
            tail = log.read_text()[-1500:] if log.exists() else ""
            raise DnsError(f"dnsmasq for VPC {resolver.vpc} did not listen on {ip}:{port} "
                           f"within {START_TIMEOUT_S:.0f} s; it said:\n{tail}")
        time.sleep(0.005)


def _holder(live: _Live, name: str, target: str) -> dict | None:
    """The newest live CNAME server that holds name -> target."""
    return next((s for s in reversed(live.servers()) if [name, target] in s["cnames"]), None)


def _start_cname_server(ctx: ApplyContext, resolver: Resolver, live: _Live, cnames: list[tuple[str, str]]) -> None:
    servers = live.servers()
    generation = live.data.get("generation", 0) + 1  # numbers config files and logs; never reused
    busy = {s["port"] for s in servers}
    port = next((p for p in CNAME_PORTS if p not in busy), None)
    if port is None:
        raise DnsError(f"VPC {resolver.vpc} has {len(busy)} CNAME servers running; no port left")
    conf = live.dir / f"cname-{generation}.conf"
    conf.write_text(render_config(ctx.plan.lab, resolver, live.dir, role="cname", port=port, cnames=cnames,
                                  generation=generation))
    token = processes.new_token(ctx.plan.lab, f"dns-cname:{resolver.vpc}")
    ctx.state.journal.record("process", token=token, vpc=resolver.vpc, role="dns-cname-server")
    pid = _spawn(ctx, resolver, live, conf, token, f"dns-{resolver.vpc}-cname.log")
    _await_listening(ctx, resolver, pid, token, "127.0.0.1", port, f"dns-{resolver.vpc}-cname.log")
    _wait_answering(resolver, port, cnames, token)
    live.data["generation"] = generation
    live.data["cname_servers"] = servers + [{"token": token, "port": port, "generation": generation,
                                             "cnames": [list(c) for c in cnames]}]
    live.save()


def _wait_answering(resolver: Resolver, port: int, cnames: list[tuple[str, str]], token: str) -> None:
    """Listening is not ready: dnsmasq reads its hosts folder after it binds. Before the resolver is
    switched over, the new server must answer a CNAME whose target is held with the target's addresses."""
    held = {r.name for r in resolver.records if r.type == "A"}
    probe = next(((name, target) for name, target in cnames if target in held), None)
    if probe is None:
        return  # no CNAME can be complete yet: nothing to compare with
    if not _answers(resolver, "127.0.0.1", port, probe[0], lambda count: count > 0):
        processes.stop([token])
        raise DnsError(f"the new CNAME server of VPC {resolver.vpc} did not answer {probe[0]} -> {probe[1]} "
                       f"within {START_TIMEOUT_S:.0f} s")


def _answers(resolver: Resolver, ip: str, port: int, qname: str, good: Callable[[int], bool]) -> bool:
    """Ask the dnsmasq at ip:port (in the VPC router) for qname until `good(A record count)`, at most
    START_TIMEOUT_S; False if it never was."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            if good(ask(netns.netns_path(resolver.netns), ip, port, qname)):
                return True
        except OSError:
            pass  # no answer yet
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)


def _route(live: _Live, routed: dict[str, dict]) -> None:
    """Point the resolver at the CNAME servers for exactly these names (servers-file + SIGHUP)."""
    text = servers_file({name: r["port"] for name, r in routed.items()})
    path = live.dir / "servers.conf"
    if path.exists() and path.read_text() == text:
        live.data["routed"] = routed
        return
    tmp = live.dir / ".servers.conf.tmp"
    tmp.write_text(text)
    tmp.replace(path)
    for pid in processes.pids_with_token(live.data["resolver"]["token"]):
        os.kill(pid, signal.SIGHUP)  # re-reads the servers file; the process (and its PID) stays
    live.data["routed"] = routed


def _retire_idle(live: _Live) -> None:
    servers = live.servers()
    used = {r["port"] for r in live.data.get("routed", {}).values()}
    idle = [s for s in servers[:-1] if s["port"] not in used]
    if idle:
        processes.stop([s["token"] for s in idle])
        live.data["cname_servers"] = [s for s in servers if s not in idle]


def _stop_all(live: _Live) -> None:
    tokens = [live.data.get("resolver", {}).get("token")] + [s["token"] for s in live.data.get("cname_servers", [])]
    processes.stop([t for t in tokens if t])
    live.data = {}
    if live.file.exists():
        live.save()


def _write_hosts(hosts_dir: Path, files: dict[str, str]) -> set[str] | None:
    """Make the folder hold exactly `files`. None when nothing changed, else the names of added lines."""
    hosts_dir.mkdir(parents=True, exist_ok=True)
    changed, added = False, set()
    for name, text in files.items():
        path = hosts_dir / name
        old = path.read_text() if path.exists() else ""
        if old == text:
            continue
        tmp = hosts_dir / f".{name}.tmp"  # dnsmasq skips dot files, and a rename is atomic
        tmp.write_text(text)
        tmp.replace(path)
        changed = True
        added |= {line.split()[1] for line in set(text.splitlines()) - set(old.splitlines())}
    for path in hosts_dir.iterdir():
        if not path.name.startswith(".") and path.name not in files:
            path.unlink()
            changed = True
    return added if changed else None


def _reload_hosts(resolver: Resolver, live: _Live, files: dict[str, str], added: set[str]) -> None:
    """SIGHUP every dnsmasq of the VPC (each re-reads the hosts folder; the resolver also its servers
    file, unchanged here), then wait until each answers one added name with all of its addresses."""
    servers = [(resolver.ip, DNS_PORT, live.data["resolver"]["token"])]
    servers += [("127.0.0.1", s["port"], s["token"]) for s in live.servers()]
    for _ip, _port, token in servers:
        for pid in processes.pids_with_token(token):
            os.kill(pid, signal.SIGHUP)
    if not added:
        return  # only removals: nothing to wait for (a CNAME never outlives its target, see sync)
    probe = min(added)
    want = sum(line.split()[1:2] == [probe] for text in files.values() for line in text.splitlines())
    for ip, port, token in servers:
        if not _answers(resolver, ip, port, probe, lambda count: count == want):
            raise DnsError(f"dnsmasq of VPC {resolver.vpc} on {ip}:{port} did not serve {probe} within "
                           f"{START_TIMEOUT_S:.0f} s of re-reading its hosts folder (token {token})")


# -- reading (lab dns records) -----------------------------------------------------------------

def running(lab_state_dir: Path, vpc: str) -> dict:
    """The PIDs of the VPC's resolver and CNAME servers, and the servers' ports (live.json and /proc)."""
    path = lab_state_dir / "dns" / vpc / "live.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    token = data.get("resolver", {}).get("token")
    servers = [s for s in data.get("cname_servers", []) if processes.pids_with_token(s["token"])]
    return {"resolver": processes.pids_with_token(token) if token else [],
            "cname": [pid for s in servers for pid in processes.pids_with_token(s["token"])],
            "cname_ports": [s["port"] for s in servers]}
