"""`lab exec NODE -- CMD`: run a command inside an instance (or a VPC router) of a lab."""

from __future__ import annotations

import os

import click

from lab import api
from lab.cli.output import name_option
from lab.topology.errors import LabInputError


@click.command("exec", context_settings={"ignore_unknown_options": True})
@name_option
@click.argument("node")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(lab: str, node: str, command: tuple[str, ...]) -> None:
    """Run COMMAND inside NODE's namespace (an instance, or a VPC name for its router).

    Name resolution uses the VPC's own resolver where the lab provides one, as `ip netns exec` does.
    """
    api.enter(lab, node)
    try:
        os.execvp(command[0], list(command))
    except FileNotFoundError:
        raise LabInputError("COMMAND", f"{command[0]!r} not found", "install it or give its full path") from None
