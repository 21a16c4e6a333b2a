"""`lab endpoint create|modify|accept|reject|delete|list|show`: interface endpoints, as a consumer or provider.

Mirrors AWS's verbs (CreateVpcEndpoint, AcceptVpcEndpointConnections, RejectVpcEndpointConnections,
DeleteVpcEndpoints, DescribeVpcEndpoints, ModifyVpcEndpoint) and their JSON field names. Every change acts as an
account (`--account`), is applied to the live lab, and is published to the service's subscribers.
"""

from __future__ import annotations

import click

from lab import api
from lab.cli.events_cmd import subscriber_label
from lab.topology.errors import LabInputError
from lab.cli.output import as_json, emit_json, format_option, name_option, progress, stdout, table

account_option = click.option("--account", "-a", required=True, metavar="ACCOUNT",
                              help="Act as this account (a name of the topology's accounts:, or its 12-digit ID).")
view_account_option = click.option("--account", "-a", default=None, metavar="ACCOUNT",
                                   help="Show only what this account owns.")


@click.group()
def endpoint() -> None:
    """Interface endpoints: create and modify (consumer), accept/reject (provider), delete (consumer), list, show."""


def _rows(endpoints: list[dict]) -> list[tuple]:
    return [(e["VpcEndpointId"], e["Lab"]["Name"], e["Lab"]["Vpc"], e["Lab"]["Service"], e["State"], e["OwnerId"],
             ", ".join(f"{x['PrivateIpAddress']} ({x['AvailabilityZone']})" for x in e["Lab"]["Enis"]))
            for e in endpoints]


def _show_change(change, fmt: str, key: str = "VpcEndpoints") -> None:
    if fmt == "json":
        data = {"VpcEndpoint": change.endpoints[0]} if key == "VpcEndpoint" else \
            {"Unsuccessful": [], "VpcEndpoints": change.endpoints}
        emit_json({**data, "Events": change.events, "Deliveries": change.deliveries,
                   "Seconds": round(change.seconds, 3),
                   "DataPlaneSeconds": {k: round(v, 4) for k, v in change.timings.items()}})
        return
    table(f"{change.action}: {len(change.endpoints)} endpoint(s) in {change.seconds * 1000:.0f} ms",
          ["VpcEndpointId", "Name", "VPC", "Service", "State", "Owner", "ENIs"], _rows(change.endpoints))
    for event in change.events:
        stdout.print(f"event {event['EventId']} {event['ConnectionEvent']} {event['VpcEndpointId']} "
                     f"-> {event['VpcEndpointState']}")
    for d in change.deliveries:
        stdout.print(f"  delivered {d['EventId']} to {subscriber_label(d)} ({d['Type']}): "
                     f"{'ok' if d['Ok'] else 'FAILED'}, {d['Detail']}")


@endpoint.command()
@name_option
@account_option
@click.option("--vpc", required=True, help="The consumer VPC (name or vpc- ID).")
@click.option("--service", "service", required=True, help="The endpoint service (name, vpce-svc- ID or service name).")
@click.option("--subnet", "subnets", multiple=True, help="A subnet for an ENI, one per AZ (default: one per AZ of the service).")
@click.option("--endpoint-name", default=None, help="Name of the new endpoint (default: <vpc>-<service>-<n>).")
@click.option("--private-dns/--no-private-dns", default=False, help="Enable the service's private DNS name.")
@format_option
def create(lab: str, account: str, vpc: str, service: str, subnets: tuple[str, ...], endpoint_name: str | None,
           private_dns: bool, fmt: str) -> None:
    """Create an interface endpoint to a service (pendingAcceptance, or available if it auto-accepts)."""
    change = api.create_endpoint(lab, account, vpc, service, list(subnets) or None, endpoint_name, private_dns, progress)
    _show_change(change, fmt, key="VpcEndpoint")


def _decision(verb: str, help_text: str):
    @endpoint.command(verb, help=help_text)
    @name_option
    @account_option
    @click.argument("endpoints", nargs=-1, required=True, metavar="VPC_ENDPOINT_ID...")
    @format_option
    def command(lab: str, account: str, endpoints: tuple[str, ...], fmt: str) -> None:
        action = {"accept": api.accept_connections, "reject": api.reject_connections,
                  "delete": api.delete_endpoints}[verb]
        _show_change(action(lab, account, list(endpoints), progress), fmt)

    return command


