"""The one loop that looks at the lab for every open page: a thread that reads the lab every
TICK_S (endpoint states, target health, link counters, connection events) and takes a metrics
sample every SAMPLE_S, and hands each new view to the pages waiting for it.

Many pages, one reader: a tab more costs the lab nothing. Why `lab ui` samples the metrics itself
(and not a sampler process the lab owns): see docs/metrics.md.
"""

from __future__ import annotations

import json
import threading
import time

from lab import api

TICK_S = 1.0  # a change from another terminal shows within 2 s: one tick plus the page's redraw
SAMPLE_S = 10.0  # CloudWatch's high-resolution period the issue asks for
EVENTS_SHOWN = 50
METRICS_WINDOW_S = 300.0


class Watcher:
    def __init__(self, lab: str, tick_s: float = TICK_S, sample_s: float = SAMPLE_S):
        self.lab = lab
        self.tick_s, self.sample_s = tick_s, sample_s
        self.changed = threading.Condition()
        self.seq = 0
        self.view: dict = {}
        self.svg = b""
        self.graph_version = 0
        self.samples: dict = {}  # the last metrics sample: {Series: value}, for /metrics
        self.sample_time = 0.0
        self.error: str | None = None
        self._dot = b""
        self._counters: tuple[float, dict] | None = None
        self._metrics: list[dict] = []
        self._next_sample = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lab-ui-watcher", daemon=True)

    def start(self) -> None:
        self.tick()  # the first view before the server answers: a page never waits for it
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self.changed:
            self.changed.notify_all()

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                self.tick()
            except Exception as err:  # noqa: BLE001 - the lab went away or a read failed: show it, keep trying
                self._publish({**self.view, "Error": f"{type(err).__name__}: {err}"})

    def tick(self) -> None:
        now = time.time()
        if now >= self._next_sample:
            self._next_sample = now + self.sample_s
            self.sample_time, self.samples = api.metrics_sample(self.lab)
            report = api.metrics(self.lab, since_s=METRICS_WINDOW_S, sample_now=False)
            self._metrics = metric_rows(report)
        live = api.live_view(self.lab)
        dot = api.render_graph(live["Graph"], "dot")
        if dot != self._dot:  # lay the picture out again only when something drawn changed
            self.svg = api.render_graph(live["Graph"], "svg")
            self._dot = dot
            self.graph_version += 1
        counters = live["LinkCounters"]
        rates = api.link_rates(self._counters[1], counters, now - self._counters[0]) if self._counters else {}
        self._counters = (now, counters)
        links = [{"Id": key, "Name": live["Links"].get(key, key), **counters[key], **rates.get(key, {})}
                 for key in counters]
        events = api.connection_events(self.lab)
        self._publish({"Lab": self.lab, "Time": now, "GraphVersion": self.graph_version,
                       "Endpoints": live["Endpoints"], "TargetHealth": live["TargetHealth"], "Links": links,
                       "Events": events[-EVENTS_SHOWN:], "EventCount": len(events), "Metrics": self._metrics,
                       "MetricsTime": self.sample_time})

    def _publish(self, view: dict) -> None:
        with self.changed:
            self.view = view
            self.seq += 1
            self.changed.notify_all()

    def wait(self, after: int, timeout: float) -> tuple[int, dict]:
        """The next view after number `after` (or the current one when `timeout` passes first)."""
        with self.changed:
            self.changed.wait_for(lambda: self.seq > after or self._stop.is_set(), timeout)
            return self.seq, self.view

    def stopped(self) -> bool:
        return self._stop.is_set()


def metric_rows(report: dict) -> list[dict]:
    """`lab metrics`' report as table rows: one per endpoint (all its ENIs) and per service by
    endpoint, with each metric's statistic over the window (Sum for counters, Maximum for gauges)."""
    rows: dict[tuple, dict] = {}
    for m in report.get("Metrics", []):
        dims = {d["Name"]: d["Value"] for d in m["Dimensions"]}
        if not dims or "Subnet Id" in dims or "Az" in dims:
            continue  # per ENI and per AZ are in the JSON; the table keeps one line per endpoint
        key = (m["Namespace"], dims.get("VPC Endpoint Id", ""), dims.get("Service Id", dims.get("Service Name", "")))
        row = rows.setdefault(key, {"Namespace": m["Namespace"], "VpcEndpointId": key[1], "Service": key[2]})
        value = m.get("Sum") if "Sum" in m else m.get("Maximum")
        row[m["MetricName"]] = value
    return sorted(rows.values(), key=lambda r: (r["Namespace"], r["VpcEndpointId"], r["Service"]))


def sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
