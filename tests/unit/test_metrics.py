"""`lab metrics`' naming and arithmetic (no root): HAProxy rows and drop counters -> CloudWatch's
namespaces, metric names and dimensions; counters summed from samples across a reset; gauges."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.metrics.cloudwatch import ENDPOINTS_NS, SERVICES_NS, nlb_arn, sample, series
from lab.metrics.store import MetricStore, increases, not_measured, statistics
from lab.plan.build import build_plan
from lab.topology.load import load_topology

REPO = Path(__file__).resolve().parents[2]


def _plan() -> dict:
    return build_plan(load_topology(REPO / "topologies" / "basic.yaml"), "m").to_dict()


def _rows(plan: dict, stot: int, bytes_: int, scur: int = 0) -> list[dict]:
    return [{"Node": n["container"], "pxname": fe["name"], "svname": "FRONTEND", "scur": str(scur), "stot": str(stot),
             "bin": str(bytes_ // 2), "bout": str(bytes_ - bytes_ // 2)} for n in plan["nodes"] for fe in n["frontends"]]


def _dims(plan: dict, eni: dict | None = None) -> dict:
    ep = plan["endpoints"][0]
    svc = plan["inventory"]["services"][0]
    vpc = next(v["VpcId"] for v in plan["inventory"]["vpcs"] if v["Name"] == ep["vpc"])
    dims = {"endpoint_type": "Interface", "service_name": svc["ServiceName"], "vpce": ep["id"], "vpc_id": vpc}
    return {**dims, "subnet_id": eni["subnet_id"]} if eni else dims


def test_sample_names_every_series_as_cloudwatch_does():
    plan = _plan()
    ep = plan["endpoints"][0]
    eni_a = ep["enis"][0]
    drops = [{"NetworkInterfaceId": eni_a["id"], "Dropped": {"packets": 7, "bytes": 420}}]
    values = sample(plan, _rows(plan, stot=3, bytes_=1000, scur=1), drops)
    assert values[series(ENDPOINTS_NS, "BytesProcessed", **_dims(plan, eni_a))] == 1000
    assert values[series(ENDPOINTS_NS, "BytesProcessed", **_dims(plan))] == 2000  # both ENIs
    assert values[series(ENDPOINTS_NS, "NewConnections", **_dims(plan))] == 6
    assert values[series(ENDPOINTS_NS, "ActiveConnections", **_dims(plan, eni_a))] == 1
    assert values[series(ENDPOINTS_NS, "PacketsDropped", **_dims(plan, eni_a))] == 7
    assert values[series(ENDPOINTS_NS, "PacketsDropped", **_dims(plan, ep["enis"][1]))] == 0
    svc = plan["inventory"]["services"][0]
    by = {"service_id": svc["ServiceId"], "lb_arn": nlb_arn(plan, svc)}
    assert values[series(SERVICES_NS, "BytesProcessed", **by, az="us-east-1a")] == 1000
    assert values[series(SERVICES_NS, "NewConnections", **by, vpce=ep["id"])] == 6
    assert values[series(SERVICES_NS, "EndpointsCount", **by)] == 1
    names = {d[0] for s in values for d in s.dimensions}
    assert names <= {"Endpoint Type", "Service Name", "VPC Endpoint Id", "VPC Id", "Subnet Id", "Service Id",
                     "Load Balancer Arn", "Az"}
    assert nlb_arn(plan, svc).startswith(f"arn:aws:elasticloadbalancing:us-east-1:{svc['Owner']}:loadbalancer/net/web-nlb/")
    assert not_measured() == []  # every metric AWS publishes in these namespaces is measured


def test_resets_through_an_eni_leg_are_the_endpoints_received_and_the_services_sent():
    plan = _plan()
    ep = plan["endpoints"][0]
    eni_a, eni_b = ep["enis"][0], ep["enis"][1]
    values = sample(plan, _rows(plan, stot=0, bytes_=0, scur=0), [], {eni_a["id"]: 3, eni_b["id"]: 1})
    assert values[series(ENDPOINTS_NS, "RstPacketsReceived", **_dims(plan, eni_a))] == 3
    assert values[series(ENDPOINTS_NS, "RstPacketsReceived", **_dims(plan))] == 4
    svc = next(s for s in plan["inventory"]["services"] if s["Name"] == ep["service"])
    by = {"service_id": svc["ServiceId"], "lb_arn": nlb_arn(plan, svc)}
    assert values[series(SERVICES_NS, "RstPacketsSent", **by, vpce=ep["id"])] == 4
    assert values[series(SERVICES_NS, "RstPacketsSent", **by, az=eni_a["az"])] == 3
    unread = sample(plan, _rows(plan, stot=0, bytes_=0, scur=0), [], None)  # nft not readable: no datapoint
    assert not any(s.metric.startswith("Rst") for s in unread)


def test_a_counter_that_went_down_was_reset_and_counts_again():
    assert increases([(0, 100), (10, 150), (20, 30), (30, 40)]) == [(10, 50), (20, 30), (30, 10)]


def test_statistics_over_a_window(tmp_path):
    plan = _plan()
    store = MetricStore(tmp_path / "m.sqlite")
    for t, (stot, b, cur) in enumerate([(0, 0, 0), (2, 500, 3), (5, 1500, 1), (5, 1500, 0)]):
        store.add(1000 + 10 * t, sample(plan, _rows(plan, stot, b, cur), []))
    points = store.points(since=1005)  # the first sample is the baseline, before the window
    eni = plan["endpoints"][0]["enis"][0]
    b = series(ENDPOINTS_NS, "BytesProcessed", **_dims(plan, eni))
    st = statistics(b, points[b], 1005, str)
    assert st["Sum"] == 1500 and [d["Sum"] for d in st["Datapoints"]] == [500, 1000, 0] and st["Samples"] == 3
    c = series(ENDPOINTS_NS, "ActiveConnections", **_dims(plan, eni))
    gauge = statistics(c, points[c], 1005, str)
    assert gauge["Maximum"] == 3 and gauge["Average"] == pytest.approx(4 / 3) and gauge["Minimum"] == 0
    assert statistics(b, points[b][:1], 1005, str)["Sum"] is None  # one sample: no Sum yet
    store.close()
