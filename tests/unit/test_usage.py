"""`lab usage`'s arithmetic (no root): partial hours billed as full ones per endpoint and AZ, the
per-GB tiers over the region's month, the projection, and the price file's checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.plan.build import build_plan
from lab.topology.errors import LabInputError
from lab.topology.load import load_topology
from lab.usage.meter import parse_time, usage_report
from lab.usage.pricing import DEFAULT_PRICES, Tier, billed_hours, data_cost, load_prices

REPO = Path(__file__).resolve().parents[2]
TIERS = (Tier(1048576, 0.01), Tier(5242880, 0.006), Tier(None, 0.004))
T0 = parse_time("2026-01-01T00:00:00.000Z")


def test_partial_hours_are_billed_as_full_hours():
    assert billed_hours(0) == 0
    assert billed_hours(1) == 1
    assert billed_hours(3600) == 1
    assert billed_hours(3601) == 2
    assert billed_hours(90 * 60) == 2


def test_data_tiers_apply_to_the_regions_monthly_total():
    assert data_cost(100, TIERS) == pytest.approx(1.0)
    pb = 1048576
    assert data_cost(2 * pb, TIERS) == pytest.approx(pb * 0.01 + pb * 0.006)
    assert data_cost(6 * pb, TIERS) == pytest.approx(pb * 0.01 + 4 * pb * 0.006 + pb * 0.004)
    # 10 GB on top of a month that already used the first PB: all at the second tier
    assert data_cost(10, TIERS, already_gb=pb) == pytest.approx(0.06)
    # straddling the first boundary
    assert data_cost(10, TIERS, already_gb=pb - 4) == pytest.approx(4 * 0.01 + 6 * 0.006)


def test_shipped_price_file_loads_and_says_what_is_unverified():
    book = load_prices()
    us = book.region("us-east-1")
    assert us is not None and us.az_hour == 0.01 and not us.az_hour_verified and us.tiers_verified
    assert [t.per_gb for t in us.tiers] == [0.01, 0.006, 0.004]
    assert book.source_url.startswith("https://aws.amazon.com/privatelink/pricing") and book.read_on
    assert "NOT in the stored copy" in DEFAULT_PRICES.read_text()


@pytest.mark.parametrize(("text", "where"), [
    ("regions: [1, 2]\n", "regions"),
    ("regions:\n  us-east-1: {interface_endpoint_az_hour: x, data_processed_tiers: []}\n", "regions.us-east-1"),
    ("regions:\n  us-east-1:\n    interface_endpoint_az_hour: 0.01\n"
     "    data_processed_tiers: [{up_to_gb: 10, per_gb: 0.01}]\n", "data_processed_tiers"),
    ("regions: {\n", "not valid YAML"),
])
def test_bad_price_files_are_bad_input(tmp_path, text, where):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(LabInputError) as err:
        load_prices(path)
    assert where in str(err.value) and err.value.exit_code == 2


def _plan() -> dict:
    return build_plan(load_topology(REPO / "topologies" / "basic.yaml"), "u").to_dict()


def _record(plan: dict, created: str = "2026-01-01T00:00:00.000Z", deleted: dict | None = None) -> dict:
    ep = plan["endpoints"][0]
    return {"endpoints": {ep["name"]: {"VpcEndpointId": ep["id"], "CreationTimestamp": created,
                                       "History": [{"State": "available", "Time": created, "By": "x"}]}},
            "deleted": deleted or {}}


def _counters(plan: dict, per_eni: int) -> list[dict]:
    return [{"Node": n["container"], "Frontend": fe["name"], "BytesIn": per_eni // 2, "BytesOut": per_eni // 2,
             "Sessions": 3} for n in plan["nodes"] for fe in n["frontends"]]


def test_endpoint_hours_are_counted_per_az_and_priced():
    plan = _plan()
    gib = 2**30
    report = usage_report(plan, _record(plan), _counters(plan, 2 * gib), load_prices(), T0 + 90 * 60)
    (ep,) = report["Endpoints"]
    assert [e["AvailabilityZone"] for e in ep["NetworkInterfaces"]] == ["us-east-1a", "us-east-1b"]
    assert all(e["BilledHours"] == 2 and e["Hours"] == pytest.approx(1.5) for e in ep["NetworkInterfaces"])
    assert all(e["BytesProcessed"] == 2 * gib for e in ep["NetworkInterfaces"])
    assert ep["BilledEndpointHours"] == 4 and ep["GBProcessed"] == pytest.approx(4.0)
    assert ep["HourlyCost"] == pytest.approx(0.04) and ep["DataCost"] == pytest.approx(0.04)
    assert report["Total"]["Cost"] == pytest.approx(0.08)
    p = report["Projection"]
    assert p["MonthlyEndpointHours"] == 2 * 730 and p["MonthlyHourlyCost"] == pytest.approx(14.6)
    assert p["MonthlyGBProcessed"] == pytest.approx(4.0 / 1.5 * 730)
    assert p["MonthlyCost"] == pytest.approx(14.6 + 4.0 / 1.5 * 730 * 0.01, rel=1e-4)


def test_a_deleted_endpoint_stops_counting_when_it_was_deleted():
    plan = _plan()
    gone = {"old": {"VpcEndpointId": "vpce-0123", "SubnetIds": [s["SubnetId"] for s in plan["inventory"]["subnets"][:2]],
                    "History": [{"State": "available", "Time": "2026-01-01T00:00:00.000Z"},
                                {"State": "deleting", "Time": "2026-01-01T00:20:00.000Z"},
                                {"State": "deleted", "Time": "2026-01-01T00:20:00.000Z"}]}}
    report = usage_report(plan, _record(plan, deleted=gone), [], load_prices(), T0 + 5 * 3600)
    old = next(r for r in report["Endpoints"] if r["Name"] == "old")
    assert old["State"] == "deleted" and old["BilledEndpointHours"] == 2  # 20 min in each of 2 AZs
    assert old["NetworkInterfaces"][0]["Hours"] == pytest.approx(1 / 3)
    assert report["Projection"]["EndpointAzs"] == 2  # the deleted one is not projected


def test_a_region_without_prices_is_counted_but_not_priced():
    plan = _plan()
    plan["region"] = "eu-west-3"
    report = usage_report(plan, _record(plan), [], load_prices(), T0 + 60)
    assert report["Total"]["BilledEndpointHours"] == 2 and "Cost" not in report["Total"]
    assert any("no prices for region eu-west-3" in n for n in report["Notes"])


def test_an_enis_bytes_are_summed_over_its_listener_ports():
    plan = _plan()
    node = plan["nodes"][0]
    fe = node["frontends"][0]
    node["frontends"] = [*node["frontends"], {**fe, "name": fe["name"].rsplit("-", 1)[0] + "-443", "port": 443}]
    counters = [{"Node": node["container"], "Frontend": f["name"], "BytesIn": 100, "BytesOut": 1000, "Sessions": 1}
                for f in node["frontends"]]
    report = usage_report(plan, _record(plan), counters, load_prices(), T0 + 60)
    by_ip = {e["PrivateIpAddress"]: e for e in report["Endpoints"][0]["NetworkInterfaces"]}
    assert by_ip[fe["ip"]]["BytesProcessed"] == 2 * 1100 and by_ip[fe["ip"]]["Connections"] == 2
    assert sum(e["BytesProcessed"] for e in by_ip.values()) == 2200  # the other AZ's ENI saw nothing
