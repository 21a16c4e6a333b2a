"""Rules of the `tenancy:` section (the three multi-tenant modes), checked after the schema.

A tenant is an account of `accounts:`; each mode needs one key per tenant (token, port or endpoint)
and refuses the other two, so a file says plainly which mode it is in. What the rules do NOT check
is that a tenant's key belongs to that tenant (its port reached through its own endpoint, its
endpoint in its own VPC): a table that gets this wrong is valid input, and `lab verify`'s tenant
check is what catches it on packets (tests keep such red variants).
"""

from __future__ import annotations

from lab.topology.errors import TopologyError
from lab.topology.model import Topology

MODE_KEY = {"token": "token", "port": "port", "ppv2": "endpoint"}
MODE_FIX = {"token": "token: <8-128 characters>", "port": "port: <a target group's port>",
            "ppv2": "endpoint: <the tenant's endpoint>"}


def check_tenancy(topo: Topology) -> None:
    _check_table(topo)
    _check_credentials(topo)


def _check_table(topo: Topology) -> None:
    ten = topo.tenancy
    if ten is None:
        return
    targets = [i for v in topo.vpcs for i in v.instances if i.app == "demo-target"]
    if not targets:
        raise TopologyError("tenancy", "no instance runs the demo target, which is what reads the tenant table",
                            "add app: demo-target to the service's instances, or remove tenancy:")
    key = MODE_KEY[ten.mode]
    seen: dict[str, str] = {}
    values: dict[object, str] = {}
    for i, tenant in enumerate(ten.tenants):
        path = f"tenancy.tenants[{i}]"
        if tenant.account not in topo.accounts:
            raise TopologyError(f"{path}.account", f"unknown account {tenant.account!r}",
                                f"use one of the accounts: keys ({', '.join(topo.accounts)})")
        if tenant.account in seen:
            raise TopologyError(f"{path}.account", f"account {tenant.account!r} is already a tenant at {seen[tenant.account]}",
                                "list each tenant once")
        seen[tenant.account] = path
        for other in MODE_KEY.values():
            if other != key and getattr(tenant, other) is not None:
                raise TopologyError(f"{path}.{other}", f"{other}: does not apply in mode {ten.mode}",
                                    f"remove it; mode {ten.mode} tells tenants apart by {key}:")
        value = getattr(tenant, key)
        if value is None:
            raise TopologyError(path, f"mode {ten.mode} needs the tenant's {key}", f"add {MODE_FIX[ten.mode]}")
        if value in values:
            raise TopologyError(f"{path}.{key}", f"{key} is already used by {values[value]}",
                                f"give each tenant its own {key}: the app could not tell the two apart")
        values[value] = path
        if ten.mode == "port":
            _check_port(topo, tenant.port, f"{path}.port")
        elif ten.mode == "ppv2":
            _check_endpoint(topo, tenant.endpoint, f"{path}.endpoint")


def _demo_groups(topo: Topology):
    demo = {i.name for v in topo.vpcs for i in v.instances if i.app == "demo-target"}
    return [tg for n in topo.nlbs for tg in n.target_groups if demo & set(tg.targets)]


def _check_port(topo: Topology, port: int, path: str) -> None:
    ports = sorted({tg.port for tg in _demo_groups(topo)})
    if port not in ports:
        raise TopologyError(path, f"no target group sends to the demo targets on port {port}",
                            f"use one of: {', '.join(map(str, ports)) or '(none: add target groups)'}")


def _check_endpoint(topo: Topology, name: str, path: str) -> None:
    # The endpoint need not be in the file: a provider learns a tenant's endpoint ID when the tenant
    # creates it (`lab endpoint create --name NAME` gets the ID the table computed from NAME), and
    # deleting an endpoint must not make the file invalid. A name that matches nothing is caught by
    # `lab verify`: that tenant's requests are refused.
    del name, path
    for tg in _demo_groups(topo):
        if not tg.proxy_protocol_v2:
            raise TopologyError("tenancy.mode", f"mode ppv2 needs PROXY protocol v2, but target group {tg.name!r} "
                                "has proxy_protocol_v2 off", f"set proxy_protocol_v2: true on {tg.name!r}")


def _check_credentials(topo: Topology) -> None:
    """`verify.flows[].credential` presents another tenant's credential: only modes that have one."""
    for i, flow in enumerate(topo.verify.flows):
        if flow.credential is None:
            continue
        path = f"verify.flows[{i}].credential"
        ten = topo.tenancy
        if ten is None or ten.mode == "port":
            raise TopologyError(path, "a credential needs tenancy mode token or ppv2 "
                                f"({'no tenancy: section' if ten is None else 'mode port has none: the port is the identity'})",
                                "remove credential:, or set tenancy.mode to token or ppv2")
        accounts = [t.account for t in ten.tenants]
        if flow.credential not in accounts:
            raise TopologyError(path, f"{flow.credential!r} is not a tenant", f"use one of: {', '.join(accounts)}")
