"""`lab scan`: from a host on the lab's internet, connect() to public addresses; what answers?"""

from __future__ import annotations

import click

from lab import api
from lab.cli.output import emit_json, format_option, name_option, table

DEFAULT_PORTS = (22, 80, 443, 8080)


@click.command("scan")
@name_option
@click.option("--from", "host", required=True, metavar="HOST", help="The internet host to scan from (internet.hosts).")
@click.option("-p", "--port", "ports", multiple=True, type=click.IntRange(1, 65535),
              help=f"A TCP port (repeat; default {', '.join(map(str, DEFAULT_PORTS))}).")
@click.argument("addresses", nargs=-1)
@format_option
def scan(lab: str, host: str, ports: tuple[int, ...], addresses: tuple[str, ...], fmt: str) -> None:
    """TCP connect() from HOST to ADDRESSES (default: every public address of the lab) on a few ports.

    Bounded: at most 64 probes, 0.5 s each, all at once; lab addresses only. `open` is what an IGW
    publishes; `filtered` got no answer (dropped at the IGW, as AWS's drops what it does not translate).
    """
    holders = api.public_addresses(lab)
    results = api.internet_scan(lab, host, list(addresses) or None, list(ports or DEFAULT_PORTS))
    rows = [{"Address": r.ip, "Port": r.port, "State": r.state, "Holder": holders.get(r.ip, "")} for r in results]
    if fmt == "json":
        emit_json({"lab": lab, "from": host, "results": rows})
        return
    table(f"scan from {host}", ["Address", "Port", "State", "Holder"],
          [(r["Address"], r["Port"], r["State"], r["Holder"]) for r in rows])
