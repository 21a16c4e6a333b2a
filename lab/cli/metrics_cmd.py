"""`lab metrics`: per endpoint / ENI / service metrics under CloudWatch's names, from the lab's counters."""

from __future__ import annotations

import re

import click

from lab.cli.output import emit_json, name_option, progress, stdout, table
from lab.topology.errors import LabInputError

UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SHORT = {"VPC Endpoint Id": "", "Subnet Id": "", "VPC Id": "", "Service Id": "", "Az": "", "Endpoint Type": None,
         "Service Name": None, "Load Balancer Arn": None}


def parse_duration(text: str, option: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if not m or float(m[1]) <= 0:
        raise LabInputError(option, f"{text!r} is not a duration", "write e.g. 30s, 5m, 1h")
    return float(m[1]) * UNIT_S[m[2] or "s"]


@click.command()
@name_option
@click.option("--endpoint", metavar="ID", default=None, help="Only this endpoint (vpce-… or its name).")
@click.option("--service", metavar="ID", default=None, help="Only this service (vpce-svc-…, its name or service name).")
@click.option("--since", default="5m", show_default=True, help="The window: 30s, 5m, 1h, …")
@click.option("--record", "record", default="0", show_default=True,
              help="First sample every --interval for this long (e.g. 1m; at most 1h).")
@click.option("--interval", default="10s", show_default=True, help="Time between samples with --record.")
@click.option("--format", "fmt", default="text", show_default=True, metavar="text|json",
              help="Output as human-readable text or as JSON.")
def metrics(lab: str, endpoint: str | None, service: str | None, since: str, record: str, interval: str,
            fmt: str) -> None:
    """Metrics per endpoint, per ENI (Subnet Id) and per service, with CloudWatch's names
    (AWS/PrivateLinkEndpoints, AWS/PrivateLinkServices): ActiveConnections, NewConnections,
    BytesProcessed, PacketsDropped, EndpointsCount. Every call takes a sample (kept in the lab's
    state folder for its lifetime); counters are summed over --since from those samples, so two
    calls (or --record) are needed for a Sum. See docs/graph.md#lab-metrics."""
    from lab import api

    if fmt not in ("text", "json"):
        raise LabInputError("--format", f"{fmt!r} is not a format lab metrics prints", "use one of: text, json")
    since_s = parse_duration(since, "--since")
    record_s = 0.0 if record.strip() == "0" else parse_duration(record, "--record")
    interval_s = parse_duration(interval, "--interval")
    if record_s > api.METRICS_MAX_RECORD_S:
        raise LabInputError("--record", f"{record!r} is longer than {api.METRICS_MAX_RECORD_S // 60} minutes",
                            "record at most 1h at a time")
    if interval_s < 1:
        raise LabInputError("--interval", f"{interval!r} is under 1 s", "give 1s or more")
    report = api.metrics(lab, endpoint, service, since_s, record_s, interval_s, progress if fmt == "text" else None)
    if fmt == "json":
        emit_json(report)
        return
    stdout.print(f"[bold]lab {lab}[/bold] metrics from {report['StartTime']} to {report['EndTime']}")
    for ns in ("AWS/PrivateLinkEndpoints", "AWS/PrivateLinkServices"):
        rows = [m for m in report["Metrics"] if m["Namespace"] == ns and m["Dimensions"]]
        table(ns, ["Metric", "Dimensions", "Sum", "Average", "Maximum", "Samples"],
              [(m["MetricName"], _dims(m["Dimensions"]), _num(m.get("Sum")), _num(m.get("Average")),
                _num(m.get("Maximum")), m["Samples"]) for m in rows])
    for m in report["Metrics"]:
        if m.get("LabNote"):
            stdout.print(f"note: {m['Namespace']} {m['MetricName']}: {m['LabNote']}", markup=False)


def _dims(dims: list[dict]) -> str:
    return " ".join(d["Value"] for d in dims if SHORT.get(d["Name"], "") is not None)


def _num(value) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)
