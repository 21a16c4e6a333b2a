"""`lab graph` and `lab usage` on a live lab (the leaky one, so one bring-up serves all three):
the picture shows the live endpoint state and target health `lab status` reports; after `lab verify`
`--flows` draws the peering that leaked in red and nothing of the endpoint's own path; and bytes sent
through an endpoint ENI show up in `lab usage --format json`, counted independently by curl."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from lab.graph.style import LEAK_COLOR

pytestmark = [pytest.mark.root, pytest.mark.lab_topology("leaky")]
SVG = "{http://www.w3.org/2000/svg}"
PAD = 4_000  # bytes of request header per request (the path carries a bit over 5 KB of header unchanged)
REQUESTS = 60
ACCURACY = 0.01  # HAProxy counts TCP payload, as curl does: they should agree to the byte; allow 1 %


def lab_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "lab.cli.main", *args], capture_output=True, timeout=180)
    if check:
        assert proc.returncode == 0, proc.stderr.decode()
    return proc


def edges_by_title(svg: bytes) -> dict[str, list[str]]:
    """Graphviz SVG: each edge is <g class="edge"><title>a--b</title><path stroke=...>; title -> strokes."""
    out: dict[str, list[str]] = {}
    for g in ET.fromstring(svg).iter(f"{SVG}g"):
        if g.get("class") == "edge":
            title = g.find(f"{SVG}title").text
            out.setdefault(title, []).extend(p.get("stroke") for p in g.iter(f"{SVG}path"))
    return out


def test_live_graph_shows_endpoint_states_and_target_health(lab):
    status = json.loads(lab_cli("status", "--name", lab.name, "--format", "json").stdout)
    data = json.loads(lab_cli("graph", "--name", lab.name, "--format", "json").stdout)
    assert data["source"] == "live"
    enis = [n for n in data["nodes"] if n["kind"] == "eni"]
    (endpoint,) = status["endpoints"]
    assert len(enis) == len(endpoint["Lab"]["Enis"]) and all(n["state"] == endpoint["State"] == "available" for n in enis)
    health = {row["Target"]: row["Health"] for row in status["target_health"]}
    assert set(health) == {"target-a", "target-b"}
    for target, word in health.items():
        node = next(n for n in data["nodes"] if n["id"] == f"instance:{target}")
        assert word in node["state"] and f"health: {word}" in node["label"]
    svg = lab_cli("graph", "--name", lab.name).stdout
    texts = " ".join(t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text"))
    assert f"web-endpoint: {endpoint['State']}" in texts and endpoint["VpcEndpointId"] in texts


def test_flows_after_verify_draw_the_leaking_peering_red(lab, tmp_path):
    none_yet = lab_cli("graph", "--name", lab.name, "--flows", "--format", "dot", check=False)
    if none_yet.returncode == 2:  # no verify has run on this lab yet: the one-line error, then run it
        assert b"no saved `lab verify` report" in none_yet.stderr
    verify = lab_cli("verify", "--name", lab.name, "--no-wait-health-checks", "--format", "json", check=False)
    assert verify.returncode == 1  # leaky.yaml must fail verify
    out = tmp_path / "leak.svg"
    lab_cli("graph", "--name", lab.name, "--flows", "-o", str(out))
    edges = edges_by_title(out.read_bytes())
    peering = [s for title, strokes in edges.items() if set(title.split("--")) == {"router_consumer", "router_provider"}
               for s in strokes]
    assert peering and LEAK_COLOR in peering, edges
    # the endpoint's own links (consumer router -> ENI, ENI -> NLB node) are never drawn red
    endpoint_links = {t: s for t, s in edges.items() if "eni_" in t}
    assert endpoint_links and all(LEAK_COLOR not in s for s in endpoint_links.values())
    data = json.loads(lab_cli("graph", "--name", lab.name, "--flows", "--format", "json").stdout)
    assert [e["id"] for e in data["edges"] if e["leak"]] == ["peering:leak"]
    through = [f for f in data["flows"] if f["kind"] == "flow"]
    assert through and all(f["ok"] and not f["leak_edges"] for f in through)
    assert any(f["kind"] == "probe" and "peering:leak" in f["leak_edges"] for f in data["flows"])


def _eni_bytes(report: dict, eni_id: str) -> int:
    return next(e["BytesProcessed"] for ep in report["Endpoints"] for e in ep["NetworkInterfaces"]
                if e["NetworkInterfaceId"] == eni_id)


def test_usage_counts_the_bytes_sent_through_an_eni(lab):
    eni = next(e for e in lab.endpoint()["Lab"]["Enis"] if e["AvailabilityZone"] == "us-east-1a")
    netns = lab.instance("consumer-client")["Netns"]
    before = json.loads(lab_cli("usage", "--name", lab.name, "--format", "json").stdout)
    sent = 0
    for _ in range(REQUESTS):
        proc = subprocess.run(["ip", "netns", "exec", netns, "curl", "-s", "-o", "/dev/null", "-m", "5",
                               "-H", "X-Pad: " + "x" * PAD, "-w", "%{size_request} %{size_header} %{size_download}",
                               f"http://{eni['PrivateIpAddress']}/"], capture_output=True, text=True, timeout=15)
        assert proc.returncode == 0, proc.stderr
        sent += sum(int(n) for n in proc.stdout.split())
    after = json.loads(lab_cli("usage", "--name", lab.name, "--format", "json").stdout)
    counted = _eni_bytes(after, eni["NetworkInterfaceId"]) - _eni_bytes(before, eni["NetworkInterfaceId"])
    assert sent > REQUESTS * PAD
    assert abs(counted - sent) <= ACCURACY * sent, f"usage counted {counted} bytes, curl moved {sent}"
    ep = after["Endpoints"][0]
    assert ep["BilledEndpointHours"] == len(ep["NetworkInterfaces"])  # < 1 h old: 1 billed hour per AZ
    assert after["Total"]["Cost"] > 0 and after["Projection"]["MonthlyCost"] >= after["Projection"]["MonthlyHourlyCost"]


def test_a_state_change_from_another_command_shows_in_the_next_picture(lab):
    """Last in the module: it rejects the lab's endpoint. The picture follows the live state."""
    endpoint = lab.endpoint()
    before = json.loads(lab_cli("graph", "--name", lab.name, "--format", "json").stdout)
    assert {n["state"] for n in before["nodes"] if n["kind"] == "eni"} == {"available"}
    lab_cli("endpoint", "reject", "--name", lab.name, "--account", "provider", endpoint["VpcEndpointId"])
    after = json.loads(lab_cli("graph", "--name", lab.name, "--format", "json").stdout)
    enis = [n for n in after["nodes"] if n["kind"] == "eni"]
    assert enis and all(n["state"] == "rejected" and n["tone"] == "bad" for n in enis)
    mermaid = lab_cli("graph", "--name", lab.name, "--format", "mermaid").stdout.decode()
    assert f"{endpoint['Lab']['Name']}: rejected" in mermaid and ":::bad" in mermaid
    # billing goes on for a rejected endpoint (AWS bills it until it is deleted)
    usage = json.loads(lab_cli("usage", "--name", lab.name, "--format", "json").stdout)
    assert usage["Endpoints"][0]["State"] == "rejected" and usage["Projection"]["EndpointAzs"] == len(enis)
