"""The metrics in Prometheus' text format, at `lab ui`'s /metrics, so a user's Grafana can chart them.

Names follow CloudWatch's: namespace and metric in snake case (AWS/PrivateLinkEndpoints
BytesProcessed -> aws_privatelinkendpoints_bytes_processed_total), dimensions as labels in snake
case ("VPC Endpoint Id" -> vpc_endpoint_id). Counters are the running totals HAProxy and nftables
keep (Prometheus' rate() handles their resets on an HAProxy reload); gauges are as sampled. The
values are the watcher's last sample (at most SAMPLE_S old), so a scrape costs the lab nothing.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

COUNTERS = {"NewConnections", "BytesProcessed", "PacketsDropped"}
HELP = {
    "ActiveConnections": "concurrent connections (HAProxy scur of the ENI's frontends)",
    "NewConnections": "connections established (HAProxy stot)",
    "BytesProcessed": "bytes exchanged, both directions (HAProxy bin + bout)",
    "PacketsDropped": "packets dropped at the ENI (security group nftables counter)",
    "EndpointsCount": "endpoints connected to the service (state available)",
}
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def snake(text: str) -> str:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text.replace("/", "_"))
    return re.sub(r"[^a-zA-Z0-9_]+", "_", text).strip("_").lower()


def metric_name(namespace: str, metric: str) -> str:
    return f"{snake(namespace.replace('PrivateLink', 'Privatelink'))}_{snake(metric)}"


class SampleCollector:
    def __init__(self, watcher):
        self.watcher = watcher

    def collect(self):
        families: dict[str, object] = {}
        for s, value in sorted(self.watcher.samples.items(), key=lambda kv: (kv[0].namespace, kv[0].metric,
                                                                             kv[0].dimensions)):
            name = metric_name(s.namespace, s.metric)
            labels = [snake(n) for n, _ in s.dimensions]
            key = (name, tuple(labels))  # a family has one label set: per-ENI series get their own
            fam = families.get(key)
            if fam is None:
                doc = f"{s.namespace} {s.metric}: {HELP.get(s.metric, '')}"
                suffix = "_per_eni" if "subnet_id" in labels else ""
                if "az" in labels:
                    suffix = "_per_az"
                elif "vpc_endpoint_id" in labels and s.namespace.endswith("Services"):
                    suffix = "_per_endpoint"
                cls = CounterMetricFamily if s.metric in COUNTERS else GaugeMetricFamily
                fam = families[key] = cls(name + suffix, doc, labels=labels)
            fam.add_metric([v for _, v in s.dimensions], float(value))
        yield from families.values()


def exposition(watcher) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SampleCollector(watcher))
    return generate_latest(registry)
