"""`lab sg list|show`: security groups, and the rules guarding each endpoint ENI with their hit counters.

`show` reads the live nftables counters (`nft -j list table`) inside each NLB node's namespace: how
many packets each rule let in, and how many the ENI dropped because no rule allowed them.
"""

from __future__ import annotations

import click

from lab import api
from lab.cli.output import as_json, format_option, name_option, stdout, table


@click.group()
def sg() -> None:
    """Security groups on endpoint ENIs (stateful, enforced with nftables at each ENI)."""


@sg.command("list")
@name_option
@format_option
def list_(lab: str, fmt: str) -> None:
    """Every VPC's security groups and their inbound rules (DescribeSecurityGroups)."""
    groups = api.security_groups(lab)
    if not as_json(fmt, {"SecurityGroups": groups}):
        table(f"security groups of lab {lab}", ["GroupId", "Name", "VPC", "Inbound rules"],
              [(g["GroupId"], g["GroupName"] + (" (lab default)" if g["LabDefault"] else ""), g["Vpc"],
                "; ".join(f"{p['IpProtocol']} {_ports(p['FromPort'], p['ToPort'])} from {p['IpRanges'][0]['CidrIp']}"
                          for p in g["IpPermissions"]) or "(none: nothing gets in)") for g in groups])


def _ports(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}-{high}"


@sg.command()
@name_option
@click.option("--endpoint", "-e", default=None, metavar="ENDPOINT", help="Only this endpoint's ENIs (name or vpce- ID).")
@format_option
def show(lab: str, endpoint: str | None, fmt: str) -> None:
    """Each endpoint ENI's rules with packet counters, and what it dropped."""
    guards = api.security_group_counters(lab, endpoint)
    if as_json(fmt, {"NetworkInterfaces": guards}):
        return
    for g in guards:
        state = "enforced" if g["Enforced"] else "NOT ENFORCED (table missing)"
        title = (f"{g['NetworkInterfaceId']} {g['PrivateIpAddress']} ({g['Endpoint']}, {g['AvailabilityZone']}, "
                 f"leg {g['Leg']} on {g['Node']}): {state}")
        rows = [(r["GroupId"], r["GroupName"], f"{r['Protocol']} {_ports(r['FromPort'], r['ToPort'])}", r["Cidr"],
                 "accept", r["packets"], r["bytes"]) for r in g["Rules"]]
        rows.append(("", "(no rule matched)", "any", "any", "drop", g["Dropped"]["packets"], g["Dropped"]["bytes"]))
        table(title, ["Group", "Name", "Port", "Source", "Action", "Packets", "Bytes"], rows)
    if not guards:
        stdout.print("no endpoint ENIs in this lab")
