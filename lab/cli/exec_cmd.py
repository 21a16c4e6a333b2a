"""`lab exec NODE -- CMD`: run a command inside an instance (or a VPC router) of a lab."""

from __future__ import annotations

import os
from pathlib import Path

import click

from lab.cli.output import name_option
from lab.topology.errors import LabInputError


def resolve_node(plan: dict, node: str) -> str:
    """Instance names are lab-wide; a VPC's name means its router namespace; an internet host's, its own."""
    inv = plan["inventory"]
    for inst in inv.get("instances", []):
        if inst["Name"] == node:
            return inst["Netns"]
    for vpc in inv.get("vpcs", []):
        if vpc["Name"] == node:
            return vpc["Netns"]
    for host in inv.get("internet_hosts", []):  # hosts on the lab's internet (lab.plan.internet)
        if host["Name"] == node:
            return host["Netns"]
    known = [i["Name"] for i in inv.get("instances", [])] + [v["Name"] for v in inv.get("vpcs", [])]
    known += [h["Name"] for h in inv.get("internet_hosts", [])]
    raise LabInputError("NODE", f"no instance or VPC named {node!r} in lab {plan['lab']!r}",
                        f"use one of: {', '.join(known)}")


@click.command("exec", context_settings={"ignore_unknown_options": True})
@name_option
@click.argument("node")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(lab: str, node: str, command: tuple[str, ...]) -> None:
    """Run COMMAND inside NODE's namespace (an instance, or a VPC name for its router).

    Name resolution uses the VPC's own resolver where the lab provides one, as `ip netns exec` does.
    """
    from lab.apply import netns
    from lab.state.store import LabState

    if os.geteuid() != 0:
        raise LabInputError("lab exec", "needs root to enter a namespace", "run it with sudo")
    ns = resolve_node(LabState(lab).load_plan(), node)
    resolv = Path("/etc/netns") / ns / "resolv.conf"
    netns.enter_for_exec(netns.netns_path(ns), resolv if resolv.exists() else None)
    try:
        os.execvp(command[0], list(command))
    except FileNotFoundError:
        raise LabInputError("COMMAND", f"{command[0]!r} not found", "install it or give its full path") from None
