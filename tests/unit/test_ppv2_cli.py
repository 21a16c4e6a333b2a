"""``lab ppv2`` through the CLI's own entry point (lab.cli.main.main, in click's isolation so
stdin and output are captured): output formats, pcap mode, and bad input as every command
reports it, one line ``error: WHAT: problem; fix: ...`` with exit 2."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from scapy.layers.inet import IP, TCP
from scapy.utils import wrpcap

from lab.cli.main import main
from lab.ppv2 import decode

VECTOR_A = (
    "0d0a0d0a000d0a515549540a21110054ac1f0771ac1f0a1fc8f20050030004e8d6892dea001701767063652d3038643262663135666163"
    "353030316339040024000000000000000000000000000000000000000000000000000000000000000000000000"
)
AWS_FLAGS = [
    "--src", "172.31.7.113", "--sport", "51442", "--dst", "172.31.10.31", "--dport", "80",
    "--vpce-id", "vpce-08d2bf15fac5001c9", "--aws-layout",
]


@dataclass
class Ran:
    exit_code: int
    output: str  # stdout and stderr, interleaved
    stderr: str


def run(*args: str, stdin: str | None = None) -> Ran:
    with CliRunner().isolation(input=stdin) as (_out, err, mixed):
        code = main(["ppv2", *args])
        sys.stdout.flush()  # emit_json writes to sys.stdout without click's flush
    return Ran(code, mixed.getvalue().decode(), err.getvalue().decode())


def error_lines(result) -> list[str]:  # noqa: ANN001
    return [line for line in result.output.splitlines() if line.strip()]


def test_decode_text() -> None:
    result = run("decode", VECTOR_A)
    assert result.exit_code == 0, result.output
    assert "PROXY protocol v2  PROXY  INET/STREAM  100 bytes" in result.output
    assert "source       172.31.7.113:51442" in result.output
    assert "vpce id      vpce-08d2bf15fac5001c9" in result.output
    assert "e8d6892d (verified)" in result.output


def test_decode_json_with_payload() -> None:
    result = run("decode", VECTOR_A + "474554", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["aws_vpce_id"], data["src_port"], data["crc32c"], data["payload"]) == (
        "vpce-08d2bf15fac5001c9", 51442, "e8d6892d", "474554"
    )


@pytest.mark.parametrize(
    "spelling",
    [
        " ".join(VECTOR_A[i : i + 2] for i in range(0, len(VECTOR_A), 2)),
        ":".join(VECTOR_A[i : i + 2] for i in range(0, len(VECTOR_A), 2)),
        "0x" + VECTOR_A.upper(),
        VECTOR_A[:40] + "\n" + VECTOR_A[40:],
    ],
    ids=["spaces", "colons", "0x-upper", "newline"],
)
def test_decode_accepts_pasted_hex(spelling: str) -> None:
    result = run("decode", spelling, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["length"] == 100


def test_decode_reads_stdin() -> None:
    result = run("decode", "-", stdin=VECTOR_A + "\n")
    assert result.exit_code == 0 and "vpce-08d2bf15fac5001c9" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["decode", "zz"], "not hex: unexpected character 'z'"),
        (["decode", "abc"], "not hex: odd number of digits"),
        (["decode", VECTOR_A[:60]], "IncompleteHeader"),
        (["decode", VECTOR_A.replace("e8d6892d", "e8d6892e")], "BadChecksum"),
        (["decode", "474554202f20485454502f312e310d0a"], "BadSignature"),
        (["decode"], "give either HEX or --pcap FILE"),
        (["decode", "--pcap", "/nonexistent.pcap"], "cannot read capture"),
        (["encode", "--src", "1.2.3.4"], "--src and --dst go together"),
        (["encode", "--src", "1.2.3.999", "--dst", "1.1.1.1"], "BadAddress"),
        (["encode", "--tlv", "3"], "is not TYPE=HEX"),
        (["encode", "--tlv", "0x1FF=00"], "--tlv: type 511 is not 0..255"),
        (["encode", "--tlv", "3=00"], "BadTLV"),
        (["encode", "--aws-layout", "--src", "1.2.3.4", "--dst", "5.6.7.8"], "--aws-layout needs"),
        (["encode", "--local", "--aws-layout", "--vpce-id", "vpce-1"], "carries no addresses"),
        (["encode", "--v1", "--crc"], "--v1: takes only"),
    ],
)
def test_bad_input_gives_one_error_line_and_exit_2(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    lines = error_lines(result)
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and "; fix: " in lines[0] and message in lines[0], lines[0]
    assert result.stderr.strip() == lines[0]


def test_decode_without_crc_check_marks_it() -> None:
    result = run("decode", VECTOR_A.replace("e8d6892d", "e8d6892e"), "--no-verify-crc")
    assert result.exit_code == 0
    assert "e8d6892e (not checked)" in result.output


def test_decode_bad_pcap_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"definitely not a capture")
    result = run("decode", "--pcap", str(junk))
    assert result.exit_code == 2 and len(error_lines(result)) == 1


def test_encode_aws_layout_reproduces_vector_a() -> None:
    result = run("encode", *AWS_FLAGS)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == VECTOR_A


def test_encode_health_check() -> None:
    result = run("encode", "--local", "--aws-layout", "--format", "json")
    data = json.loads(result.output)
    assert (data["length"], data["header"]["command"], data["header"]["src_addr"]) == (100, "LOCAL", None)


def test_encode_flags_build_the_tlvs_in_order() -> None:
    result = run(
        "encode", "--src", "2001:db8::1", "--dst", "2001:db8::2", "--sport", "1", "--dport", "2",
        "--crc", "--vpce-id", "vpce-7", "--tlv", "0xE0=00000000000000ff", "--tlv", "2=61:2e:65:78",
    )
    assert result.exit_code == 0, result.output
    header = decode(bytes.fromhex(result.output.strip()))
    assert [tlv.type for tlv in header.tlvs] == [0x03, 0xEA, 0xE0, 0x02]
    assert (header.family.name, header.aws_vpce_id, header.gcp_psc_connection_id, header.authority) == (
        "INET6", "vpce-7", 255, "a.ex"
    )


def test_encode_aws_layout_with_extra_tlv_still_pads_to_100() -> None:
    result = run("encode", *AWS_FLAGS, "--tlv", "0xF0=abcd")
    header = decode(bytes.fromhex(result.output.strip()))
    assert header.length == 100
    assert [tlv.type for tlv in header.tlvs] == [0x03, 0xEA, 0xF0, 0x04]


def test_encode_v1_and_local_and_unix() -> None:
    v1 = run("encode", "--v1", "--src", "1.2.3.4", "--dst", "5.6.7.8", "--sport", "1", "--dport", "2")
    assert bytes.fromhex(v1.output.strip()) == b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"
    local = run("encode", "--local")
    assert decode(bytes.fromhex(local.output.strip())).command.name == "LOCAL"
    unix = run("encode", "--src", "/run/a.sock", "--dst", "@abstract")
    assert decode(bytes.fromhex(unix.output.strip())).src_addr == "/run/a.sock"


def test_decode_pcap_lists_every_connection(tmp_path: Path) -> None:
    packets = []
    for index, vpce in enumerate(["vpce-aaaaaaaaaaaaaaaaa", "vpce-bbbbbbbbbbbbbbbbb"]):
        encoded = run("encode", "--src", f"10.0.0.{index + 1}", "--dst", "10.1.0.1", "--sport", "4000",
                      "--dport", "80", "--vpce-id", vpce, "--aws-layout").output.strip()
        raw = bytes.fromhex(encoded)
        ip = IP(src=f"10.0.0.{index + 1}", dst="10.1.0.1")
        packets.append(ip / TCP(sport=4000, dport=80, flags="S", seq=10))
        packets += [ip / TCP(sport=4000, dport=80, flags="A", seq=11 + o) / raw[o : o + 33] for o in range(0, 100, 33)]
    pcap = tmp_path / "two.pcap"
    wrpcap(str(pcap), packets)
    text = run("decode", "--pcap", str(pcap))
    assert text.exit_code == 0, text.output
    assert "10.0.0.1:4000 -> 10.1.0.1:80" in text.output and "vpce-bbbbbbbbbbbbbbbbb" in text.output
    data = json.loads(run("decode", "--pcap", str(pcap), "--format", "json").output)
    assert [(item["flow"]["src"], item["header"]["aws_vpce_id"]) for item in data] == [
        ("10.0.0.1", "vpce-aaaaaaaaaaaaaaaaa"),
        ("10.0.0.2", "vpce-bbbbbbbbbbbbbbbbb"),
    ]


def test_decode_pcap_without_headers(tmp_path: Path) -> None:
    pcap = tmp_path / "plain.pcap"
    wrpcap(str(pcap), [IP() / TCP(flags="S"), IP() / TCP(flags="A", seq=1) / b"GET / HTTP/1.1\r\n"])
    result = run("decode", "--pcap", str(pcap))
    assert result.exit_code == 0 and "no PROXY protocol headers found" in result.output
