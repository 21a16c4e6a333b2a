"""lab ui without a lab: the WSGI routes (read-only), the server-sent event framing, the Prometheus
exposition's names and types, the metrics table rows, and link rates from two counter readings."""

from __future__ import annotations

import json
import re
import socket

import pytest
from werkzeug.test import Client

from lab.metrics.cloudwatch import ENDPOINTS_NS, SERVICES_NS, series
from lab.ui.prom import exposition, metric_name
from lab.ui.server import UiApp
from lab.ui.watcher import metric_rows, sse

VPCE = "vpce-0123456789abcdef0"
ENDPOINT_DIMS = {"endpoint_type": "Interface", "service_name": "com.amazonaws.vpce.us-east-1.vpce-svc-1",
                 "vpce": VPCE, "vpc_id": "vpc-1"}


class FakeWatcher:
    lab = "demo"
    seq = 1
    svg = b"<svg xmlns='http://www.w3.org/2000/svg'><text>lab demo</text></svg>"
    view = {"Lab": "demo", "Time": 1.0, "GraphVersion": 1, "Endpoints": []}

    def __init__(self):
        self.samples = {
            series(ENDPOINTS_NS, "BytesProcessed", **ENDPOINT_DIMS): 1234,
            series(ENDPOINTS_NS, "BytesProcessed", **ENDPOINT_DIMS, subnet_id="subnet-a"): 1234,
            series(ENDPOINTS_NS, "ActiveConnections", **ENDPOINT_DIMS): 2,
            series(SERVICES_NS, "EndpointsCount", service_id="vpce-svc-1", lb_arn="arn:aws:x"): 3,
        }
        self.stopped_after = 0

    def wait(self, after, timeout):
        self.seq += 1
        return self.seq, {**self.view, "Time": float(self.seq)}

    def stopped(self):
        self.stopped_after += 1
        return self.stopped_after > 2


@pytest.fixture
def client():
    return Client(UiApp(FakeWatcher()))


def test_page_script_style_and_graph_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and b"privatelink-lab <span class=\"lab\">demo</span>" in page.data
    assert b"{{LAB}}" not in page.data
    assert b'src="/static/app.js"' in page.data and b"http" not in page.data.replace(b'href="/metrics"', b"")
    assert client.get("/static/app.js").headers["Content-Type"].startswith("text/javascript")
    assert client.get("/graph.svg").data.startswith(b"<svg")
    assert json.loads(client.get("/api/view").data)["Lab"] == "demo"


def test_nothing_from_the_internet_in_the_page_or_its_script(client):
    for path in ("/", "/static/app.js", "/static/app.css"):
        text = client.get(path).data.decode()
        assert "://" not in text.replace("http://www.w3.org", ""), path


def test_read_only_and_unknown_paths(client):
    assert client.post("/api/view").status_code == 405
    assert client.delete("/").status_code == 405
    assert client.get("/static/index.html").status_code == 404
    assert client.get("/static/../api.py").status_code == 404
    assert client.get("/nope").status_code == 404


def test_events_stream_a_view_then_each_change(client):
    reply = client.get("/events", buffered=False)
    assert reply.headers["Content-Type"].startswith("text/event-stream")
    chunks = list(reply.response)
    text = b"".join(chunks).decode()
    assert text.startswith("retry: 1000\n\n")
    views = [json.loads(line[len("data: "):]) for line in text.splitlines() if line.startswith("data: ")]
    assert [v["Time"] for v in views] == [1.0, 2.0, 3.0]  # the current view, then one per change


def test_sse_frame():
    assert sse("view", {"a": 1}) == b'event: view\ndata: {"a":1}\n\n'


