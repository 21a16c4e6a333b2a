"""Rules for the internet around the VPCs: gateways, public subnets, public addresses, internet flows.

Every public address of a lab comes from the documentation ranges of RFC 5737 and exists only
inside lab namespaces: an address anywhere else could shadow a real host for whoever runs the lab.
"""

from __future__ import annotations

import ipaddress

from lab.topology.errors import TopologyError

DOC_RANGES = tuple(ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
DOC_TEXT = "192.0.2.0/24, 198.51.100.0/24 or 203.0.113.0/24 (RFC 5737)"


def is_documentation(value: str) -> bool:
    net = ipaddress.IPv4Network(value, strict=False)
    return any(net.subnet_of(r) for r in DOC_RANGES)


def _public(path: str, value: str, used: dict[str, str]) -> None:
    if not is_documentation(value):
        raise TopologyError(path, f"{value} is not a documentation address",
                            f"use an address from {DOC_TEXT}; the lab never uses real public addresses")
    if value in used:
        raise TopologyError(path, f"public address {value} is already used by {used[value]}",
                            "give each public address to one thing")
    used[value] = path


def check_internet(topo) -> None:
    used: dict[str, str] = {}
    lan = None
    if topo.internet is not None:
        lan = ipaddress.IPv4Network(topo.internet.cidr)
        if not is_documentation(topo.internet.cidr):
            raise TopologyError("internet.cidr", f"{lan} is not a documentation range",
                                f"use one of {DOC_TEXT}, or a part of one")
        names: dict[str, str] = {}
        for k, host in enumerate(topo.internet.hosts):
            path = f"internet.hosts[{k}]"
            if host.name in names:
                raise TopologyError(f"{path}.name", f"internet host {host.name!r} is already defined at "
                                    f"{names[host.name]}", "give each one its own name")
            names[host.name] = path
            if host.ip is None:
                continue
            if ipaddress.IPv4Address(host.ip) not in lan:
                raise TopologyError(f"{path}.ip", f"{host.ip} is not in the internet's {lan}",
                                    f"pick an address in {lan}, or change internet.cidr")
            if list(lan.hosts()).index(ipaddress.IPv4Address(host.ip)) < 3 or host.ip == str(lan.broadcast_address):
                raise TopologyError(f"{path}.ip", f"{host.ip} is reserved in {lan} (the internet router and the "
                                    "next two)", f"pick an address from {lan.network_address + 4}")
            _public(f"{path}.ip", host.ip, used)
    for i, vpc in enumerate(topo.vpcs):
        subnets = {s.name: s for s in vpc.subnets}
        for j, sub in enumerate(vpc.subnets):
            if sub.public and not vpc.internet_gateway:
                raise TopologyError(f"vpcs[{i}].subnets[{j}].public", f"a public subnet routes 0.0.0.0/0 to an "
                                    f"internet gateway, and VPC {vpc.name!r} has none",
                                    f"add internet_gateway: true to VPC {vpc.name!r}, or remove public: true")
        _check_nat_gateways(vpc, f"vpcs[{i}]", subnets, used, lan)
        for j, inst in enumerate(vpc.instances):
            if inst.public_ip is None:
                continue
            path = f"vpcs[{i}].instances[{j}].public_ip"
            sub = subnets.get(inst.subnet)
            if sub is not None and not sub.public:
                raise TopologyError(path, f"instance {inst.name!r} is in private subnet {inst.subnet!r}: its "
                                    "public address would never be reached",
                                    f"set public: true on subnet {inst.subnet!r} (with an internet gateway), "
                                    "or remove public_ip")
            _public(path, inst.public_ip, used)
            _outside_lan(path, inst.public_ip, lan)
    for i, nlb in enumerate(topo.nlbs):
        path = f"nlbs[{i}]"
        vpc = next(v for v in topo.vpcs if v.name == nlb.vpc)
        if nlb.scheme == "internal":
            for key in ("public_ips", "public_dns_name"):
                if getattr(nlb, key):
                    raise TopologyError(f"{path}.{key}", "an internal load balancer has no public address",
                                        f"set scheme: internet-facing, or remove {key}")
            continue
        subnets = {s.name: s for s in vpc.subnets}
        for k, name in enumerate(nlb.subnets):
            if not subnets[name].public:
                raise TopologyError(f"{path}.subnets[{k}]", f"an internet-facing load balancer needs public subnets; "
                                    f"{name!r} is private", f"set public: true on subnet {name!r} (VPC "
                                    f"{vpc.name!r} needs internet_gateway: true)")
        if nlb.public_ips and len(nlb.public_ips) != len(nlb.subnets):
            raise TopologyError(f"{path}.public_ips", f"{len(nlb.public_ips)} address(es) for {len(nlb.subnets)} "
                                "subnet(s)", "give one address per subnet, in the same order, or none (allocated)")
        for k, ip in enumerate(nlb.public_ips):
            _public(f"{path}.public_ips[{k}]", ip, used)
            _outside_lan(f"{path}.public_ips[{k}]", ip, lan)
    _check_flows(topo)


def _check_nat_gateways(vpc, path: str, subnets: dict, used: dict[str, str], lan) -> None:
    names: dict[str, str] = {}
    for k, ngw in enumerate(vpc.nat_gateways):
        npath = f"{path}.nat_gateways[{k}]"
        if ngw.name in names:
            raise TopologyError(f"{npath}.name", f"NAT gateway {ngw.name!r} is already defined at {names[ngw.name]}",
                                "give each one its own name")
        names[ngw.name] = npath
        sub = subnets.get(ngw.subnet)
        if sub is None:
            raise TopologyError(f"{npath}.subnet", f"no subnet {ngw.subnet!r} in VPC {vpc.name!r}",
                                f"use one of: {', '.join(subnets)}")
        if not sub.public:
            raise TopologyError(f"{npath}.subnet", f"a public NAT gateway lives in a public subnet; {ngw.subnet!r} "
                                "is private", f"pick a public subnet, or set public: true on {ngw.subnet!r}")
        if ngw.public_ip is not None:
            _public(f"{npath}.public_ip", ngw.public_ip, used)
            _outside_lan(f"{npath}.public_ip", ngw.public_ip, lan)
    for j, sub in enumerate(vpc.subnets):
        if sub.nat_gateway is None:
            continue
        spath = f"{path}.subnets[{j}].nat_gateway"
        if sub.public:
            raise TopologyError(spath, f"subnet {sub.name!r} is public: its 0.0.0.0/0 goes to the internet gateway",
                                "remove nat_gateway:, or remove public: true")
        if sub.nat_gateway not in names:
            raise TopologyError(spath, f"no NAT gateway {sub.nat_gateway!r} in VPC {vpc.name!r}",
                                f"use one of: {', '.join(names) or '(none: add nat_gateways to the VPC)'}")


def _outside_lan(path: str, ip: str, lan) -> None:
    if lan is not None and ipaddress.IPv4Address(ip) in lan:
        raise TopologyError(path, f"{ip} is in the internet hosts' LAN {lan}",
                            "pick a public address outside internet.cidr (e.g. from 203.0.113.0/24)")


def _check_flows(topo) -> None:
    nlbs = {n.name: n for n in topo.nlbs}
    for i, flow in enumerate(topo.verify.flows):
        path = f"verify.flows[{i}]"
        if flow.endpoint is not None and flow.nlb is not None:
            raise TopologyError(path, "names both endpoint: and nlb:",
                                "keep endpoint: (through PrivateLink) or nlb: (over the internet), not both")
        if flow.endpoint is None and flow.nlb is None:
            raise TopologyError(path, "needs endpoint: or nlb:", "add endpoint: <name> (or nlb: <internet-facing NLB>)")
        if flow.nlb is None:
            continue
        nlb = nlbs.get(flow.nlb)
        if nlb is None or nlb.scheme != "internet-facing":
            facing = [n.name for n in topo.nlbs if n.scheme == "internet-facing"]
            raise TopologyError(f"{path}.nlb", f"no internet-facing load balancer {flow.nlb!r}",
                                f"use one of: {', '.join(facing) or '(none: set scheme: internet-facing on one)'}")
        if flow.exposure != "public":
            raise TopologyError(f"{path}.exposure", "a flow to an NLB's public address crosses the internet",
                                "write exposure: public (or reach the service through an endpoint:)")
        for key in ("az", "name"):
            if getattr(flow, key) is not None:
                raise TopologyError(f"{path}.{key}", f"{key}: applies to flows through an endpoint",
                                    f"remove {key}:")
        client = next((inst for v in topo.vpcs for inst in v.instances if inst.name == flow.client), None)
        if client is None:
            raise TopologyError(f"{path}.client", f"no instance {flow.client!r}", "name an instance of the lab")
        if client.public_ip is None:
            raise TopologyError(f"{path}.client", f"instance {flow.client!r} has no public_ip: it cannot reach "
                                "the internet", f"give {flow.client!r} a public_ip in a public subnet")
        ports = [ln.port for ln in nlb.listeners]
        if flow.port is not None and flow.port not in ports:
            raise TopologyError(f"{path}.port", f"{flow.nlb!r} has no listener on port {flow.port}",
                                f"use one of: {', '.join(map(str, ports))}")
