"""A lab's counters under CloudWatch's names: one sample = the value of every series right now.

Pure: `lab.api` reads HAProxy's stats rows (per NLB node: a FRONTEND row per endpoint ENI and
listener port, a BACKEND row per target group) and the ENIs' security-group drop counters, and this
module names them as AWS PrivateLink publishes its metrics:

    AWS/PrivateLinkEndpoints  ActiveConnections NewConnections BytesProcessed PacketsDropped RstPacketsReceived
      dimensions  {Endpoint Type, Service Name, VPC Endpoint Id, VPC Id} and the same + {Subnet Id} (per ENI)
    AWS/PrivateLinkServices   ActiveConnections NewConnections BytesProcessed EndpointsCount RstPacketsSent
      dimensions  {Service Id, Load Balancer Arn} + {Az} or + {VPC Endpoint Id}

Counters (NewConnections, BytesProcessed, PacketsDropped) are sampled as running totals and turned
into per-period sums by `lab.metrics.store`; gauges (ActiveConnections, EndpointsCount) are kept as
they are. RstPacketsReceived (per endpoint) and RstPacketsSent (per service) are the nftables
counters of TCP resets leaving the NLB node by each ENI's leg (lab.apply.rstcount).
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.plan.ids import digest

ENDPOINTS_NS = "AWS/PrivateLinkEndpoints"
SERVICES_NS = "AWS/PrivateLinkServices"
COUNTERS = {"NewConnections", "BytesProcessed", "PacketsDropped", "RstPacketsReceived", "RstPacketsSent"}
GAUGES = {"ActiveConnections", "EndpointsCount"}
NOT_MEASURED: dict[str, tuple[str, ...]] = {}  # every metric AWS publishes here is measured
UNITS = {"ActiveConnections": "Count", "NewConnections": "Count", "BytesProcessed": "Bytes", "PacketsDropped": "Count",
         "EndpointsCount": "Count", "RstPacketsReceived": "Count", "RstPacketsSent": "Count"}


@dataclass(frozen=True)
class Series:
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]  # sorted (Name, Value) pairs

    def to_dict(self) -> dict:
        return {"Namespace": self.namespace, "MetricName": self.metric,
                "Dimensions": [{"Name": n, "Value": v} for n, v in self.dimensions]}


def series(namespace: str, metric: str, **dims: str) -> Series:
    names = {"endpoint_type": "Endpoint Type", "service_name": "Service Name", "vpce": "VPC Endpoint Id",
             "vpc_id": "VPC Id", "subnet_id": "Subnet Id", "service_id": "Service Id", "lb_arn": "Load Balancer Arn",
             "az": "Az"}
    return Series(namespace, metric, tuple(sorted((names[k], v) for k, v in dims.items())))


def nlb_arn(plan: dict, service: dict) -> str:
    """The NLB's ARN as the control plane shows it (DescribeVpcEndpointServiceConfigurations)."""
    return (f"arn:aws:elasticloadbalancing:{plan['region']}:{service['Owner']}:loadbalancer/net/{service['Nlb']}/"
            f"{digest('nlb', plan['lab'], service['Nlb'])[:16]}")


def sample(plan: dict, stats: list[dict], drops: list[dict],
           resets: dict[str, int] | None = None) -> dict[Series, float]:
    """Every series' value now. `stats`: HAProxy CSV rows, each with the lab-only key "Node" (the
    container it was read on); `drops`: `lab sg show`'s rows (VpcEndpointId, NetworkInterfaceId,
    Dropped.packets); `resets`: {ENI ID: TCP resets sent through its leg} (None: not readable now)."""
    services = {s["Name"]: s for s in plan["inventory"].get("services", [])}
    vpc_ids = {v["Name"]: v["VpcId"] for v in plan["inventory"].get("vpcs", [])}
    endpoints = {ep["id"]: ep for ep in plan.get("endpoints", [])}
    rows = {(r["Node"], r["pxname"], r["svname"]): r for r in stats}
    drop_of = {d["NetworkInterfaceId"]: int(d["Dropped"]["packets"]) for d in drops}
    out: dict[Series, float] = {}

    def add(key: Series, value: float) -> None:
        out[key] = out.get(key, 0) + value

    for node in plan.get("nodes", []):
        for fe in node["frontends"]:
            row = rows.get((node["container"], fe["name"], "FRONTEND"))
            ep = endpoints.get(fe["vpce_id"])
            if ep is None:
                continue
            svc = services.get(ep["service"], {})
            eni = next((e for e in ep["enis"] if e["ip"] == fe["ip"]), None)
            values = {"ActiveConnections": int(row.get("scur") or 0) if row else 0,
                      "NewConnections": int(row.get("stot") or 0) if row else 0,
                      "BytesProcessed": (int(row.get("bin") or 0) + int(row.get("bout") or 0)) if row else 0}
            common = {"endpoint_type": "Interface", "service_name": svc.get("ServiceName", ep["service"]),
                      "vpce": ep["id"], "vpc_id": vpc_ids.get(ep["vpc"], ep["vpc"])}
            for metric, value in values.items():
                add(series(ENDPOINTS_NS, metric, **common), value)
                if eni is not None:
                    add(series(ENDPOINTS_NS, metric, **common, subnet_id=eni["subnet_id"]), value)
                if svc:
                    by = {"service_id": svc["ServiceId"], "lb_arn": nlb_arn(plan, svc)}
                    add(series(SERVICES_NS, metric, **by, az=node["az"]), value)
                    add(series(SERVICES_NS, metric, **by, vpce=ep["id"]), value)
    for ep in plan.get("endpoints", []):
        svc = services.get(ep["service"], {})
        common = {"endpoint_type": "Interface", "service_name": svc.get("ServiceName", ep["service"]), "vpce": ep["id"],
                  "vpc_id": vpc_ids.get(ep["vpc"], ep["vpc"])}
        for eni in ep["enis"]:
            dropped = drop_of.get(eni["id"], 0)
            add(series(ENDPOINTS_NS, "PacketsDropped", **common), dropped)
            add(series(ENDPOINTS_NS, "PacketsDropped", **common, subnet_id=eni["subnet_id"]), dropped)
    for ep in plan.get("endpoints", []) if resets is not None else []:
        svc = services.get(ep["service"], {})
        common = {"endpoint_type": "Interface", "service_name": svc.get("ServiceName", ep["service"]), "vpce": ep["id"],
                  "vpc_id": vpc_ids.get(ep["vpc"], ep["vpc"])}
        for eni in ep["enis"] if ep["state"] == "available" else []:
            count = resets.get(eni["id"], 0)
            add(series(ENDPOINTS_NS, "RstPacketsReceived", **common), count)
            add(series(ENDPOINTS_NS, "RstPacketsReceived", **common, subnet_id=eni["subnet_id"]), count)
            if svc:
                by = {"service_id": svc["ServiceId"], "lb_arn": nlb_arn(plan, svc)}
                add(series(SERVICES_NS, "RstPacketsSent", **by, az=eni["az"]), count)
                add(series(SERVICES_NS, "RstPacketsSent", **by, vpce=ep["id"]), count)
    for svc in services.values():
        live = sum(1 for ep in plan.get("endpoints", []) if ep["service"] == svc["Name"] and ep["state"] == "available")
        out[series(SERVICES_NS, "EndpointsCount", service_id=svc["ServiceId"], lb_arn=nlb_arn(plan, svc))] = live
    return out
