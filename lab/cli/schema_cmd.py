"""`lab schema`: the topology file's JSON Schema, for editors and validators."""

from __future__ import annotations

import json

import click

from lab import api


@click.command()
def schema() -> None:
    """Print the JSON Schema of topology files (unknown keys are rejected)."""
    click.echo(json.dumps(api.topology_schema(), indent=2))
