"""The PPv2 bytes the lab's NLB writes, read from capture: every header's CRC32C verifies, TLV
0xEA rides on PROXY headers only, and health checks are LOCAL headers without 0xEA and without an
address block -- as AWS's are (the layouts that still differ are listed in docs/ppv2.md).

Decoded twice: by the lab's own codec and, independently, by tshark."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.ppv2.pcap import find_headers

pytestmark = [pytest.mark.root, pytest.mark.lab_topology("basic")]

LINK = "nlb-target/web-nlb@us-east-1a"


@pytest.fixture(scope="module")
def pcap(lab, tmp_path_factory) -> Path:
    """One capture of the us-east-1a provider leg: a request through the endpoint and >= 1 health check
    (the basic lab checks every 5 s; 6 s of capture always holds one)."""
    out = tmp_path_factory.mktemp("ppv2-wire")
    proc = subprocess.Popen([sys.executable, "-m", "lab.cli.main", "capture", "--name", lab.name, LINK,
                             "-w", str(out), "--seconds", "6", "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # the capture opens its sockets first
        flow = lab.http("consumer-client", "web-endpoint", az="us-east-1a")
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert flow.status == 200, flow.describe()
    return Path(json.loads(stdout)["pcaps"][0]["file"])


def test_every_header_verifies_and_0xea_is_on_proxy_headers_only(pcap: Path) -> None:
    found = list(find_headers(pcap, verify_crc=True))
    assert found and all(f.error is None for f in found), [str(f.error) for f in found if f.error]
    proxy = [f.header for f in found if f.header.command.name == "PROXY"]
    local = [f.header for f in found if f.header.command.name == "LOCAL"]
    assert proxy and local, f"{len(proxy)} PROXY and {len(local)} LOCAL header(s): need both"
    assert all(h.crc32c is not None for h in proxy + local)  # and verify_crc=True checked each value
    assert all(h.aws_vpce_id and h.aws_vpce_id.startswith("vpce-") for h in proxy)
    assert all(h.find(0xEA) is None for h in local), [h.to_dict() for h in local]
    assert all(not h.has_addresses for h in local), [h.to_dict() for h in local]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (apt package tshark)")
def test_tshark_agrees_health_checks_carry_only_a_crc(pcap: Path) -> None:
    # tshark 4.0 does not split TLVs after an UNSPEC family: it shows them as `proxy.v2.unknown`.
    cmd = ["tshark", "-o", "tcp.try_heuristic_first:TRUE", "-r", str(pcap), "-Y", "proxy", "-T", "fields",
           "-E", "separator=|", "-e", "proxy.v2.cmd", "-e", "proxy.v2.addr_family_protocol",
           "-e", "proxy.v2.tlv.type", "-e", "proxy.v2.unknown"]
    rows = [line.split("|") for line in subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                                                       check=True).stdout.splitlines()]
    local = [r for r in rows if r[0] == "0"]
    proxy = [r for r in rows if r[0] == "1"]
    assert local and proxy, rows
    for _, family, _, rest in local:  # no address block: the 7 bytes are one TLV of type 0x03 (CRC32C), length 4
        data = bytes.fromhex(rest.replace(":", ""))
        assert family == "0x00" and len(data) == 7 and data[:3] == b"\x03\x00\x04", rows
    # tshark 4.0 lists the AWS TLV by type; the CRC32C after it is checked by the codec test above.
    assert all("0xea" in types.split(",") for _, _, types, _ in proxy), proxy


def test_lab_verify_notes_how_the_headers_differ_from_aws(lab) -> None:
    proc = subprocess.run([sys.executable, "-m", "lab.cli.main", "verify", "--name", lab.name, "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    checks = {c["subject"]: c for c in json.loads(proc.stdout)["checks"] if c["category"] == "ppv2"}
    health = checks[f"health checks on {LINK}"]
    assert health["status"] == "pass" and "without TLV 0xEA" in health["message"]
    assert "differs from AWS: " in health["message"] and "not padded with NOOP to 100" in health["message"]
    assert "CRC32C TLV is not first" in checks[f"NLB leg {LINK}"]["message"]
