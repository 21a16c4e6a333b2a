"""`lab schema`: the topology file's JSON Schema, for editors and validators."""

from __future__ import annotations

import json

import click


@click.command()
def schema() -> None:
    """Print the JSON Schema of topology files (unknown keys are rejected)."""
    from lab.topology.model import Topology

    doc = Topology.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "privatelink-lab topology"
    click.echo(json.dumps(doc, indent=2))
