"""`lab az fail|recover AZ`: an Availability Zone goes down (its NLB nodes and targets) and comes back.

What the lab does is what AWS documents for NLBs behind endpoint services (docs/availability-zones.md):
the regional name stops answering the ENIs of nodes that cannot serve, zonal names keep their one
address (a client using it is refused at once), and recovery restores both.
"""

from __future__ import annotations

import click

from lab import api
from lab.cli.output import emit_json, format_option, name_option, progress, stdout


@click.group()
def az() -> None:
    """Fail and recover Availability Zones (NLB nodes, targets, DNS failover)."""


@az.command()
@name_option
@format_option
@click.argument("zone", metavar="AZ")
@click.option("--targets-only", is_flag=True,
              help="Stop only the AZ's targets; its NLB node keeps running (DNS fails over once its health "
                   "checks see them down, and only with cross-zone off).")
def fail(lab: str, fmt: str, zone: str, targets_only: bool) -> None:
    """Fail AZ: stop its targets and its NLB nodes (their listeners close, the containers pause)."""
    result = api.az_fail(lab, zone, targets_only, progress if fmt == "text" else None)
    _show(result, fmt)


@az.command()
@name_option
@format_option
@click.argument("zone", metavar="AZ")
def recover(lab: str, fmt: str, zone: str) -> None:
    """Recover a failed AZ: restart its targets and nodes; regional names answer its ENIs again."""
    _show(api.az_recover(lab, zone, progress if fmt == "text" else None), fmt)


def _show(result: dict, fmt: str) -> None:
    if fmt == "json":
        emit_json(result)
        return
    what = "targets only" if result.get("TargetsOnly") else "NLB nodes and targets"
    head = f"{result['AvailabilityZone']} {result['State']}"
    if result["State"] == "failed":
        head += f" ({what})"
    stdout.print(f"{head} in {result['Seconds']:.2f} s; regional names updated in {result['DnsFailoverSeconds']:.2f} s"
                 + (f" after health checks saw the targets down ({result['HealthCheckDetectionSeconds']:.1f} s)"
                    if result.get("HealthCheckDetectionSeconds") else ""), markup=False)
    for name, ips in result["RegionalNames"].items():
        stdout.print(f"  {name} -> {', '.join(ips)}", markup=False)
    stdout.print(f"failed AZs now: {', '.join(result['FailedAvailabilityZones']) or 'none'}", markup=False)
