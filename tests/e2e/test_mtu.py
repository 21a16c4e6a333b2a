"""MTU, MSS and path MTU discovery as AWS has them (lab.plan.mtu), checked on the kernel and on packets.

- Instance links and subnet bridges run at 9001; endpoint ENI legs and the NLB node's provider legs
  at 8500; links are read back with `ip -j link`, not through the lab's own code.
- A 1 MiB TCP exchange through the endpoint works: the SYN-ACK the client gets and the SYN the target
  gets both carry MSS 8460, while the client offered 8961.
- `ping -M do -s 8600` to an ENI never reaches its leg and gets no ICMP error back (no PMTUD for
  endpoints); `ping -M do -s 8000` reaches it. (The ENI's security group admits TCP only, so the echo
  itself is dropped in the node, as a group drops anything it does not allow: the capture on the leg
  is what shows the size limit.)
Every capture is bounded in packets and time; all traffic goes to lab addresses.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_faults import Client  # noqa: E402 - a worker thread inside the client's namespace

from lab.plan.mtu import ENDPOINT_MTU, VPC_MTU, clamped_mss, mtu_of_role

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def lab(lab_runner, tmp_path_factory):
    import yaml

    topology = yaml.safe_load((Path(__file__).resolve().parents[2] / "topologies" / "basic.yaml").read_text())
    with lab_runner(topology, "mtu", tmp_path_factory.mktemp("mtu")) as (name, plan):
        inst = next(i for i in plan.inventory["instances"] if i["Name"] == "consumer-client")
        client = Client(inst["Netns"])
        try:
            yield plan, inst, client
        finally:
            client.close()


def _router_end(plan, role: str, key: str):
    pair = next(v for v in plan.veths if v.role == role and v.key == key)
    return pair.b.place.name, pair.b.ifname


def _mtu(netns: str, ifname: str) -> int:
    out = subprocess.run(["ip", "-n", netns, "-j", "link", "show", "dev", ifname], capture_output=True,
                         text=True, check=True, timeout=10)
    return json.loads(out.stdout)[0]["mtu"]


class Capture:
    """tcpdump on one router-side link end, bounded by -c and a guard timer."""

    def __init__(self, netns: str, ifname: str, bpf: str, path: Path):
        self.path = path
        self.argv = ["ip", "netns", "exec", netns, "tcpdump", "-i", ifname, "-n", "-U", "--immediate-mode", "-c", "2000",
                     "-s", "200", "-w", str(path), bpf]

    def __enter__(self) -> Capture:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.guard = threading.Timer(60.0, self.proc.kill)
        self.guard.start()
        deadline, line = time.monotonic() + 10, ""
        while "listening on" not in line and time.monotonic() < deadline and self.proc.poll() is None:
            line = self.proc.stderr.readline()
        assert "listening on" in line, f"tcpdump did not start: {line}"
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.3)  # let the last packets reach the file (-U writes per packet)
        self.guard.cancel()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=10)

    def packets(self):
        import scapy.layers.l2  # noqa: F401 - registers Ethernet
        from scapy.utils import rdpcap

        return list(rdpcap(str(self.path)))


def _mss(pkt) -> int | None:
    from scapy.layers.inet import TCP

    return dict((k, v) for k, v in pkt[TCP].options if isinstance(k, str)).get("MSS")


def _echo_one_mib(ip: str) -> int:
    """`GET /echo` through the endpoint, then 160 lines of 6,554 bytes (1 MiB) each way; bytes echoed."""
    line = b"x" * 6553 + b"\n"
    got = 0
    with socket.create_connection((ip, 80), timeout=10) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: lab\r\n\r\n")
        reader = sock.makefile("rb")
        while reader.readline() not in (b"\r\n", b""):
            pass
        reader.readline()  # the answer's JSON line
        for _ in range(160):
            sock.sendall(line)
            got += len(reader.readline())
    return got


def test_links_run_at_aws_mtus(lab):
    plan, _, _ = lab
    for pair in plan.veths:
        if pair.b.place.kind == "netns":
            assert _mtu(pair.b.place.name, pair.b.ifname) == mtu_of_role(pair.role), pair.key
    for bridge in plan.bridges:
        # After the 8500 ENI legs joined, the bridge kept its own 9001 (it would otherwise drop to 8500).
        assert _mtu(bridge.place.name, bridge.ifname) == VPC_MTU, bridge.ifname
    assert mtu_of_role("endpoint-eni") == mtu_of_role("nlb-provider") == ENDPOINT_MTU


def test_one_mib_through_the_endpoint_with_the_mss_clamped(lab, tmp_path):
    plan, inst, client = lab
    eni = plan.endpoints[0].enis[0]
    ns_i, if_i = _router_end(plan, "instance", "instance:consumer-client")
    ns_p, if_p = _router_end(plan, "nlb-provider", f"nlb:web-nlb:{eni.az}")
    syn = "tcp[tcpflags] & tcp-syn != 0"
    with Capture(ns_i, if_i, f"{syn} and host {eni.ip}", tmp_path / "client.pcap") as at_client, \
            Capture(ns_p, if_p, f"{syn} and dst port 8080", tmp_path / "target.pcap") as at_target:
        echoed = client.pool.submit(_echo_one_mib, eni.ip).result(60)
    assert echoed == 160 * (6554 + len("target-a "))
    from scapy.layers.inet import IP, TCP

    client_syn = [p for p in at_client.packets() if p[TCP].flags == "S" and p[IP].dst == eni.ip]
    syn_ack = [p for p in at_client.packets() if p[TCP].flags == "SA" and p[IP].src == eni.ip]
    target_syn = [p for p in at_target.packets() if p[TCP].flags == "S"]
    assert client_syn and syn_ack and target_syn, (len(at_client.packets()), len(at_target.packets()))
    assert {_mss(p) for p in client_syn} == {VPC_MTU - 40}
    assert {_mss(p) for p in syn_ack} == {clamped_mss()}
    # Health checks open connections too: every SYN the node sends a target carries the clamp.
    assert {_mss(p) for p in target_syn} == {clamped_mss()}


def _ping(netns: str, ip: str, size: int) -> int:
    return subprocess.run(["ip", "netns", "exec", netns, "ping", "-n", "-q", "-M", "do", "-s", str(size),
                           "-c", "3", "-i", "0.2", "-W", "1", ip], capture_output=True, timeout=20).returncode


def test_too_big_for_the_endpoint_is_dropped_without_icmp(lab, tmp_path):
    plan, inst, _ = lab
    eni = plan.endpoints[0].enis[0]
    ns_i, if_i = _router_end(plan, "instance", "instance:consumer-client")
    ns_e, if_e = _router_end(plan, "endpoint-eni", f"eni:{plan.endpoints[0].name}:{eni.az}")
    with Capture(ns_i, if_i, "icmp", tmp_path / "client.pcap") as at_client, \
            Capture(ns_e, if_e, f"icmp and dst host {eni.ip}", tmp_path / "eni.pcap") as at_eni:
        too_big = _ping(inst["Netns"], eni.ip, 8600)
        fits = _ping(inst["Netns"], eni.ip, 8000)
    from scapy.layers.inet import ICMP, IP

    assert too_big != 0  # no answer
    lengths = sorted({p[IP].len for p in at_eni.packets()})
    assert lengths == [8000 + 28], lengths  # only the 8000-byte echoes crossed onto the leg
    errors = [p for p in at_client.packets() if p[ICMP].type == 3]
    assert errors == [], "no ICMP 'fragmentation needed' may come back: AWS does no PMTUD for endpoints"
    sent = [p for p in at_client.packets() if p[ICMP].type == 8]
    assert {p[IP].len for p in sent} == {8628, 8028}  # both sizes left the client
    del fits  # whether the echo is answered is the ENI's security group's business (see the docstring)
