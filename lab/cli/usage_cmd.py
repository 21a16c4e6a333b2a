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
@click.option("--tenants", type=int, default=None, metavar="N",
              help="Project a design instead: N tenants (with --azs), per multi-tenant mode; needs no lab.")
@click.option("--azs", type=int, default=None, metavar="M", help="The projected design's AZs (with --tenants).")
@click.option("--gb-per-tenant", type=float, default=0.0, show_default=True, metavar="GB",
              help="Data each tenant sends and receives a month, in the projection.")
@click.option("--region", default=None, metavar="REGION",
              help="The projection's region (default: the lab's if it is up, else us-east-1).")
def usage(lab: str, fmt: str, prices: str | None, tenants: int | None, azs: int | None, gb_per_tenant: float,
          region: str | None) -> None:
    """Endpoint-hours per endpoint and AZ (as AWS bills them: partial hours as full ones) and GB
    processed through each ENI, priced at AWS's PrivateLink prices for the lab's region, plus a
    projected month at the observed rate. Prices live in lab/usage/prices.yaml (see docs/usage.md)."""
    from lab import api

    if fmt not in ("text", "json"):
        raise LabInputError("--format", f"{fmt!r} is not a format lab usage prints", "use one of: text, json")
    if tenants is not None or azs is not None:
        _projection(api.usage_projection(tenants, azs, gb_per_tenant, region, prices, lab), fmt)
        return
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


def _projection(report: dict, fmt: str) -> None:
    if fmt == "json":
        emit_json(report)
        return
    cur = report["Currency"]
    stdout.print(f"[bold]a month ({report['HoursPerMonth']:g} h) of {report['Tenants']} tenants in {report['Azs']} "
                 f"AZs[/bold] ({report['Region']}, {report['GBPerTenantPerMonth']:g} GB per tenant)")
    table("PrivateLink per multi-tenant mode", ["Mode", "Services", "NLBs", "Endpoints", "Endpoint-AZs",
                                                 "Hours cost", "Data cost", "Monthly"],
          [(f"{m['Number']}: {m['Mode']}", m["EndpointServices"], m["NetworkLoadBalancers"], m["InterfaceEndpoints"],
            m["EndpointAzs"], f"{m['EndpointHourCost']:.2f} {cur}", f"{m['DataCost']:.2f} {cur}",
            f"{m['MonthlyCost']:.2f} {cur}") for m in report["Modes"]])
    for note in report["Notes"]:
        stdout.print(f"note: {note}", markup=False)
