"""The demo targets' ports and tenant tables, resolved from the topology (pure: no system access).

Every demo target listens on its own `port:` and on the port of every target group that sends to
it (mode port gives each tenant's NLB its own target port on the shared backend), and reads a
PROXY v2 header on the ports whose target groups send one. With a `tenancy:` section it also gets
the tenant table, keyed by what its mode trusts: an API token, the port it was reached on, or the
endpoint ID the NLB wrote in TLV 0xEA. `plan.tenancy` keeps the table for `lab verify`, which
checks that each tenant's requests were answered as that tenant.
"""

from __future__ import annotations

from dataclasses import replace

from lab.plan.ids import aws_id
from lab.plan.model import Plan
from lab.topology.model import Topology


def plan_tenancy(topo: Topology, plan: Plan) -> None:
    table = _table(topo, plan.lab)
    groups = [tg for n in topo.nlbs for tg in n.target_groups]
    apps = []
    for app in plan.apps:
        if app.kind != "demo-target":
            apps.append(app)
            continue
        mine = [tg for tg in groups if app.instance in tg.targets or app.instance in {d.target for d in tg.draining}]
        ports = sorted({app.port} | {tg.port for tg in mine})
        # A port no target group sends to keeps the demo target's old rule: PROXY v2 required.
        ppv2 = [p for p in ports if any(tg.proxy_protocol_v2 for tg in mine if tg.port == p)
                or not any(tg.port == p for tg in mine)]
        apps.append(replace(app, ports=tuple(ports), ppv2_ports=tuple(ppv2),
                            tenancy=topo.tenancy.mode if topo.tenancy else "",
                            tenants=tuple((row["key"], row["account"]) for row in table)))
    plan.apps = apps
    if topo.tenancy is not None:
        plan.tenancy = {"mode": topo.tenancy.mode, "tenants": table}


def _table(topo: Topology, lab: str) -> list[dict]:
    if topo.tenancy is None:
        return []
    rows = []
    for t in topo.tenancy.tenants:
        row = {"account": t.account, "account_id": topo.accounts[t.account], "token": t.token, "port": t.port,
               "endpoint": t.endpoint,
               "vpce_id": aws_id("vpce", lab, "endpoint", t.endpoint) if t.endpoint else None}
        row["key"] = {"token": t.token, "port": str(t.port), "ppv2": row["vpce_id"]}[topo.tenancy.mode]
        rows.append(row)
    return rows
