"""`lab ui` in a real browser: Debian's headless Chromium driven by Playwright, against a live
multi-tenant lab (tenant-c's endpoint waits for acceptance).

The page must show the graph and the endpoint table, and, when the endpoint is accepted from the
CLI (another process, as from another terminal), show it available without a reload; a JavaScript
error on the page fails the test; a screenshot is kept under pytest's tmp dir. The Prometheus
exposition then counts a known number of connections and bytes sent through an endpoint.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PENDING = "tenant-c-saas"
SEEN_WITHIN_S = 10.0  # the view is pushed every second (the 2 s); a loaded CI machine gets slack
REQUESTS = 12
ACCURACY = 0.01  # HAProxy's byte counters against curl's own count (equal in practice)


def lab(*args: str, fmt_json: bool = True) -> dict | str:
    argv = [sys.executable, "-m", "lab.cli.main", *args] + (["--format", "json"] if fmt_json else [])
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if fmt_json else out.stdout


@pytest.fixture(scope="module")
def running(tmp_path_factory, lab_runner):
    topology = yaml.safe_load((REPO / "topologies" / "multi-tenant.yaml").read_text())
    with lab_runner(topology, "ui", tmp_path_factory.mktemp("ui")) as (name, plan):
        yield name, plan


@pytest.fixture(scope="module")
def ui_url(running):
    name, _ = running
    proc = subprocess.Popen([sys.executable, "-m", "lab.cli.main", "ui", "--name", name, "--port", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()  # "serving lab 'NAME' at http://127.0.0.1:PORT/ (Ctrl-C stops)"
        match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        if not match:
            proc.kill()
            pytest.fail(f"lab ui did not start: {line}{proc.communicate(timeout=10)[1]}")
        yield match.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def browser_page(tmp_path):
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `sudo ./setup.sh install`")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=FLAGS,
            viewport={"width": 1600, "height": 1000})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(f"pageerror: {err}"))
        page.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
        try:
            yield page, errors
        finally:
            context.close()


def test_js_error_detector_can_fail(browser_page):
    """The red variant: a page that throws is caught by the same listeners the real test relies on."""
    page, errors = browser_page
    page.set_content("<script>throw new Error('deliberate')</script>")
    page.wait_for_timeout(200)
    assert any("deliberate" in e for e in errors), errors


def test_page_shows_graph_and_endpoints_and_an_accept_without_reload(running, ui_url, browser_page, tmp_path):
    name, plan = running
    page, errors = browser_page
    pending = next(ep for ep in plan.endpoints if ep.name == PENDING)
    page.goto(ui_url)
    page.wait_for_selector("#graph svg", timeout=15_000)
    svg_text = page.inner_text("#graph")
    for vpc in plan.inventory["vpcs"]:
        assert vpc["Name"] in svg_text, f"VPC {vpc['Name']} not in the graph"
    for ep in plan.endpoints:
        assert ep.id in svg_text, f"endpoint {ep.id} not in the graph"
    row = page.locator("#endpoints tbody tr", has_text=pending.id)
    row.wait_for(timeout=10_000)
    assert page.locator("#endpoints tbody tr").count() == len(plan.endpoints)
    assert "pendingAcceptance" in row.inner_text()
    page.evaluate("window.__notReloaded = true")  # a reload would drop it

    lab("endpoint", "accept", "--name", name, "--account", "provider", pending.id)
    accepted = time.monotonic()
    page.wait_for_function(
        """id => [...document.querySelectorAll('#endpoints tbody tr')].some(
               tr => tr.textContent.includes(id) && tr.textContent.includes('available'))""",
        arg=pending.id, timeout=SEEN_WITHIN_S * 1000)
    seen_s = time.monotonic() - accepted
    page.wait_for_function(f"document.querySelector('#graph').textContent.includes('{PENDING}: available')",
                           timeout=SEEN_WITHIN_S * 1000)
    assert page.evaluate("window.__notReloaded") is True, "the page reloaded"
    page.locator("#events li", has_text="Accept").first.wait_for(timeout=SEEN_WITHIN_S * 1000)
    shot = tmp_path / "lab-ui.png"
    page.screenshot(path=str(shot))
    print(f"\nlab ui screenshot: {shot} (accept seen on the page {seen_s:.2f} s after the CLI returned)")
    assert not errors, errors


def prometheus(url: str) -> str:
    with urllib.request.urlopen(url + "metrics", timeout=10) as reply:  # loopback only
        return reply.read().decode()


def sample_value(text: str, metric: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(metric + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_prometheus_counts_known_connections_and_bytes(running, ui_url):
    name, plan = running
    ep = next(e for e in plan.endpoints if e.name == "tenant-a-saas")
    eni = ep.enis[0]
    netns = {i["Name"]: i["Netns"] for i in plan.inventory["instances"]}["a-client"]
    metric = "aws_privatelink_endpoints_new_connections_per_eni_total"
    bytes_metric = "aws_privatelink_endpoints_bytes_processed_per_eni_total"
    before = prometheus(ui_url)
    base_conns = sample_value(before, metric, vpc_endpoint_id=ep.id, subnet_id=eni.subnet_id)
    base_bytes = sample_value(before, bytes_metric, vpc_endpoint_id=ep.id, subnet_id=eni.subnet_id)
    assert base_conns is not None and base_bytes is not None, before[:2000]
    sent = 0
    for _ in range(REQUESTS):
        proc = subprocess.run(["ip", "netns", "exec", netns, "curl", "-s", "-o", "/dev/null", "-m", "5", "-w",
                               "%{size_request} %{size_header} %{size_download}", f"http://{eni.ip}/"],
                              capture_output=True, text=True, timeout=20)
        assert proc.returncode == 0, proc.stderr
        sent += sum(int(n) for n in proc.stdout.split())
    deadline = time.monotonic() + 30  # the sampler's 10 s, twice, and slack
    while time.monotonic() < deadline:
        text = prometheus(ui_url)
        conns = sample_value(text, metric, vpc_endpoint_id=ep.id, subnet_id=eni.subnet_id)
        if conns is not None and conns - base_conns >= REQUESTS:
            break
        time.sleep(1)
    assert conns - base_conns == REQUESTS, text
    got = sample_value(text, bytes_metric, vpc_endpoint_id=ep.id, subnet_id=eni.subnet_id) - base_bytes
    assert abs(got - sent) <= ACCURACY * sent, f"BytesProcessed grew {got}, curl moved {sent}"
