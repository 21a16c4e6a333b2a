"""`lab link set|clear|show`: rate, delay, jitter and loss on a live lab's links.

Rate uses tbf, which every kernel has; delay, jitter and loss use netem where the kernel has it.
Where it does not, `set` exits 2 with one line and changes nothing. Both ends of the veth are
shaped, so each direction gets the same treatment (a 20 ms delay is 20 ms each way).
"""

from __future__ import annotations

import click

from lab.cli.output import emit_json, format_option, name_option, stdout, table

# `clear` and `show` act on one link or on all of them.
optional_link = click.argument("link_name", metavar="[LINK]", required=False)
LINK_HELP = "A link name as `lab capture --list` shows it, e.g. consumer-subnet/consumer-client."


@click.group()
def link() -> None:
    """Impair lab links: rate (tbf), delay, jitter and loss (netem), live."""


@link.command("set")
@click.argument("link_name", metavar="LINK")
@click.option("--rate", metavar="RATE", help="Rate limit, e.g. 100mbit, 1gbit, 500kbit (tbf).")
@click.option("--delay", metavar="TIME", help="One-way delay, e.g. 20ms (netem).")
@click.option("--jitter", metavar="TIME", help="Delay variation, e.g. 5ms; needs --delay (netem).")
@click.option("--loss", metavar="PERCENT", help="Packet loss per direction, e.g. 1% (netem).")
@name_option
@format_option
def set_(link_name: str, rate: str | None, delay: str | None, jitter: str | None, loss: str | None, lab: str,
         fmt: str) -> None:
    """Set LINK's impairment, replacing what it had. LINK: a name as `lab capture --list` shows it."""
    from lab import api

    row = api.link_set(lab, link_name, rate=rate, delay=delay, jitter=jitter, loss=loss)
    if fmt == "json":
        emit_json(row)
        return
    stdout.print(f"{row['Link']}: {_settings(row)} (on both ends: {_qdiscs(row)})")


@link.command()
@optional_link
@name_option
@format_option
def clear(link_name: str | None, lab: str, fmt: str) -> None:
    """Remove LINK's impairment, or every link's when no LINK is given."""
    from lab import api

    cleared = api.link_clear(lab, link_name)
    if fmt == "json":
        emit_json({"Cleared": cleared})
        return
    stdout.print(f"cleared: {', '.join(cleared)}" if cleared else "no link was impaired")


@link.command()
@optional_link
@name_option
@format_option
def show(link_name: str | None, lab: str, fmt: str) -> None:
    """The impaired links (or LINK), with the qdiscs read back from the kernel on each end."""
    from lab import api

    rows = api.link_show(lab, link_name)
    if fmt == "json":
        emit_json({"Links": rows})
        return
    if not rows:
        stdout.print(f"no link of lab {lab!r} is impaired; try `lab link set LINK --rate 100mbit`")
        return
    table(f"link impairments of lab {lab}", ["Link", "Settings", "Qdiscs (both ends)"],
          [(r["Link"], _settings(r), _qdiscs(r)) for r in rows])


def _settings(row: dict) -> str:
    parts = [f"{key.lower()} {row[key]}" for key in ("Rate", "Delay", "Jitter", "Loss") if key in row]
    return ", ".join(parts) or "none"


def _qdiscs(row: dict) -> str:
    return " | ".join("+".join(end["Qdiscs"]) or "default" for end in row["Ends"])
