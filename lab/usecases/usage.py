"""`lab usage`: what a live lab would have cost on AWS, priced by lab.usage from its plan, the
control plane's record and the NLB nodes' per-frontend counters (lab.apply.observe)."""

from __future__ import annotations


def usage(name: str = "default", prices: str | None = None, now: float | None = None) -> dict:
    """What lab `name` would have cost on AWS so far (endpoint-hours per ENI, GB processed) and a
    projected month at the observed rate, priced from `prices` (default: lab/usage/prices.yaml)."""
    import time

    from lab.apply.observe import frontend_counters
    from lab.privatelink.records import Record
    from lab.state.store import LabState
    from lab.usage.meter import usage_report
    from lab.usage.pricing import load_prices

    book = load_prices(prices)
    state = LabState(name)
    plan = state.load_plan()
    return usage_report(plan, Record(state).data, frontend_counters(name), book, time.time() if now is None else now)
