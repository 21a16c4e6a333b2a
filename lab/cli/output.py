"""Terminal output shared by every command: `--format`, tables, progress, and errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
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
