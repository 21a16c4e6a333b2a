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


def usage_projection(tenants: int, azs: int, gb_per_tenant: float = 0.0, region: str | None = None,
                     prices: str | None = None, name: str | None = None) -> dict:
    """A month of a design with `tenants` tenants in `azs` AZs, per multi-tenant mode (lab.usage.projection),
    for `region` (default: lab `name`'s region if it is up, else us-east-1). Needs no lab."""
    from lab.state.store import LabState
    from lab.topology.errors import LabInputError
    from lab.usage.pricing import load_prices
    from lab.usage.projection import check, project

    check(tenants, azs, gb_per_tenant)
    book = load_prices(prices)
    if region is None:
        try:
            region = LabState(name).load_plan()["region"] if name else "us-east-1"
        except LabInputError:
            region = "us-east-1"
    return project(book, region, tenants, azs, gb_per_tenant)
