"""`lab doctor`: check the host, with a fix for each problem; exit 1 when something blocks a lab."""

from __future__ import annotations

import click

from lab import api
from lab.cli.output import as_json, format_option, stdout, table

STYLE = {"ok": "[green]ok[/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}


@click.command()
@format_option
def doctor(fmt: str) -> None:
    """Check this host: root, Docker, the NLB image, kernel features (tried in a throwaway
    namespace), nftables, iptables and br_netfilter, rp_filter, /run/netns and free disk."""
    checks = api.check_host()
    code = api.host_exit_code(checks)
    if not as_json(fmt, {"ok": code == 0, "checks": [c.to_dict() for c in checks]}):
        table("lab doctor", ["Check", "Status", "Detail", "Fix"],
              [(c.name, STYLE.get(c.status, c.status), c.detail, c.fix) for c in checks])
        blocking = [c.name for c in checks if c.blocks]
        stdout.print(f"blocking: {', '.join(blocking)}" if blocking else "nothing blocks a lab on this host")
    if code:
        raise click.exceptions.Exit(code)
