"""Link impairments for real: a rate declared in the topology is a tbf qdisc on both ends of the
veth and really paces traffic (iperf3, 2 s, bounded); `lab link set|show|clear` change it live; and
delay/loss need netem: present, the RTT grows; absent (CI's kernel), the command exits 2 with one
line and changes nothing. qdiscs are read with `tc`, independently of the lab's pyroute2 code."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lab.apply.impair import netem_missing
from lab.state.store import LabState

pytestmark = pytest.mark.root

BASIC = Path(__file__).resolve().parents[2] / "topologies" / "basic.yaml"
LINK = "consumer-subnet/consumer-client"
GATEWAY = "10.0.1.1"  # the consumer-a subnet's router address: the far end of the client's link


def _topology(**impairment: str) -> dict:
    data = yaml.safe_load(BASIC.read_text())
    data["impairments"] = [{"link": LINK, **impairment}]
    return data


@pytest.fixture(scope="module")
def lab(tmp_path_factory, lab_runner):
    with lab_runner(_topology(rate="20mbit"), "impair", tmp_path_factory.mktemp("impair")) as running:
        yield running


def lab_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab.cli.main", *args], capture_output=True, text=True, timeout=60)


def _ns(name: str, who: str) -> str:
    return f"pl-{name}.consumer" + ("" if who == "router" else f".{who}")


def qdisc(name: str, who: str, dev: str) -> str:
    return subprocess.run(["ip", "netns", "exec", _ns(name, who), "tc", "qdisc", "show", "dev", dev],
                          capture_output=True, text=True, check=True, timeout=10).stdout


def router_end(name: str) -> str:
    plan = LabState(name).load_plan()
    return next(v["b"]["ifname"] for v in plan["veths"] if v["key"] == "instance:consumer-client")


def mbit_per_s(name: str, reverse: bool = False) -> float:
    """iperf3 from the client to its subnet's gateway, 2 s, one stream (bounded: -1 server, -t 2 client)."""
    port = str(20000 + secrets.randbelow(20000))
    server = subprocess.Popen(["ip", "netns", "exec", _ns(name, "router"), "iperf3", "-s", "-1", "-B", GATEWAY,
                               "-p", port], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):  # the server listens within ms; retry the connect instead of sleeping blind
            run = subprocess.run(["ip", "netns", "exec", _ns(name, "consumer-client"), "iperf3", "-c", GATEWAY, "-p",
                                  port, "-t", "2", "-J", *(["-R"] if reverse else [])],
                                 capture_output=True, text=True, timeout=30)
            data = json.loads(run.stdout or "{}")
            if "sum_received" in data.get("end", {}):
                return data["end"]["sum_received"]["bits_per_second"] / 1e6
            time.sleep(0.05)  # "Connection refused": the one-off server is not listening yet
        raise AssertionError(f"iperf3 never connected: {run.stdout[-500:]} {run.stderr}")
    finally:
        server.kill()
        server.wait(timeout=10)


def test_a_declared_rate_is_a_tbf_on_both_ends_and_paces_each_direction(lab):
    name, _plan = lab
    assert "tbf 1: root" in qdisc(name, "consumer-client", "eth0") and "rate 20Mbit" in qdisc(name, "consumer-client",
                                                                                               "eth0")
    assert "rate 20Mbit" in qdisc(name, "router", router_end(name))
    up, down = mbit_per_s(name), mbit_per_s(name, reverse=True)
    assert 10 < up <= 21 and 10 < down <= 21, (up, down)  # paced to 20 Mbit/s (TCP gets a little under it)


def test_set_show_and_clear_change_the_rate_live(lab):
    name, _plan = lab
    done = lab_cli("link", "set", LINK, "--rate", "5mbit", "--name", name, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Rate"] == "5mbit"
    assert 2.5 < mbit_per_s(name) <= 5.3
    shown = json.loads(lab_cli("link", "show", "--name", name, "--format", "json").stdout)["Links"]
    assert [(r["Link"], r["Rate"], [e["Qdiscs"] for e in r["Ends"]]) for r in shown] == \
        [(LINK, "5mbit", [["tbf"], ["tbf"]])]
    cleared = lab_cli("link", "clear", LINK, "--name", name)
    assert cleared.returncode == 0 and LINK in cleared.stdout
    assert "tbf" not in qdisc(name, "consumer-client", "eth0") and "tbf" not in qdisc(name, "router", router_end(name))
    assert mbit_per_s(name) > 100  # unshaped again
    assert json.loads(lab_cli("link", "show", "--name", name, "--format", "json").stdout)["Links"] == []


def test_delay_uses_netem_or_is_refused_whole_without_it(lab):
    name, _plan = lab
    lab_cli("link", "set", LINK, "--rate", "50mbit", "--name", name)
    links_json = (LabState(name).dir / "links.json").read_text()
    before = qdisc(name, "consumer-client", "eth0")
    run = lab_cli("link", "set", LINK, "--rate", "50mbit", "--delay", "20ms", "--loss", "0%", "--name", name)
    missing = netem_missing()
    if missing is None:  # a kernel with netem: the delay is there, each way
        assert run.returncode == 0, run.stderr
        assert "netem" in qdisc(name, "consumer-client", "eth0")
        ping = subprocess.run(["ip", "netns", "exec", _ns(name, "consumer-client"), "ping", "-c", "3", "-i", "0.2",
                               "-W", "2", GATEWAY], capture_output=True, text=True, timeout=20).stdout
        assert float(ping.rsplit("=", 1)[1].split("/")[1]) >= 39  # avg RTT: 20 ms out and 20 ms back
    else:  # CI's kernel: one line, exit 2, nothing changed
        assert run.returncode == 2
        assert run.stderr.count("\n") == 1 and "netem" in run.stderr and "fix:" in run.stderr, run.stderr
        assert qdisc(name, "consumer-client", "eth0") == before
        assert (LabState(name).dir / "links.json").read_text() == links_json


def test_lab_up_refuses_a_declared_delay_without_netem_and_creates_nothing(tmp_path):
    if netem_missing() is None:
        pytest.skip("this kernel has netem: the refusal cannot happen here (the live test covers netem)")
    name = f"impnet-{secrets.token_hex(2)}"
    path = tmp_path / "delay.yaml"
    path.write_text(yaml.safe_dump(_topology(delay="20ms")))
    run = lab_cli("up", "-t", str(path), "--name", name)
    assert run.returncode == 2 and "impairments: delay, jitter and loss need netem" in run.stderr, run.stderr
    assert not LabState(name).dir.exists()
    assert not [ns for ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
                if ns.startswith(f"pl-{name}.")]


def test_an_unknown_link_changes_nothing(lab):
    name, _plan = lab
    run = lab_cli("link", "set", "consumer-subnet/nobody", "--rate", "1mbit", "--name", name)
    assert run.returncode == 2 and run.stderr.startswith("error: LINK: 'consumer-subnet/nobody' is not a link"), \
        run.stderr


