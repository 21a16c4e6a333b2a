"""DNS between the data centre and the VPC: a Route 53 Resolver inbound endpoint, and the on-prem resolver.

- Inbound endpoint (AWS: resolver addresses in the VPC's subnets that answer with the VPC's own
  view): its addresses sit as /32s on the VPC router's subnet bridges, and a dnsmasq listening on
  exactly them forwards every question to the VPC's resolver (base + 2), in the same namespace.
- The on-premises resolver (the site's CIDR base + 2, on its router's loopback) forwards the
  endpoint's names -- vpce.amazonaws.com (regional and zonal names) and each service's private DNS
  name -- to the inbound endpoint's addresses, over Direct Connect; everything else is NXDOMAIN.
  Its clients use it through /etc/netns/<ns>/resolv.conf (journaled as paths, like the VPCs').

Both are lab processes with owner tokens (journal kind "process"): `lab down` stops exactly them.
"""

from __future__ import annotations

import time
from pathlib import Path

from lab.topology.errors import LabSystemError
from lab.apply import netns, processes, templates
from lab.apply.context import ApplyContext
from lab.apply.links import index
from lab.plan.model import Place

START_TIMEOUT_S = 5.0
ETC_NETNS = Path("/etc/netns")


class OnPremDnsError(LabSystemError, RuntimeError):
    """A forwarder did not start (the message carries dnsmasq's words)."""


def start(ctx: ApplyContext) -> None:
    waits = []
    for inbound in ctx.plan.inbound_endpoints:
        ipr = ctx.netlink(Place("netns", inbound.netns))
        for bridge, ip in inbound.addresses:
            ipr.addr("add", index=index(ipr, bridge), address=ip, prefixlen=32)
        conf = templates.render("dnsmasq-forwarder.conf.j2", lab=ctx.plan.lab,
                                what=f"Route 53 Resolver inbound endpoint {inbound.id} of VPC {inbound.vpc}",
                                default_server=inbound.upstream, default_what="the VPC's resolver", forward=[],
                                listen=[ip for _b, ip in inbound.addresses])
        waits.append(_spawn(ctx, f"dns-inbound-{inbound.vpc}", inbound.netns, conf, inbound.addresses[0][1]))
    for resolver in ctx.plan.onprem_resolvers:
        ipr = ctx.netlink(Place("netns", resolver.netns))
        ipr.addr("add", index=index(ipr, "lo"), address=resolver.ip, prefixlen=32)
        conf = templates.render("dnsmasq-forwarder.conf.j2", lab=ctx.plan.lab,
                                what=f"the resolver of on-premises network {resolver.site}", default_server=None,
                                default_what="", forward=[(d, ips) for d, ips in resolver.forward],
                                listen=[resolver.ip])
        waits.append(_spawn(ctx, f"dns-onprem-{resolver.site}", resolver.netns, conf, resolver.ip))
        _resolv_confs(ctx, resolver)
    for wait in waits:
        wait()


def _spawn(ctx: ApplyContext, name: str, ns: str, conf_text: str, ip: str):
    where = ctx.state.dir / "dns" / name
    (where / "run").mkdir(parents=True, exist_ok=True)
    conf = where / "dnsmasq.conf"
    conf.write_text(conf_text)
    token = processes.new_token(ctx.plan.lab, name)
    ctx.state.journal.record("process", token=token, role=name)
    log = ctx.state.log_dir() / f"{name}.log"
    argv = ["dnsmasq", "--keep-in-foreground", f"--conf-file={conf}", f"--pid-file={where / 'run' / token}.pid"]
    pid = processes.spawn(argv, netns.netns_path(ns), log)

    def wait() -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not processes.listening(f"/proc/{pid}", ip, 53):
            if time.monotonic() > deadline or not Path(f"/proc/{pid}").exists():
                processes.stop([token])
                tail = log.read_text()[-1500:] if log.exists() else ""
                raise OnPremDnsError(f"dnsmasq {name} did not listen on {ip}:53 within {START_TIMEOUT_S:.0f} s; "
                                     f"it said:\n{tail}")
            time.sleep(0.01)
    return wait



def _resolv_confs(ctx: ApplyContext, resolver) -> None:
    text = (f"# privatelink-lab {ctx.plan.lab}: on-premises network {resolver.site}'s resolver\n"
            f"nameserver {resolver.ip}\noptions timeout:1 attempts:2\n")
    for ns in resolver.clients:
        where = ETC_NETNS / ns
        if not where.exists():
            ctx.state.journal.record("path", path=str(where))
            where.mkdir(parents=True)
        path = where / "resolv.conf"
        ctx.state.journal.record("path", path=str(path))
        path.write_text(text)
