"""`lab graph`: draw a lab (live, or a topology file's plan) as SVG, PNG, DOT, Mermaid or JSON."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from lab.cli.output import name_option, stdout
from lab.topology.errors import LabInputError

FORMATS = ("svg", "png", "dot", "mermaid", "json")


@click.command()
@name_option
@click.option("-t", "--topology", "topology_ref", metavar="FILE", default=None,
              help="Draw this topology's planned state (a YAML file or a built-in name) instead of a live lab.")
@click.option("--format", "fmt", default="svg", show_default=True, metavar="|".join(FORMATS),
              help="svg and png are laid out by Graphviz; dot and mermaid are text; json is the graph itself.")
@click.option("-o", "--output", "output", metavar="FILE", default=None,
              help="Write here instead of stdout (png needs it on a terminal).")
@click.option("--flows", is_flag=True, help="Overlay the flows of the lab's last `lab verify` (a leak in red).")
def graph(lab: str, topology_ref: str | None, fmt: str, output: str | None, flows: bool) -> None:
    """Draw a lab: region, account, VPC, AZ and subnet boxes; instances, NLB nodes, endpoint ENIs and
    resolvers; links styled by kind; each endpoint's state and each target's health.

    \b
    Examples:
      lab graph -t topologies/basic.yaml -o basic.svg      # a design, before `lab up`
      sudo lab graph --name demo --format png -o demo.png   # a live lab, states as they are now
      sudo lab verify --name leak; sudo lab graph --name leak --flows -o leak.svg   # what verify saw
      lab graph -t multi-tenant --format mermaid            # for a ```mermaid block in Markdown
    """
    from lab import api

    if fmt not in FORMATS:
        raise LabInputError("--format", f"{fmt!r} is not a format lab graph draws", f"use one of: {', '.join(FORMATS)}")
    target = _check_output(output, fmt)
    g = api.graph(lab, topology_ref, flows)
    try:
        data = api.render_graph(g, fmt)
    except RuntimeError as err:  # Graphviz failed on our DOT: a bug of ours, exit 1 in one line
        raise click.ClickException(f"graphviz could not lay out the graph: {err}") from None
    if target is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        target.write_bytes(data)
    except OSError as err:
        raise LabInputError("--output", f"cannot write {target} ({err.strerror})", "give a writable file path") from None
    stdout.print(f"wrote {target} ({fmt}, {len(g.nodes)} nodes, {len(g.edges)} links"
                 + (f", {len(g.flows)} flows" if g.flows else "") + ")", markup=False)


def _check_output(output: str | None, fmt: str) -> Path | None:
    """Refuse an -o path we could not write, before any work (nothing is created on bad input)."""
    if output is None:
        if fmt == "png" and sys.stdout.isatty():
            raise LabInputError("--format", "png is binary and stdout is a terminal", "add -o FILE.png")
        return None
    if output == "":
        raise LabInputError("--output", "is empty", "give a file path")
    path = Path(output)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise LabInputError("--output", f"{output} is a directory", "give a file path")
    if not parent.is_dir():
        raise LabInputError("--output", f"folder {parent} does not exist", "create it first or write elsewhere")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise LabInputError("--output", f"{output} is not writable", "give a writable file path")
    return path
