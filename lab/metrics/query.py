"""CloudWatch's ListMetrics and GetMetricData over the lab's metric store (pure).

GetMetricData's MetricStat queries are answered as CloudWatch does: the series whose namespace,
name and full dimension set match; datapoints grouped into periods aligned to the epoch; the
statistic of each period over the datapoints in it (a counter's datapoint is its increase since
the sample before, as in `lab.metrics.store`); only periods with data; newest first unless ScanBy
says TimestampAscending. Math expressions, percentiles and metrics insights are not the lab's:
they are refused with CloudWatch's InvalidParameterValue, never answered approximately.
"""

from __future__ import annotations

import re

from lab.metrics.cloudwatch import COUNTERS, Series
from lab.topology.errors import LabInputError
from lab.metrics.store import increases

STATS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")
NAMESPACES = ("AWS/PrivateLinkEndpoints", "AWS/PrivateLinkServices")
LIST_PAGE = 500  # ListMetrics answers at most 500 metrics per call, as CloudWatch does
MAX_QUERIES = 500
_ID_RE = re.compile(r"^[a-z][a-zA-Z0-9_]{0,254}$")


class QueryError(LabInputError):
    """Bad input to a CloudWatch call: `code` is CloudWatch's error code, `problem` its message."""

    def __init__(self, code: str, message: str):
        super().__init__(code, message)
        self.code = code


def list_metrics(known: list[Series], params: dict) -> dict:
    """ListMetrics: Namespace, MetricName and Dimensions (Name, optional Value) filter; NextToken pages."""
    ns, name = params.get("Namespace"), params.get("MetricName")
    wanted = params.get("Dimensions") or []
    if len(wanted) > 10:
        raise QueryError("InvalidParameterValue", "The collection Dimensions must not have more than 10 members")
    out = []
    for s in sorted(set(known), key=lambda s: (s.namespace, s.metric, s.dimensions)):
        dims = dict(s.dimensions)
        if ns and s.namespace != ns or name and s.metric != name:
            continue
        if any(d.get("Name") not in dims or ("Value" in d and dims[d["Name"]] != d["Value"]) for d in wanted):
            continue
        out.append(s.to_dict())
    start = _token(params.get("NextToken"), len(out))
    page = out[start:start + LIST_PAGE]
    result = {"Metrics": page}
    if start + LIST_PAGE < len(out):
        result["NextToken"] = str(start + LIST_PAGE)
    return result


def _token(raw: str | None, size: int) -> int:
    if raw is None:
        return 0
    if not raw.isdigit() or int(raw) > size:
        raise QueryError("InvalidNextToken", "The NextToken is not valid")
    return int(raw)


def metric_data(points: dict[Series, list[tuple[float, float]]], params: dict) -> dict:
    """GetMetricData. `points`: every series' samples (a counter's from one sample before StartTime)."""
    start, end = float(params["StartTime"]), float(params["EndTime"])
    if end <= start:
        raise QueryError("InvalidParameterValue", "The parameter StartTime must be earlier than EndTime")
    queries = params.get("MetricDataQueries") or []
    if not queries or len(queries) > MAX_QUERIES:
        raise QueryError("InvalidParameterValue", f"MetricDataQueries must have 1 to {MAX_QUERIES} members")
    ascending = params.get("ScanBy") == "TimestampAscending"
    seen: set[str] = set()
    results = []
    for q in queries:
        qid = q.get("Id", "")
        if not _ID_RE.match(qid) or qid in seen:
            raise QueryError("InvalidParameterValue", f"The Id {qid[:64]!r} must be unique and start with a "
                             "lowercase letter, then letters, digits or '_'")
        seen.add(qid)
        if "Expression" in q:
            raise QueryError("InvalidParameterValue", f"Query {qid}: metric math and Metrics Insights expressions "
                             "are not supported by the lab; use MetricStat")
        stat = q.get("MetricStat")
        if not stat:
            raise QueryError("MissingParameter", f"Query {qid} must contain MetricStat or Expression")
        period, statistic = int(stat.get("Period") or 0), stat.get("Stat", "")
        if period not in (1, 5, 10, 30) and (period < 60 or period % 60):
            raise QueryError("InvalidParameterValue", f"Query {qid}: Period {period} must be 1, 5, 10, 30 or a "
                             "multiple of 60")
        if statistic not in STATS:
            raise QueryError("InvalidParameterValue", f"Query {qid}: Stat {statistic[:32]!r} is not supported by the "
                             f"lab; use one of {', '.join(STATS)}")
        metric = stat["Metric"]
        key = Series(metric.get("Namespace", ""), metric.get("MetricName", ""),
                     tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions") or [])))
        buckets = _buckets(key, points.get(key, []), start, end, period)
        rows = sorted(((t, _stat(statistic, values)) for t, values in buckets.items()), reverse=not ascending)
        if q.get("ReturnData", True):
            results.append({"Id": qid, "Label": q.get("Label") or key.metric, "StatusCode": "Complete",
                            "Timestamps": [t for t, _ in rows], "Values": [v for _, v in rows]})
    return {"MetricDataResults": results, "Messages": []}


def _buckets(s: Series, samples: list[tuple[float, float]], start: float, end: float, period: int) -> dict:
    data = increases(samples) if s.metric in COUNTERS else samples
    out: dict[float, list[float]] = {}
    for t, value in data:
        if start <= t < end:
            out.setdefault(float(int(t // period) * period), []).append(value)
    return out


def _stat(name: str, values: list[float]) -> float:
    if name == "Sum":
        return float(sum(values))
    if name == "SampleCount":
        return float(len(values))
    if name == "Minimum":
        return float(min(values))
    if name == "Maximum":
        return float(max(values))
    return float(sum(values) / len(values))
