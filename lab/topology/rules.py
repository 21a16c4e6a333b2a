"""Rules that relate parts of a topology to each other, checked after the schema.

Each rule raises a TopologyError at the first offending path. Order matters for the golden
tests: names first, then references, then addressing, then AWS placement rules.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from lab.topology.base import unique as _unique
from lab.topology.errors import TopologyError
from lab.topology.internet import check_internet
from lab.topology.model import Topology, Vpc
from lab.topology.regions import check_regions, is_cross_region
from lab.topology.tenancy import check_tenancy
from lab.topology.onprem import check_onprem, dx_vpc_of, onprem_instance_site

ENDPOINTS_PER_VPC = 50  # AWS's default quota of interface endpoints per VPC


def check_rules(topo: Topology) -> None:
    _unique(((f"vpcs[{i}].name", v.name) for i, v in enumerate(topo.vpcs)), "VPC")
    _unique(((f"azs[{i}].name", a.name) for i, a in enumerate(topo.azs)), "AZ")
    _unique(((f"azs[{i}].id", a.id) for i, a in enumerate(topo.azs)), "AZ ID", "give each AZ its own ID")
    _unique(((f"nlbs[{i}].name", n.name) for i, n in enumerate(topo.nlbs)), "load balancer")
    _unique(((f"endpoint_services[{i}].name", s.name) for i, s in enumerate(topo.endpoint_services)), "endpoint service")
    _unique(((f"endpoints[{i}].name", e.name) for i, e in enumerate(topo.endpoints)), "endpoint")
    _unique(
        [(f"vpcs[{i}].instances[{j}].name", inst.name) for i, v in enumerate(topo.vpcs) for j, inst in enumerate(v.instances)]
        + [(f"on_premises[{i}].instances[{j}].name", inst.name) for i, o in enumerate(topo.on_premises)
           for j, inst in enumerate(o.instances)],
        "instance", "instance names are lab-wide (so `lab exec NAME` is unambiguous): give each its own name",
    )
    _unique(((f"accounts.{k}", v) for k, v in topo.accounts.items()), "account ID", "give each account its own 12-digit ID")
    check_regions(topo)  # regions, cross-region endpoints, residency (lab.topology.regions)
    for i, vpc in enumerate(topo.vpcs):
        _check_vpc(topo, vpc, f"vpcs[{i}]")
    _check_nlbs(topo)
    _check_services(topo)
    _check_endpoints(topo)
    _check_peerings(topo)
    check_onprem(topo)
    _check_security_groups(topo)
    _check_endpoint_dns(topo)
    check_internet(topo)  # lab.topology.internet: IGWs, public subnets and addresses, internet flows
    _check_verify(topo)
    check_tenancy(topo)  # the multi-tenant modes (lab.topology.tenancy)
    _check_iam(topo)
    _check_sns_topics(topo)


def _check_vpc(topo: Topology, vpc: Vpc, path: str) -> None:
    if vpc.account not in topo.accounts:
        raise TopologyError(f"{path}.account", f"unknown account {vpc.account!r}",
                            f"use one of the accounts: keys ({', '.join(topo.accounts)})")
    az_names = [a.name for a in topo.azs]
    vpc_net = ipaddress.IPv4Network(vpc.cidr)
    _unique(((f"{path}.subnets[{j}].name", s.name) for j, s in enumerate(vpc.subnets)), "subnet")
    nets: list[tuple[str, ipaddress.IPv4Network]] = []
    for j, sub in enumerate(vpc.subnets):
        spath = f"{path}.subnets[{j}]"
        if sub.az not in az_names:
            raise TopologyError(f"{spath}.az", f"unknown AZ {sub.az!r}", f"use one of the azs: ({', '.join(az_names)})")
        net = ipaddress.IPv4Network(sub.cidr)
        if not net.subnet_of(vpc_net):
            raise TopologyError(f"{spath}.cidr", f"{net} is not inside the VPC's {vpc_net}",
                                f"pick a subnet of {vpc_net}")
        for other_path, other in nets:
            if net.overlaps(other):
                raise TopologyError(f"{spath}.cidr", f"{net} overlaps {other} ({other_path})",
                                    "subnets of one VPC must not overlap; pick a free range")
        nets.append((f"{spath}.cidr", net))
    subnets = {s.name: s for s in vpc.subnets}
    used: dict[str, str] = {}
    for j, inst in enumerate(vpc.instances):
        ipath = f"{path}.instances[{j}]"
        if inst.subnet not in subnets:
            raise TopologyError(f"{ipath}.subnet", f"no subnet {inst.subnet!r} in VPC {vpc.name!r}",
                                f"use one of: {', '.join(subnets)}")
        if inst.ip is None:
            continue
        net = ipaddress.IPv4Network(subnets[inst.subnet].cidr)
        ip = ipaddress.IPv4Address(inst.ip)
        if ip not in net:
            raise TopologyError(f"{ipath}.ip", f"{ip} is not in subnet {inst.subnet} ({net})", f"pick an address in {net}")
        # AWS reserves the first four addresses (network, router, DNS, future) and the last one.
        # Arithmetic, not list(net.hosts()): that is 65,534 objects per instance in a /16 subnet.
        first, last = net.network_address + 4, net.broadcast_address - 1
        if not first <= ip <= last:
            raise TopologyError(f"{ipath}.ip", f"{ip} is reserved by AWS in {net} (first four and last addresses)",
                                f"pick an address from {first} to {last}")
        if inst.ip in used:
            raise TopologyError(f"{ipath}.ip", f"{ip} is already used by {used[inst.ip]}", "give each instance its own IP")
        used[inst.ip] = ipath


def _vpc(topo: Topology, name: str) -> Vpc | None:
    return next((v for v in topo.vpcs if v.name == name), None)


def _check_subnet_list(topo: Topology, vpc: Vpc, subnets: list[str], path: str) -> None:
    names = {s.name: s for s in vpc.subnets}
    seen_az: dict[str, str] = {}
    for k, name in enumerate(subnets):
        if name not in names:
            raise TopologyError(f"{path}[{k}]", f"no subnet {name!r} in VPC {vpc.name!r}", f"use one of: {', '.join(names)}")
        az = names[name].az
        if az in seen_az:
            raise TopologyError(f"{path}[{k}]", f"subnet {name!r} is in {az}, like {seen_az[az]!r}",
                                "AWS takes one subnet per AZ; pick a subnet in another AZ")
        seen_az[az] = name


def _check_nlbs(topo: Topology) -> None:
    for i, nlb in enumerate(topo.nlbs):
        path = f"nlbs[{i}]"
        vpc = _vpc(topo, nlb.vpc)
        if vpc is None:
            raise TopologyError(f"{path}.vpc", f"no VPC {nlb.vpc!r}", f"use one of: {', '.join(v.name for v in topo.vpcs)}")
        _check_subnet_list(topo, vpc, nlb.subnets, f"{path}.subnets")
        tgs = [tg.name for tg in nlb.target_groups]
        _unique(((f"{path}.target_groups[{k}].name", n) for k, n in enumerate(tgs)), "target group")
        instances = {inst.name for inst in vpc.instances}
        for k, tg in enumerate(nlb.target_groups):
            for m, target in enumerate(tg.targets):
                if target not in instances:
                    raise TopologyError(f"{path}.target_groups[{k}].targets[{m}]",
                                        f"no instance {target!r} in VPC {vpc.name!r}",
                                        f"use one of: {', '.join(sorted(instances)) or '(none: add instances)'}")
            _check_draining(tg, instances, f"{path}.target_groups[{k}]")
        ports: dict[int, int] = {}
        for k, listener in enumerate(nlb.listeners):
            lpath = f"{path}.listeners[{k}]"
            if listener.target_group not in tgs:
                raise TopologyError(f"{lpath}.target_group", f"no target group {listener.target_group!r}",
                                    f"use one of: {', '.join(tgs)}")
            if listener.port in ports:
                raise TopologyError(f"{lpath}.port", f"port {listener.port} is already used by listeners[{ports[listener.port]}]",
                                    "give each listener its own port")
            ports[listener.port] = k


def _check_services(topo: Topology) -> None:
    nlbs = [n.name for n in topo.nlbs]
    used: dict[str, int] = {}
    for i, svc in enumerate(topo.endpoint_services):
        path = f"endpoint_services[{i}]"
        if svc.account not in topo.accounts:
            raise TopologyError(f"{path}.account", f"unknown account {svc.account!r}",
                                f"use one of: {', '.join(topo.accounts)}")
        if svc.nlb not in nlbs:
            raise TopologyError(f"{path}.nlb", f"no load balancer {svc.nlb!r}", f"use one of: {', '.join(nlbs) or '(none)'}")
        if svc.nlb in used:
            raise TopologyError(f"{path}.nlb", f"load balancer {svc.nlb!r} already backs endpoint_services[{used[svc.nlb]}]",
                                "give each service its own NLB")
        used[svc.nlb] = i
        for k, principal in enumerate(svc.allowed_principals):
            if principal != "*" and not _is_principal(principal):
                raise TopologyError(f"{path}.allowed_principals[{k}]", f"{principal!r} is not a principal",
                                    "write '*' or an ARN such as arn:aws:iam::222222222222:root")
        for k, sub in enumerate(svc.notifications):
            _check_subscriber(topo, sub, f"{path}.notifications[{k}]")


def _check_subscriber(topo: Topology, sub, path: str) -> None:
    """A subscriber is a host command, or a webhook that stays inside the lab (sent from a lab namespace)."""
    if (sub.command is None) == (sub.webhook is None):
        raise TopologyError(path, "needs exactly one of command: or webhook:",
                            "write command: [program, args...] or webhook: http://<lab address>:<port>/<path> with from:")
    if sub.command is not None:
        if sub.from_ is not None:
            raise TopologyError(f"{path}.from", "from: only applies to a webhook (a command runs on the host)",
                                "remove from:, or use webhook:")
        return
    url = urlsplit(sub.webhook)
    try:
        host = ipaddress.IPv4Address(url.hostname or "")
        url.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        host = None
    if url.scheme != "http" or host is None or url.username or url.query or url.fragment:
        raise TopologyError(f"{path}.webhook", f"{sub.webhook!r} is not an http://<IPv4>[:port]/<path> URL",
                            "write e.g. http://10.0.1.20:9000/events (an address inside the lab, no host names)")
    if sub.from_ is None:
        raise TopologyError(f"{path}.from", "a webhook needs from: (the instance or VPC it is sent from)",
                            "add from: <instance or VPC name> in the VPC that holds the receiver")
    vpc = _vpc(topo, sub.from_) or next((v for v in topo.vpcs for i in v.instances if i.name == sub.from_), None)
    if vpc is None:
        known = [v.name for v in topo.vpcs] + [i.name for v in topo.vpcs for i in v.instances]
        raise TopologyError(f"{path}.from", f"no instance or VPC {sub.from_!r}", f"use one of: {', '.join(known)}")
    if host not in ipaddress.IPv4Network(vpc.cidr):
        raise TopologyError(f"{path}.webhook", f"{host} is not in VPC {vpc.name!r} ({vpc.cidr}), where from: sends it",
                            f"point it at an instance in {vpc.cidr}; webhooks never leave the lab")


def _is_principal(text: str) -> bool:
    parts = text.split(":")
    return len(parts) == 6 and parts[:3] == ["arn", "aws", "iam"] and parts[4].isdigit() and len(parts[4]) == 12


def principal_allows(principals: list[str], account_id: str) -> bool:
    """Whether an allowed-principals list admits an account (the account root, any role in it, or '*')."""
    return any(p == "*" or p.split(":")[4] == account_id for p in principals)


def _check_endpoints(topo: Topology) -> None:
    services = {s.name: s for s in topo.endpoint_services}
    per_vpc: dict[str, int] = {}
    for i, ep in enumerate(topo.endpoints):
        path = f"endpoints[{i}]"
        vpc = _vpc(topo, ep.vpc)
        if vpc is None:
            raise TopologyError(f"{path}.vpc", f"no VPC {ep.vpc!r}", f"use one of: {', '.join(v.name for v in topo.vpcs)}")
        svc = services.get(ep.service)
        if svc is None:
            raise TopologyError(f"{path}.service", f"no endpoint service {ep.service!r}",
                                f"use one of: {', '.join(services) or '(none: add endpoint_services)'}")
        _check_subnet_list(topo, vpc, ep.subnets, f"{path}.subnets")
        nlb = next(n for n in topo.nlbs if n.name == svc.nlb)
        nlb_vpc = _vpc(topo, nlb.vpc)
        assert nlb_vpc is not None
        nlb_azs = {s.az for s in nlb_vpc.subnets if s.name in nlb.subnets}
        # A cross-region endpoint's AZs are its own region's; the backbone reaches every NLB node.
        for k, name in enumerate([] if is_cross_region(topo, ep) else ep.subnets):
            az = next(s.az for s in vpc.subnets if s.name == name)
            if az not in nlb_azs:
                raise TopologyError(f"{path}.subnets[{k}]", f"service {svc.name!r} is not available in {az}",
                                    f"pick subnets in the NLB's AZs: {', '.join(sorted(nlb_azs))}")
        for k, sub in enumerate(ep.notifications):  # the consumer's subscribers: the service's rules
            _check_subscriber(topo, sub, f"{path}.notifications[{k}]")
        account_id = topo.accounts[vpc.account]
        # Only an endpoint the file asks to create (no state yet) is checked: an explicit state is a
        # recorded decision, and on AWS revoking a principal leaves its existing endpoints alone.
        # `lab endpoint create` checks the principal itself before writing one (lab.privatelink).
        if ep.state is None and vpc.account != svc.account and not principal_allows(svc.allowed_principals, account_id):
            raise TopologyError(f"{path}", f"account {vpc.account} ({account_id}) is not an allowed principal of service {svc.name!r}",
                                f"add 'arn:aws:iam::{account_id}:root' to that service's allowed_principals")
        per_vpc[ep.vpc] = per_vpc.get(ep.vpc, 0) + 1
        if per_vpc[ep.vpc] > ENDPOINTS_PER_VPC:
            raise TopologyError(path, f"VPC {ep.vpc!r} has more than {ENDPOINTS_PER_VPC} interface endpoints (AWS quota)",
                                "spread endpoints over more VPCs")


def _check_peerings(topo: Topology) -> None:
    _unique(((f"peerings[{i}].name", p.name) for i, p in enumerate(topo.peerings)), "peering")
    for i, peering in enumerate(topo.peerings):
        path = f"peerings[{i}].vpcs"
        vpcs = []
        for k, name in enumerate(peering.vpcs):
            vpc = _vpc(topo, name)
            if vpc is None:
                raise TopologyError(f"{path}[{k}]", f"no VPC {name!r}", f"use one of: {', '.join(v.name for v in topo.vpcs)}")
            vpcs.append(vpc)
        a, b = vpcs
        if a.name == b.name:
            raise TopologyError(f"{path}[1]", "a VPC cannot peer with itself", "name two different VPCs")
        if ipaddress.IPv4Network(a.cidr).overlaps(ipaddress.IPv4Network(b.cidr)):
            raise TopologyError(path, f"{a.name} ({a.cidr}) and {b.name} ({b.cidr}) overlap",
                                "AWS cannot peer overlapping VPCs; that is what PrivateLink is for")


def _instance_vpc(topo: Topology, name: str) -> Vpc | None:
    return next((v for v in topo.vpcs if any(i.name == name for i in v.instances)), None)


def _check_verify(topo: Topology) -> None:
    """The `verify:` section names instances, endpoints, AZs and listener ports that must exist."""
    instances = sorted(i.name for v in topo.vpcs for i in v.instances)
    endpoints = {e.name: e for e in topo.endpoints}
    for i, flow in enumerate(topo.verify.flows):
        path = f"verify.flows[{i}]"
        if flow.endpoint is None and flow.nlb is not None:
            continue  # a flow over the internet: checked by lab.topology.internet
        ep = endpoints.get(flow.endpoint)
        if ep is None:
            raise TopologyError(f"{path}.endpoint", f"no endpoint {flow.endpoint!r}",
                                f"use one of: {', '.join(endpoints) or '(none: add endpoints)'}")
        vpc = _instance_vpc(topo, flow.client)
        site = onprem_instance_site(topo, flow.client)
        if site is not None and dx_vpc_of(topo, site.name) == ep.vpc:
            vpc = _vpc(topo, ep.vpc)  # an on-premises client reaches the endpoint over Direct Connect
        if vpc is None or vpc.name != ep.vpc:
            local = [inst.name for v in topo.vpcs if v.name == ep.vpc for inst in v.instances]
            raise TopologyError(f"{path}.client", f"no instance {flow.client!r} in the endpoint's VPC {ep.vpc!r}",
                                f"use one of: {', '.join(local) or '(none: add instances to ' + ep.vpc + ')'}")
        ep_vpc = _vpc(topo, ep.vpc)
        azs = [s.az for s in ep_vpc.subnets if s.name in ep.subnets] if ep_vpc else []
        if flow.az is not None and flow.az not in azs:
            raise TopologyError(f"{path}.az", f"endpoint {ep.name!r} has no ENI in {flow.az!r}", f"use one of: {', '.join(azs)}")
        svc = next(s for s in topo.endpoint_services if s.name == ep.service)
        ports = [ln.port for n in topo.nlbs if n.name == svc.nlb for ln in n.listeners]
        if flow.port is not None and flow.port not in ports:
            raise TopologyError(f"{path}.port", f"the service behind {ep.name!r} has no listener on port {flow.port}",
                                f"use one of: {', '.join(map(str, ports))}")
    for i, iso in enumerate(topo.verify.isolation):
        path = f"verify.isolation[{i}]"
        for field in ("client", "target"):
            if _instance_vpc(topo, getattr(iso, field)) is None:
                raise TopologyError(f"{path}.{field}", f"no instance {getattr(iso, field)!r}",
                                    f"use one of: {', '.join(instances) or '(none)'}")
        if _instance_vpc(topo, iso.client).name == _instance_vpc(topo, iso.target).name:
            raise TopologyError(f"{path}.target", f"{iso.target!r} is in the same VPC as {iso.client!r}",
                                "a VPC has no security groups in the lab; name an instance of another VPC")


def _check_security_groups(topo: Topology) -> None:
    for i, vpc in enumerate(topo.vpcs):
        _unique(((f"vpcs[{i}].security_groups[{j}].name", g.name) for j, g in enumerate(vpc.security_groups)),
                "security group", "give each group of a VPC its own name")
        for j, group in enumerate(vpc.security_groups):
            for k, rule in enumerate(group.ingress):
                path = f"vpcs[{i}].security_groups[{j}].ingress[{k}]"
                if (rule.port is None) == (rule.ports is None):
                    raise TopologyError(path, "needs exactly one of port: or ports:",
                                        "write port: 80, or ports: [8000, 8099] for a range")
                if rule.ports is not None and rule.ports[0] > rule.ports[1]:
                    raise TopologyError(f"{path}.ports", f"range {rule.ports[0]}-{rule.ports[1]} runs backwards",
                                        f"write ports: [{rule.ports[1]}, {rule.ports[0]}]")


def _check_endpoint_dns(topo: Topology) -> None:
    """Security group references, private DNS preconditions (as AWS enforces them) and DNS name clashes."""
    services = {s.name: s for s in topo.endpoint_services}
    for i, svc in enumerate(topo.endpoint_services):
        if svc.private_dns_state is not None and svc.private_dns_name is None:
            raise TopologyError(f"endpoint_services[{i}].private_dns_state", "there is no private_dns_name to verify",
                                "add private_dns_name:, or remove private_dns_state:")
    names_in_vpc: dict[tuple[str, str], str] = {}  # (vpc, DNS name) -> path that claims it
    for i, ep in enumerate(topo.endpoints):
        path, vpc, svc = f"endpoints[{i}]", _vpc(topo, ep.vpc), services[ep.service]
        groups = ["default"] + [g.name for g in vpc.security_groups]
        _unique(((f"{path}.security_groups[{k}]", g) for k, g in enumerate(ep.security_groups)), "security group",
                "list each group once")
        for k, group in enumerate(ep.security_groups):
            if group not in groups:
                raise TopologyError(f"{path}.security_groups[{k}]", f"no security group {group!r} in VPC {vpc.name!r}",
                                    f"use one of: {', '.join(dict.fromkeys(groups))}")
        if ep.private_dns_enabled:
            if svc.private_dns_name is None:
                raise TopologyError(f"{path}.private_dns_enabled", f"service {svc.name!r} has no private_dns_name",
                                    "set private_dns_enabled: false, or give the service a private_dns_name")
            if not (vpc.enable_dns_support and vpc.enable_dns_hostnames):
                raise TopologyError(f"{path}.private_dns_enabled",
                                    f"VPC {vpc.name!r} needs enable_dns_support and enable_dns_hostnames for private DNS",
                                    f"set both to true on VPC {vpc.name!r}, or set private_dns_enabled: false")
            _claim(names_in_vpc, vpc.name, svc.private_dns_name, f"{path}.private_dns_enabled")
        azs = [s.az for s in vpc.subnets if s.name in ep.subnets]
        for k, alias in enumerate(ep.aliases):
            apath = f"{path}.aliases[{k}]"
            if alias.az is not None and alias.az not in azs:
                raise TopologyError(f"{apath}.az", f"endpoint {ep.name!r} has no ENI in {alias.az!r}",
                                    f"use one of: {', '.join(azs)}, or leave az: out for the regional name")
            if alias.name == "amazonaws.com" or alias.name.endswith(".amazonaws.com"):
                raise TopologyError(f"{apath}.name", f"{alias.name} is in AWS's own domain",
                                    "pick a name in a domain of yours, e.g. web.internal")
            _claim(names_in_vpc, vpc.name, alias.name, apath)


def _claim(claimed: dict[tuple[str, str], str], vpc: str, name: str, path: str) -> None:
    """One DNS name has one meaning per VPC resolver."""
    other = claimed.setdefault((vpc, name), path)
    if other != path:
        raise TopologyError(path, f"DNS name {name} is already used in VPC {vpc!r} by {other}",
                            "give each alias its own name; a private DNS name can be enabled on one endpoint per VPC")


def _check_iam(topo: Topology) -> None:
    seen: dict[tuple[str, str | None], str] = {}
    for i, ident in enumerate(topo.iam):
        path = f"iam[{i}]"
        if ident.account not in topo.accounts:
            raise TopologyError(f"{path}.account", f"unknown account {ident.account!r}",
                                f"use one of the accounts: keys ({', '.join(topo.accounts)})")
        key = (ident.account, ident.user)
        if key in seen:
            who = f"user {ident.user!r} of account {ident.account!r}" if ident.user else f"account {ident.account!r}"
            raise TopologyError(path, f"policies for {who} are already declared at {seen[key]}",
                                "put all of its policies in one entry")
        seen[key] = path


def _check_sns_topics(topo: Topology) -> None:
    _unique(((f"sns_topics[{i}].name", t.name) for i, t in enumerate(topo.sns_topics)), "SNS topic")
    for i, topic in enumerate(topo.sns_topics):
        if topic.account not in topo.accounts:
            raise TopologyError(f"sns_topics[{i}].account", f"unknown account {topic.account!r}",
                                f"use one of the accounts: keys ({', '.join(topo.accounts)})")
        for k, sub in enumerate(topic.subscribers):
            _check_subscriber(topo, sub, f"sns_topics[{i}].subscribers[{k}]")


def _check_draining(tg, instances: set[str], path: str) -> None:
    """A target is registered once, and a draining one (deregistered, its delay running) is not registered."""
    _unique(((f"{path}.targets[{m}]", t) for m, t in enumerate(tg.targets)), "target",
            "list each target once")
    for m, d in enumerate(tg.draining):
        if d.target not in instances:
            raise TopologyError(f"{path}.draining[{m}].target", f"no instance {d.target!r} in the NLB's VPC",
                                f"use one of: {', '.join(sorted(instances)) or '(none: add instances)'}")
        if d.target in tg.targets:
            raise TopologyError(f"{path}.draining[{m}].target", f"{d.target!r} is registered and draining at once",
                                "remove it from targets or from draining")
    _unique(((f"{path}.draining[{m}].target", d.target) for m, d in enumerate(tg.draining)), "draining target",
            "list each draining target once")
