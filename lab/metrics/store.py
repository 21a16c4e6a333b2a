"""Datapoints of a lab's metrics, kept for its lifetime in SQLite in its state folder
(`metrics.sqlite`; `lab down` removes it with the folder), and the statistics over a window.

Each sample stores every series' raw value: running totals for counters, levels for gauges. A
counter's datapoint is the increase since the sample before (a total that went down means the
NLB node's HAProxy restarted or reloaded, and counts again from zero: the new total is the
increase); its Sum over a window is what CloudWatch's Sum would say. A gauge's datapoints are its
samples, with Average, Minimum and Maximum.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from lab.metrics.cloudwatch import COUNTERS, NOT_MEASURED, UNITS, Series

FILENAME = "metrics.sqlite"


class MetricStore:
    def __init__(self, path: Path):
        self.path = path
        self.db = sqlite3.connect(path, timeout=5)
        self.db.execute("CREATE TABLE IF NOT EXISTS samples (t REAL NOT NULL, series TEXT NOT NULL, value REAL NOT NULL)")
        self.db.execute("CREATE INDEX IF NOT EXISTS samples_t ON samples (t)")

    def close(self) -> None:
        self.db.close()

    def add(self, t: float, values: dict[Series, float]) -> None:
        with self.db:
            self.db.executemany("INSERT INTO samples VALUES (?, ?, ?)",
                                [(t, _key(s), v) for s, v in values.items()])

    def points(self, since: float) -> dict[Series, list[tuple[float, float]]]:
        """Every series' samples from `since` on, plus the last one before it (a counter's baseline)."""
        (before,) = self.db.execute("SELECT MAX(t) FROM samples WHERE t < ?", (since,)).fetchone()
        start = before if before is not None else since
        out: dict[Series, list[tuple[float, float]]] = {}
        for t, key, value in self.db.execute("SELECT t, series, value FROM samples WHERE t >= ? ORDER BY t", (start,)):
            out.setdefault(_series(key), []).append((t, value))
        return out


    def known_series(self) -> list[Series]:
        """Every series with at least one sample (what ListMetrics lists)."""
        return [_series(key) for (key,) in self.db.execute("SELECT DISTINCT series FROM samples")]

    def last_time(self) -> float | None:
        (t,) = self.db.execute("SELECT MAX(t) FROM samples").fetchone()
        return t


def _key(s: Series) -> str:
    return json.dumps([s.namespace, s.metric, [list(d) for d in s.dimensions]])


def _series(key: str) -> Series:
    ns, metric, dims = json.loads(key)
    return Series(ns, metric, tuple((n, v) for n, v in dims))


def increases(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A running total's samples -> (time, increase since the sample before), resets counted."""
    out = []
    for (_, prev), (t, value) in zip(points, points[1:]):
        out.append((t, value - prev if value >= prev else value))
    return out


def statistics(s: Series, points: list[tuple[float, float]], since: float, stamp) -> dict:
    """One series over the window from `since`, as GetMetricStatistics would give it (lab-only: Samples)."""
    out = {**s.to_dict(), "Unit": UNITS.get(s.metric, "None")}
    if s.metric in COUNTERS:
        deltas = [(t, d) for t, d in increases(points) if t >= since]
        out["Datapoints"] = [{"Timestamp": stamp(t), "Sum": d} for t, d in deltas]
        out["Sum"] = sum(d for _, d in deltas) if deltas else None
    else:
        inside = [(t, v) for t, v in points if t >= since]
        values = [v for _, v in inside]
        out["Datapoints"] = [{"Timestamp": stamp(t), "Average": v} for t, v in inside]
        out["Average"] = sum(values) / len(values) if values else None
        out["Minimum"] = min(values) if values else None
        out["Maximum"] = max(values) if values else None
    out["Samples"] = sum(1 for t, _ in points if t >= since)
    return out


def not_measured() -> list[dict]:
    """The metrics AWS publishes that the lab cannot measure: named, with no datapoints."""
    return [{"Namespace": ns, "MetricName": m, "Dimensions": [], "Unit": UNITS[m], "Datapoints": [],
             "LabNote": "not measured: the lab has no counter of RST packets"} for ns, ms in NOT_MEASURED.items()
            for m in ms]
