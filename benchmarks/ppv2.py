"""Decode throughput: lab.ppv2.decode vs scapy's PPv2 dissection vs PyPI proxy-protocol.

    .venv/bin/python benchmarks/ppv2.py            # table
    .venv/bin/python benchmarks/ppv2.py --json     # machine-readable
    .venv/bin/python benchmarks/ppv2.py --check    # exit 1 unless the goals hold

All columns are measured in the same run on the same bytes; each figure is the
median of several repeats (timeit, per-call time), and the ratios divide those
medians. Goals (issue #3): at least 20x faster than scapy, and never slower than
proxy-protocol on headers it can read. proxy-protocol is a benchmark-only
dependency (not in pyproject); without it that column is skipped.

Note that lab.ppv2.decode does more work than proxy-protocol here: it verifies
CRC32C and validates spec-defined TLVs; proxy-protocol skips the CRC unless its
optional ``crc32c`` dependency is installed (the table says which).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from lab.ppv2 import (  # noqa: E402
    TLV,
    Command,
    Family,
    Header,
    Transport,
    aws_health_check_header,
    aws_nlb_header,
    decode,
    encode,
    with_crc,
)
from lab.ppv2.scapy_layer import PPv2  # noqa: E402

GOAL_VS_SCAPY = 20.0
GOAL_VS_PROXY_PROTOCOL = 1.0


def inputs() -> dict[str, bytes]:
    """Headers seen in practice: AWS (vector A), HAProxy (vector B), AWS health check, IPv6 + TLS info."""
    return {
        "aws-nlb (A)": encode(aws_nlb_header("172.31.7.113", 51442, "172.31.10.31", 80, "vpce-08d2bf15fac5001c9")),
        "haproxy (B)": bytes.fromhex(
            "0d0a0d0a000d0a515549540a2111002d7f0000017f000001a94646a0ea001701767063652d3031323334353637383961"
            "626364656630030004937a19cb"
        ),
        "health-check": encode(aws_health_check_header()),
        "ipv4 no TLV": encode(Header(Command.PROXY, Family.INET, Transport.STREAM, "10.0.0.1", "10.0.0.2", 1, 2)),
        "ipv6 + ssl": encode(
            with_crc(
                Header(
                    Command.PROXY, Family.INET6, Transport.STREAM, "2001:db8::1", "2001:db8::2", 50000, 443,
                    (TLV.crc32c(), TLV.alpn(b"h2"), TLV.authority("api.example.com"),
                     TLV.ssl(1, 0, [TLV(0x21, b"TLSv1.3"), TLV(0x23, b"TLS_AES_128_GCM_SHA256")])),
                )
            )
        ),
    }


def proxy_protocol_decoder() -> tuple[Callable[[bytes], Any] | None, str]:
    try:
        from proxyprotocol import checksum
        from proxyprotocol.v2 import ProxyProtocolV2
    except ImportError:
        return None, "not installed (pip install proxy-protocol into the venv to add this column)"
    codec = ProxyProtocolV2()
    crc = "verifies CRC32C" if checksum.crc32c is not None else "does not verify CRC32C (no crc32c module)"
    return codec.unpack, crc


def per_call_seconds(func: Callable[[], Any], repeats: int, budget: float) -> float:
    """Median per-call time over ``repeats`` runs of about ``budget`` seconds each."""
    timer = timeit.Timer(func)
    number, _ = timer.autorange()  # calls per ~0.2 s
    number = max(1, int(number * budget / 0.2))
    return statistics.median(t / number for t in timer.repeat(repeat=repeats, number=number))


def measure(repeats: int, budget: float) -> dict[str, Any]:
    pp_decode, pp_note = proxy_protocol_decoder()
    rows = []
    for name, raw in inputs().items():
        ours = per_call_seconds(lambda raw=raw: decode(raw), repeats, budget)
        scapy = per_call_seconds(lambda raw=raw: PPv2(raw), repeats, budget)
        row: dict[str, Any] = {
            "input": name,
            "bytes": len(raw),
            "lab_us": ours * 1e6,
            "scapy_us": scapy * 1e6,
            "vs_scapy": scapy / ours,
            "proxy_protocol_us": None,
            "vs_proxy_protocol": None,
        }
        if pp_decode is not None:
            try:
                pp_decode(raw)
            except Exception as error:  # noqa: BLE001 - "cannot read this header" is a result here
                row["proxy_protocol_error"] = f"{type(error).__name__}: {error}"
            else:
                theirs = per_call_seconds(lambda raw=raw: pp_decode(raw), repeats, budget)
                row["proxy_protocol_us"] = theirs * 1e6
                row["vs_proxy_protocol"] = theirs / ours
        rows.append(row)
    vs_scapy = [row["vs_scapy"] for row in rows]
    vs_pp = [row["vs_proxy_protocol"] for row in rows if row["vs_proxy_protocol"] is not None]
    return {
        "python": platform.python_version(),
        "repeats": repeats,
        "proxy_protocol": pp_note,
        "rows": rows,
        "goals": {
            "vs_scapy_min": min(vs_scapy),
            "vs_scapy_goal": GOAL_VS_SCAPY,
            "vs_scapy_met": min(vs_scapy) >= GOAL_VS_SCAPY,
            "vs_proxy_protocol_min": min(vs_pp) if vs_pp else None,
            "vs_proxy_protocol_goal": GOAL_VS_PROXY_PROTOCOL,
            "vs_proxy_protocol_met": (min(vs_pp) >= GOAL_VS_PROXY_PROTOCOL) if vs_pp else None,
        },
    }


def print_table(result: dict[str, Any]) -> None:
    print(f"PROXY protocol decode, median of {result['repeats']} repeats, Python {result['python']}")
    print(f"proxy-protocol: {result['proxy_protocol']}\n")
    header = f"{'input':<14} {'bytes':>5} {'lab.ppv2':>10} {'scapy':>10} {'x scapy':>8} {'proxy-prot':>11} {'x p-p':>6}"
    print(header)
    print("-" * len(header))
    for row in result["rows"]:
        if row["proxy_protocol_us"] is not None:
            pp = f"{row['proxy_protocol_us']:>9.2f}us {row['vs_proxy_protocol']:>5.2f}x"
        else:
            pp = f"{'n/a':>11} {'':>6}"
        print(
            f"{row['input']:<14} {row['bytes']:>5} {row['lab_us']:>8.2f}us {row['scapy_us']:>8.1f}us "
            f"{row['vs_scapy']:>7.1f}x {pp}"
        )
        if "proxy_protocol_error" in row:
            print(f"{'':<14} proxy-protocol cannot read it: {row['proxy_protocol_error']}")
    goals = result["goals"]
    print(f"\nvs scapy: min {goals['vs_scapy_min']:.1f}x (goal >= {GOAL_VS_SCAPY:.0f}x) "
          f"{'met' if goals['vs_scapy_met'] else 'NOT MET'}")
    if goals["vs_proxy_protocol_min"] is not None:
        print(f"vs proxy-protocol: min {goals['vs_proxy_protocol_min']:.2f}x (goal >= 1x) "
              f"{'met' if goals['vs_proxy_protocol_met'] else 'NOT MET'}")
    else:
        print("vs proxy-protocol: skipped (not installed)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.1, help="seconds per repeat and column")
    parser.add_argument("--check", action="store_true", help="exit 1 if a goal is not met")
    args = parser.parse_args(argv)
    result = measure(args.repeats, args.budget)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    goals = result["goals"]
    failed = not goals["vs_scapy_met"] or goals["vs_proxy_protocol_met"] is False
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