def test_prometheus_names_types_and_labels(client):
    reply = client.get("/metrics")
    assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = reply.data.decode()
    # (prometheus_client names a counter's TYPE line with or without _total, by version)
    assert re.search(r"^# TYPE aws_privatelink_endpoints_bytes_processed(_total)? counter$", text, re.M)
    assert ('aws_privatelink_endpoints_bytes_processed_total{endpoint_type="Interface",service_name='
            f'"com.amazonaws.vpce.us-east-1.vpce-svc-1",vpc_endpoint_id="{VPCE}",vpc_id="vpc-1"}} 1234.0') in text
    assert 'aws_privatelink_endpoints_bytes_processed_per_eni_total{' in text and 'subnet_id="subnet-a"' in text
    assert "# TYPE aws_privatelink_endpoints_active_connections gauge" in text
    assert 'aws_privatelink_services_endpoints_count{load_balancer_arn="arn:aws:x",service_id="vpce-svc-1"} 3.0' in text


def test_prometheus_metric_names_are_cloudwatch_names_in_snake_case():
    assert metric_name(ENDPOINTS_NS, "RstPacketsReceived") == "aws_privatelink_endpoints_rst_packets_received"
    assert metric_name(SERVICES_NS, "EndpointsCount") == "aws_privatelink_services_endpoints_count"


def test_empty_sample_is_a_valid_exposition():
    class Empty:
        samples = {}

    assert exposition(Empty()) == b""


def test_metric_rows_one_line_per_endpoint_sum_for_counters_max_for_gauges():
    def m(ns, metric, dims, **stats):
        return {"Namespace": ns, "MetricName": metric, "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                **stats}

    ep = {"VPC Endpoint Id": VPCE, "Service Name": "svc", "VPC Id": "vpc-1", "Endpoint Type": "Interface"}
    report = {"Metrics": [
        m(ENDPOINTS_NS, "BytesProcessed", ep, Sum=500),
        m(ENDPOINTS_NS, "BytesProcessed", {**ep, "Subnet Id": "subnet-a"}, Sum=500),  # per ENI: not a row
        m(ENDPOINTS_NS, "ActiveConnections", ep, Average=1, Maximum=4, Minimum=0),
        m(SERVICES_NS, "NewConnections", {"Service Id": "vpce-svc-1", "Az": "us-east-1a"}, Sum=9),  # per AZ: not
        m(SERVICES_NS, "EndpointsCount", {"Service Id": "vpce-svc-1", "Load Balancer Arn": "arn"}, Maximum=2),
        {"Namespace": ENDPOINTS_NS, "MetricName": "RstPacketsReceived", "Dimensions": [], "Datapoints": []},
    ]}
    rows = metric_rows(report)
    assert rows == [
        {"Namespace": ENDPOINTS_NS, "VpcEndpointId": VPCE, "Service": "svc", "BytesProcessed": 500,
         "ActiveConnections": 4},
        {"Namespace": SERVICES_NS, "VpcEndpointId": "", "Service": "vpce-svc-1", "EndpointsCount": 2},
    ]


def test_link_rates_both_directions_and_a_reset():
    from lab.apply.linkstats import rates

    zero = dict.fromkeys(("rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_dropped", "tx_dropped"), 0)
    before = {"a": {**zero, "rx_packets": 10, "tx_packets": 10, "rx_bytes": 1000, "tx_bytes": 1000},
              "b": {**zero, "rx_packets": 50}}
    after = {"a": {**zero, "rx_packets": 30, "tx_packets": 20, "rx_bytes": 3000, "tx_bytes": 2000},
             "b": {**zero, "rx_packets": 4}, "new": zero}
    got = rates(before, after, 2.0)
    assert got["a"] == {"PacketsPerSecond": 15.0, "BytesPerSecond": 1500.0}
    assert got["b"]["PacketsPerSecond"] == 2.0  # counters remade: counted from zero
    assert "new" not in got  # no earlier reading, no rate


def test_port_in_use_is_one_line_exit_2(capsys, monkeypatch):
    from lab.cli import ui_cmd
    from lab.cli.main import main

    monkeypatch.setattr("lab.api.load_plan", lambda name: {})

    class NoWatch:
        def __init__(self, lab):
            self.lab = lab

        def start(self):
            pass

        def stop(self):
            pass

    monkeypatch.setattr("lab.ui.server.Watcher", NoWatch)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["ui", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"error: --port: 127.0.0.1:{port} is in use; fix: give another --port (or 0: any free one)")
    assert ui_cmd.DEFAULT_PORT == 8765
