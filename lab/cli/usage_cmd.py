"""`lab usage`: what the lab would have cost on AWS (endpoint-hours per AZ, GB processed), and a month of it."""

from __future__ import annotations

import click

from lab.cli.output import emit_json, name_option, stdout, table
from lab.topology.errors import LabInputError


@click.command()
@name_option
@click.option("--format", "fmt", default="text", show_default=True, metavar="text|json",
              help="Output as human-readable text or as JSON.")
@click.option("--prices", metavar="FILE", default=None,
              help="A price file like lab/usage/prices.yaml (default: that file).")
def usage(lab: str, fmt: str, prices: str | None) -> None:
    """Endpoint-hours per endpoint and AZ (as AWS bills them: partial hours as full ones) and GB
    processed through each ENI, priced at AWS's PrivateLink prices for the lab's region, plus a
    projected month at the observed rate. Prices live in lab/usage/prices.yaml (see docs/usage.md)."""
    from lab import api

    if fmt not in ("text", "json"):
        raise LabInputError("--format", f"{fmt!r} is not a format lab usage prints", "use one of: text, json")
    report = api.usage(lab, prices)
    if fmt == "json":
        emit_json(report)
        return
    cur = report["Currency"]

    def money(value) -> str:
        return "n/a" if value is None else f"{value:.4f} {cur}"

    stdout.print(f"[bold]lab {report['Lab']}[/bold] ({report['Region']}) at {report['Time']}")
    table("Endpoint-hours (per endpoint and AZ) and data processed",
          ["Endpoint", "Name", "State", "AZ", "ENI", "Hours", "Billed h", "Bytes"],
          [(ep["VpcEndpointId"], ep["Name"], ep["State"], eni["AvailabilityZone"], eni["NetworkInterfaceId"] or "",
            f"{eni['Hours']:.3f}", eni["BilledHours"], eni["BytesProcessed"])
           for ep in report["Endpoints"] for eni in ep["NetworkInterfaces"]])
    t, p = report["Total"], report["Projection"]
    stdout.print(f"so far: {t['BilledEndpointHours']} billed endpoint-hours, {t['GBProcessed']:.6f} GB processed: "
                 f"{money(t.get('HourlyCost'))} + {money(t.get('DataCost'))} = {money(t.get('Cost'))}", markup=False)
    stdout.print(f"a month ({p['HoursPerMonth']:g} h) at the observed rate: {p['EndpointAzs']} endpoint-AZs, "
                 f"{p['MonthlyGBProcessed']:.3f} GB: {money(p.get('MonthlyCost'))}", markup=False)
    for note in report["Notes"]:
        stdout.print(f"note: {note}", markup=False)
