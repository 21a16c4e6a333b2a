"""Terminal output shared by every command: `--format`, tables, progress, and errors."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.table import Table

# Piped output (tests, `| less`, CI logs) would otherwise be cut to 80 columns and tables truncated.
stdout = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="Output as human-readable text or as JSON.",
)
name_option = click.option(
    "--name", "-n", "lab", default="default", show_default=True, metavar="LAB",
    help="Name of the lab; two labs with different names coexist.",
)


def progress(message: str) -> None:
    """Progress goes to stderr, so `--format json` output on stdout stays parseable."""
    stderr.print(f"[dim]•[/dim] {message}")


def live_terminal() -> bool:
    """A person is watching stderr: a terminal, not a CI log (CI=true) nor a dumb terminal."""
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    return stderr.is_terminal and not ci and os.environ.get("TERM") != "dumb"


@contextmanager
def activity(message: str, enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """While a long step runs (bring-up, teardown, an image build, a capture), a spinner with the
    current step and the seconds so far on stderr, only on a live terminal (`live_terminal()`) and
    when `enabled` (False: JSON mode). Yields the progress callback to hand to the step: on a
    terminal each message is printed above the spinner and becomes its text; elsewhere it is
    `progress` as before (one line each, as CI logs and tests read them). A message given with
    note=True only changes the spinner's text (nothing anywhere else)."""
    if not (enabled and live_terminal()):
        def plain(msg: str, note: bool = False) -> None:
            if not note:
                progress(msg)

        yield plain
        return
    start = time.monotonic()
    with stderr.status(message, spinner="dots") as status:
        def report(msg: str, note: bool = False) -> None:
            """note=True: only the spinner's text changes (a countdown), nothing is printed."""
            if not note:
                progress(msg)
            status.update(f"{message}: {msg} [dim]({time.monotonic() - start:.0f} s)[/dim]")

        yield report


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def as_json(fmt: str, data: Any) -> bool:
    """With `--format json`, print `data` as JSON and say so (the command is then done)."""
    if fmt == "json":
        emit_json(data)
        return True
    return False


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title, title_justify="left", title_style="bold")
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    stdout.print(t)