accept = _decision("accept", "Accept pending connections to your service (provider): their ENIs go live.")
reject = _decision("reject", "Reject connections to your service (provider), pending or available: traffic stops at once.")
delete = _decision("delete", "Delete your endpoints (consumer): deleting -> deleted, traffic stops at once.")


@endpoint.command()
@name_option
@account_option
@click.argument("endpoint_ref", metavar="ENDPOINT")
@click.option("--private-dns/--no-private-dns", default=None,
              help="Turn the service's private DNS name on or off for this endpoint (PrivateDnsEnabled).")
@click.option("--add-subnet", "add_subnets", multiple=True, help="A subnet (name) to add an ENI in, one per AZ.")
@click.option("--remove-subnet", "remove_subnets", multiple=True, help="A subnet (name) whose ENI goes.")
@format_option
def modify(lab: str, account: str, endpoint_ref: str, private_dns: bool | None, add_subnets: tuple[str, ...],
           remove_subnets: tuple[str, ...], fmt: str) -> None:
    """Modify your endpoint (consumer), as ModifyVpcEndpoint: private DNS, subnets. Applied live."""
    if private_dns is None and not add_subnets and not remove_subnets:
        raise LabInputError("ENDPOINT", "nothing to change", "give --private-dns/--no-private-dns, --add-subnet or --remove-subnet")
    change = api.modify_endpoint(lab, account, endpoint_ref, add_subnets=list(add_subnets),
                                 remove_subnets=list(remove_subnets), private_dns=private_dns, progress=progress)
    _show_change(change, fmt)


@endpoint.command("list")
@name_option
@view_account_option
@click.option("--service", default=None, help="Only endpoints to this service.")
@click.option("--state", default=None, help="Only endpoints in this state (e.g. pendingAcceptance).")
@click.option("--include-deleted", is_flag=True, help="Also list deleted endpoints (State deleted).")
@format_option
def list_(lab: str, account: str | None, service: str | None, state: str | None, include_deleted: bool,
         fmt: str) -> None:
    """List endpoints (DescribeVpcEndpoints)."""
    found = api.describe_endpoints(lab, account, service, state, include_deleted)
    if not as_json(fmt, {"VpcEndpoints": found}):
        table(f"endpoints of lab {lab}", ["VpcEndpointId", "Name", "VPC", "Service", "State", "Owner", "ENIs"],
              _rows(found))


@endpoint.command()
@name_option
@click.argument("endpoint_ref", metavar="VPC_ENDPOINT_ID")
@format_option
def show(lab: str, endpoint_ref: str, fmt: str) -> None:
    """Show one endpoint (ID or name), deleted ones included."""
    match = api.describe_endpoint(lab, endpoint_ref)
    if as_json(fmt, match):
        return
    table(f"endpoint {match['VpcEndpointId']}", ["Field", "Value"],
          [("Name", match["Lab"]["Name"]), ("State", match["State"]), ("VPC", f"{match['Lab']['Vpc']} ({match['VpcId']})"),
           ("Service", f"{match['Lab']['Service']} ({match['ServiceName']})"), ("Owner", match["OwnerId"]),
           ("Created", match["CreationTimestamp"]), ("Private DNS", match["PrivateDnsEnabled"])]
          + [("DNS", d["DnsName"]) for d in match["DnsEntries"]])
    table("ENIs", ["NetworkInterfaceId", "Subnet", "AZ", "IP", "NLB node", "Leg", "Live"],
          [(x["NetworkInterfaceId"], x["Subnet"], x["AvailabilityZone"], x["PrivateIpAddress"], x["NlbNode"], x["Leg"],
            x["Live"]) for x in match["Lab"]["Enis"]])
    table("History", ["Time", "State", "By", "Error"],
          [(h["Time"], h["State"], h["By"], h.get("Error", "")) for h in match["Lab"]["History"]])
