"""`lab dns records|domains|publish|unpublish|published|verify-domain`: each VPC's resolver and private DNS names.

\b
The provider's domain-ownership check, step by step:
  lab dns domains                                  # the TXT record to publish, and the state
  lab dns publish _vpce-xxxx.api.example.com vpce:yyyy
  lab dns verify-domain web-service                # pendingVerification -> verified (or failed)
"""

from __future__ import annotations

import click

from lab import api
from lab.cli.output import as_json, format_option, name_option, progress, stdout, table


@click.group()
def dns() -> None:
    """DNS: each VPC's resolver (at the VPC CIDR base + 2), its names, and private DNS name verification."""


@dns.command()
@name_option
@click.option("--vpc", default=None, metavar="VPC", help="Only this VPC's resolver.")
@format_option
def records(lab: str, vpc: str | None, fmt: str) -> None:
    """The names each VPC's resolver answers right now, and whether the resolver runs."""
    out = api.dns_records(lab, vpc=vpc)
    if as_json(fmt, {"Resolvers": out}):
        return
    for r in out:
        status = ("running, PID " + ", ".join(map(str, r["ResolverPids"]))) if r["ResolverPids"] else "NOT RUNNING"
        if not r["DnsSupport"]:
            status = "off (enable_dns_support: false)"
        table(f"VPC {r['Vpc']}: resolver {r['Address']} ({status})", ["Name", "Type", "Answer", "Origin", "Endpoint"],
              [(x["Name"], x["Type"], ", ".join(x["Values"]), x["Origin"], x["Endpoint"]) for x in r["Records"]])


@dns.command()
@name_option
@format_option
def domains(lab: str, fmt: str) -> None:
    """Services' private DNS names: verification state and the TXT record the provider must publish."""
    out = api.private_dns_names(lab)
    if as_json(fmt, {"PrivateDnsNameConfigurations": out}):
        return
    if not out:
        stdout.print("no service of this lab has a private_dns_name")
        return
    table(f"private DNS names of lab {lab}", ["Service", "Private DNS name", "State", "TXT name", "TXT value", "Published"],
          [(d["Service"], d["PrivateDnsName"], d["State"], d["Name"], d["Value"], "yes" if d["Published"] else "no")
           for d in out])


@dns.command()
@name_option
@click.argument("record_name", metavar="NAME")
@click.argument("value")
@click.option("--type", "rtype", default="TXT", show_default=True, help="Record type (the lab models TXT).")
@format_option
def publish(lab: str, record_name: str, value: str, rtype: str, fmt: str) -> None:
    """Publish a record in the lab's public DNS, as a provider does at its DNS host."""
    record = api.publish_record(lab, record_name, value, rtype)
    if not as_json(fmt, record):
        stdout.print(f"published {record['name']} {record['type']} \"{record['value']}\" in the lab's public DNS")


@dns.command()
@name_option
@click.argument("record_name", metavar="NAME")
@click.argument("value", required=False)
def unpublish(lab: str, record_name: str, value: str | None) -> None:
    """Remove records (by name, and value if given) from the lab's public DNS."""
    stdout.print(f"removed {api.unpublish_record(lab, record_name, value)} record(s) named {record_name}")


@dns.command()
@name_option
@format_option
def published(lab: str, fmt: str) -> None:
    """The records in the lab's public DNS."""
    rows = api.published_records(lab)
    if not as_json(fmt, {"Records": rows}):
        table(f"public DNS of lab {lab}", ["Name", "Type", "Value"], [(r["name"], r["type"], r["value"]) for r in rows])


@dns.command("verify-domain")
@name_option
@click.argument("service")
@format_option
def verify_domain(lab: str, service: str, fmt: str) -> None:
    """Check the service's TXT record in the public DNS: verified (private name usable) or failed."""
    result = api.verify_domain(lab, service, progress)
    if as_json(fmt, result):
        return
    stdout.print(f"{result['PrivateDnsName']}: {result['State']}")
    if result["State"] != "verified":
        stdout.print(f"publish it first: lab dns publish{'' if lab == 'default' else ' --name ' + lab} "
                     f"{result['Name']} {result['Value']}")
        raise click.exceptions.Exit(1)
