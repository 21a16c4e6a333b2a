"""``lab ppv2``: decode and build PROXY protocol headers from the command line.

    lab ppv2 decode 0d0a0d0a000d0a51...          # hex; spaces, colons, 0x allowed; "-" reads stdin
    lab ppv2 decode --pcap capture.pcap          # every header, per TCP connection
    lab ppv2 encode --src 172.31.7.113 --sport 51442 --dst 172.31.10.31 --dport 80 \\
                    --vpce-id vpce-08d2bf15fac5001c9 --aws-layout
    lab ppv2 encode --local --aws-layout         # an NLB health-check header

Invalid input is a `LabInputError`: like every other command, one line
``error: WHAT: problem; fix: ...`` and exit 2 (printed by lab.cli.main).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import replace

import click

from lab.cli.output import emit_json, format_option

from lab.ppv2 import (
    TLV,
    Command,
    Family,
    Header,
    ProxyProtocolError,
    Transport,
    aws_health_check_header,
    aws_nlb_header,
    decode,
    encode,
    pad_to,
    with_crc,
)
from lab.ppv2.aws import AWS_HEADER_SIZE
from lab.ppv2.tlv import TLVType, aws_vpce_id_of
from lab.topology.errors import LabInputError

__all__ = ["ppv2"]

_HEX_NOISE = re.compile(r"0x|[\s:,-]", re.IGNORECASE)  # separators people paste from dumps


EXAMPLE_HEX = "0d0a0d0a000d0a515549540a..."


def _fail(what: str, problem: str, fix: str) -> NoReturn:
    raise LabInputError(what, problem, fix)


@click.group(name="ppv2")
def ppv2() -> None:
    """PROXY protocol v2 (and v1) headers: decode bytes or captures, build headers."""


# ---------------------------------------------------------------- decode


@ppv2.command("decode")
@click.argument("hex_data", metavar="[HEX]", required=False)
@click.option("--pcap", "pcap_path", type=click.Path(dir_okay=False), help="Read headers from a pcap/pcapng file.")
@click.option("--no-verify-crc", is_flag=True, help="Accept headers whose CRC32C TLV does not match.")
@format_option
def decode_cmd(hex_data: str | None, pcap_path: str | None, no_verify_crc: bool, fmt: str) -> None:
    """Decode a header given as HEX ("-" reads it from stdin), or all headers in --pcap FILE."""
    if (hex_data is None) == (pcap_path is None):
        _fail("lab ppv2 decode", "give either HEX or --pcap FILE (exactly one)",
              f"lab ppv2 decode {EXAMPLE_HEX} (- reads stdin), or lab ppv2 decode --pcap capture.pcap")
    if pcap_path is not None:
        _decode_pcap(pcap_path, not no_verify_crc, fmt)
        return
    data = _parse_hex(sys.stdin.read() if hex_data == "-" else hex_data)
    try:
        header = decode(data, verify_crc=not no_verify_crc)
    except ProxyProtocolError as error:
        fix = ("pass --no-verify-crc to decode it anyway" if type(error).__name__ == "BadChecksum"
               else "give the header's bytes from its first byte (0d0a0d0a... for v2, PROXY for v1)")
        _fail("HEX", f"{type(error).__name__}: {error}", fix)
    payload = data[header.consumed :]
    if fmt == "json":
        emit_json({**header.to_dict(), "payload": payload.hex()})
    else:
        click.echo("\n".join(_describe(header, crc_verified=not no_verify_crc)))
        if payload:
            click.echo(f"  payload after header: {len(payload)} bytes")


def _parse_hex(text: str) -> bytes:
    cleaned = _HEX_NOISE.sub("", text)
    if not cleaned:
        _fail("HEX", "no hex digits given", f"paste the header's bytes as hex, e.g. {EXAMPLE_HEX}")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        bad = next((ch for ch in cleaned if ch not in "0123456789abcdefABCDEF"), None)
        if bad:
            _fail("HEX", f"not hex: unexpected character {bad!r}",
                  "write only hex digits (spaces, colons, commas and 0x are ignored)")
        _fail("HEX", "not hex: odd number of digits", "each byte is two hex digits: check the first and last bytes")


def _decode_pcap(path: str, verify_crc: bool, fmt: str) -> None:
    from scapy.error import Scapy_Exception  # scapy is imported only when a capture is asked for

    from lab.ppv2.pcap import find_headers

    try:
        results = list(find_headers(path, verify_crc=verify_crc))
    except (OSError, ValueError, EOFError, Scapy_Exception) as error:  # unreadable, not a capture, cut off
        _fail(path, f"cannot read capture: {error}", "give a pcap or pcapng file (from lab capture or tcpdump -w)")
    if fmt == "json":
        emit_json([_flow_json(result) for result in results])
        return
    if not results:
        click.echo("no PROXY protocol headers found")
    for result in results:
        click.echo(str(result.flow))
        if result.header is not None:
            click.echo("\n".join("  " + line for line in _describe(result.header, crc_verified=verify_crc)))
        else:
            click.echo(f"  error: {type(result.error).__name__}: {result.error}")


def _flow_json(result: object) -> dict[str, object]:
    flow = result.flow  # type: ignore[attr-defined]
    out: dict[str, object] = {"flow": {"src": flow.src, "sport": flow.sport, "dst": flow.dst, "dport": flow.dport}}
    if result.header is not None:  # type: ignore[attr-defined]
        out["header"] = result.header.to_dict()  # type: ignore[attr-defined]
    else:
        error = result.error  # type: ignore[attr-defined]
        out["error"] = f"{type(error).__name__}: {error}"
    return out


def _describe(header: Header, *, crc_verified: bool) -> list[str]:
    """Human-readable lines, most useful facts first (who connected, through which endpoint)."""
    lines = [
        f"PROXY protocol v{header.version}  {Command(header.command).name}  "
        f"{Family(header.family).name}/{Transport(header.transport).name}  {header.length} bytes"
    ]
    if header.has_addresses:
        src = header.src_addr if header.src_port is None else f"{header.src_addr}:{header.src_port}"
        dst = header.dst_addr if header.dst_port is None else f"{header.dst_addr}:{header.dst_port}"
        lines += [f"  source       {src}", f"  destination  {dst}"]
    elif header.command == Command.LOCAL:
        lines.append("  (LOCAL: no client addresses, e.g. a load balancer health check)")
    if header.aws_vpce_id is not None:
        lines.append(f"  vpce id      {header.aws_vpce_id}")
    for tlv in header.tlvs:
        summary = _tlv_summary(tlv, crc_verified)
        lines.append(f"  TLV 0x{tlv.type:02X} {tlv.name:<11} {len(tlv.value):>5} bytes  {summary}")
    return lines


def _tlv_summary(tlv: TLV, crc_verified: bool) -> str:
    if tlv.type == TLVType.NOOP:
        return "(padding)"
    if tlv.type == TLVType.CRC32C:
        return tlv.value.hex() + (" (verified)" if crc_verified else " (not checked)")
    if tlv.type == TLVType.AWS and aws_vpce_id_of(tlv.value) is not None:
        return f"VPCE_ID {aws_vpce_id_of(tlv.value)!r}"
    printable = tlv.value.isascii() and tlv.value.decode("ascii").isprintable()
    shown = repr(tlv.value.decode("ascii")) if printable else tlv.value.hex()
    return shown if len(shown) <= 64 else shown[:61] + "..."


# ---------------------------------------------------------------- encode


def _parse_tlv(_ctx: click.Context, _param: click.Parameter, values: Iterable[str]) -> list[TLV]:
    tlvs = []
    for spec in values:
        type_text, sep, value_text = spec.partition("=")
        try:
            if not sep:
                raise ValueError
            tlv_type = int(type_text, 0)
            value = bytes.fromhex(_HEX_NOISE.sub("", value_text))
        except ValueError:
            _fail("--tlv", f"{spec!r} is not TYPE=HEX", "write e.g. --tlv 0xE0=00000000000000ff")
        if not 0 <= tlv_type <= 0xFF:
            _fail("--tlv", f"type {tlv_type} is not 0..255", "use a type from 0 to 0xFF")
        tlvs.append(TLV(tlv_type, value))
    return tlvs


def _family_of(address: str | None) -> Family:
    if address is None:
        return Family.UNSPEC
    if address.startswith(("/", "@")):
        return Family.UNIX
    return Family.INET6 if ":" in address else Family.INET


@ppv2.command("encode")
@click.option("--src", help="Client address (IPv4, IPv6, or a UNIX path starting with / or @).")
@click.option("--dst", help="Address the client connected to (the endpoint ENI for PrivateLink).")
@click.option("--sport", type=click.IntRange(0, 65535), default=0, show_default=True)
@click.option("--dport", type=click.IntRange(0, 65535), default=0, show_default=True)
@click.option("--vpce-id", help="Add AWS TLV 0xEA carrying this VPC endpoint ID.")
@click.option("--aws-layout", is_flag=True, help="Exactly as an AWS NLB: CRC32C, 0xEA, NOOP padding to 100 bytes.")
@click.option("--local", is_flag=True, help="LOCAL command (health check) instead of PROXY.")
@click.option("--crc", is_flag=True, help="Add a CRC32C TLV (first, as AWS does).")
@click.option("--tlv", "tlvs", multiple=True, callback=_parse_tlv, metavar="TYPE=HEX", help="Extra TLV, repeatable.")
@click.option("--v1", "version1", is_flag=True, help="Write the v1 text form instead.")
@format_option
def encode_cmd(
    src: str | None,
    dst: str | None,
    sport: int,
    dport: int,
    vpce_id: str | None,
    aws_layout: bool,
    local: bool,
    crc: bool,
    tlvs: list[TLV],
    version1: bool,
    fmt: str,
) -> None:
    """Build a header from flags and print it (hex, or JSON with the decoded view)."""
    if (src is None) != (dst is None):
        _fail("--src/--dst", "--src and --dst go together", "give both (the client and the address it connected to), "
              "or neither")
    try:
        header = _build(src, dst, sport, dport, vpce_id, aws_layout, local, crc, tlvs, version1)
        raw = encode(header)
        decoded = decode(raw)  # proves the output is valid and gives the JSON view
    except ProxyProtocolError as error:
        _fail("lab ppv2 encode", f"{type(error).__name__}: {error}", "check the addresses, ports and TLVs given")
    if fmt == "json":
        emit_json({"hex": raw.hex(), "length": len(raw), "header": decoded.to_dict()})
    else:
        click.echo(raw.hex())


def _build(
    src: str | None,
    dst: str | None,
    sport: int,
    dport: int,
    vpce_id: str | None,
    aws_layout: bool,
    local: bool,
    crc: bool,
    extra: list[TLV],
    version1: bool,
) -> Header:
    family = _family_of(src)
    if version1:
        if local or aws_layout or crc or extra or vpce_id or family == Family.UNIX:
            _fail("--v1", "takes only --src/--dst/--sport/--dport (v1 has no TLVs, LOCAL or UNIX)",
                  "drop the other options, or drop --v1")
        transport = Transport.STREAM if family else Transport.UNSPEC
        return Header(Command.PROXY, family, transport, src, dst, *_ports(family, sport, dport), version=1)
    if aws_layout and local:
        if src is not None or vpce_id is not None or extra:
            _fail("--local --aws-layout", "an AWS health check carries no addresses, --vpce-id or --tlv",
                  "drop --src/--dst/--vpce-id/--tlv")
        return aws_health_check_header()
    if aws_layout:
        if src is None or vpce_id is None:
            _fail("--aws-layout", "--aws-layout needs --src, --dst and --vpce-id",
                  "add them, e.g. --src 172.31.7.113 --dst 172.31.10.31 --vpce-id vpce-08d2bf15fac5001c9")
        header = aws_nlb_header(src, sport, dst, dport, vpce_id)  # type: ignore[arg-type]
        if not extra:
            return header
        # Extra TLVs go after 0xEA and before the padding, which is recomputed.
        body = tuple(tlv for tlv in header.tlvs if tlv.type != TLVType.NOOP) + tuple(extra)
        return with_crc(pad_to(replace(header, tlvs=body, consumed=None), AWS_HEADER_SIZE))
    tlvs = ([TLV.crc32c()] if crc else []) + ([TLV.aws_vpce_id(vpce_id)] if vpce_id else []) + extra
    command = Command.LOCAL if local else Command.PROXY
    transport = Transport.STREAM if family else Transport.UNSPEC
    header = Header(command, family, transport, src, dst, *_ports(family, sport, dport), tuple(tlvs))
    return with_crc(header)


def _ports(family: Family, sport: int, dport: int) -> tuple[int | None, int | None]:
    return (sport, dport) if family in (Family.INET, Family.INET6) else (None, None)
