"""CloudWatch's ListMetrics and GetMetricData for a lab (issue 16 §3), what `lab api serve` answers
for the namespaces AWS/PrivateLinkEndpoints and AWS/PrivateLinkServices: the lab's metric store
(lab.metrics.store, sampled every 10 s by the lab's sampler) read through lab.metrics.query.
Reached as lab.api.cloudwatch_* (lab.usecases.ec2 re-exports these names)."""

from __future__ import annotations

FRESH_S = 1.0  # GetMetricData takes a sample first when the newest one is older than this


def _store(lab: str):
    from lab.metrics.store import FILENAME, MetricStore
    from lab.state.store import LabState

    state = LabState(lab)
    state.load_plan()  # "no lab named X is up", before a store is made for it
    return MetricStore(state.dir / FILENAME)


def _fresh(lab: str, store) -> None:
    """A sample now if the newest is older than FRESH_S (an endpoint made a moment ago is listed)."""
    import time

    from lab.usecases.metrics import metrics_sample

    last = store.last_time()
    if last is None or time.time() - last > FRESH_S:
        metrics_sample(lab)


def cloudwatch_list_metrics(lab: str, params: dict, visible) -> dict:
    """ListMetrics over the series the caller may see (`visible(Series) -> bool`), sampled fresh."""
    from lab.metrics.query import list_metrics

    store = _store(lab)
    try:
        _fresh(lab, store)
        known = [s for s in store.known_series() if visible(s)]
    finally:
        store.close()
    return list_metrics(known, params)


def cloudwatch_get_metric_data(lab: str, params: dict, visible) -> dict:
    """GetMetricData; a sample is taken first if the newest is more than FRESH_S old, so traffic sent a
    moment ago is counted (CloudWatch itself lags by a minute)."""
    from lab.metrics.query import metric_data

    store = _store(lab)
    try:
        _fresh(lab, store)
        points = store.points(float(params["StartTime"]))
    finally:
        store.close()
    return metric_data({s: p for s, p in points.items() if visible(s)}, params)
