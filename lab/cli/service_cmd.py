"""`lab service list|show|create|delete|allow|revoke`: endpoint services, as their provider sees them.

JSON as AWS's DescribeVpcEndpointServiceConfigurations, DescribeVpcEndpointServicePermissions and
DescribeVpcEndpointConnections; allow/revoke are ModifyVpcEndpointServicePermissions.
"""

from __future__ import annotations

import click

from lab import api
from lab.cli.output import as_json, emit_json, format_option, name_option, progress, stdout, table


@click.group()
def service() -> None:
    """Endpoint services: list, show (configuration, principals, connections), create, delete, allow, revoke."""


@service.command("list")
@name_option
@click.option("--account", "-a", default=None, metavar="ACCOUNT", help="Only services this account owns.")
@format_option
def list_(lab: str, account: str | None, fmt: str) -> None:
    """List endpoint services (DescribeVpcEndpointServiceConfigurations)."""
    configs = api.describe_services(lab, account=account)
    if not as_json(fmt, {"ServiceConfigurations": configs}):
        table(f"endpoint services of lab {lab}", ["ServiceId", "Name", "Owner", "AcceptanceRequired", "AZs",
                                                  "ServiceName"],
              [(c["ServiceId"], c["Lab"]["Name"], c["Lab"]["OwnerId"], c["AcceptanceRequired"],
                ", ".join(c["AvailabilityZones"]), c["ServiceName"]) for c in configs])


@service.command()
@name_option
@click.argument("service_ref", metavar="SERVICE")
@click.option("--account", "-a", default=None, metavar="ACCOUNT",
              help="Act as this account: only the service's owner may see its connections.")
@format_option
def show(lab: str, service_ref: str, account: str | None, fmt: str) -> None:
    """Show a service: configuration, allowed principals and endpoint connections."""
    data = api.describe_service(lab, service_ref, account)
    if as_json(fmt, data):
        return
    config = data["ServiceConfiguration"]
    table(f"service {config['Lab']['Name']}", ["Field", "Value"],
          [("ServiceId", config["ServiceId"]), ("ServiceName", config["ServiceName"]),
           ("Owner", config["Lab"]["OwnerId"]), ("NLB", config["Lab"]["Nlb"]),
           ("AcceptanceRequired", config["AcceptanceRequired"]), ("AZs", ", ".join(config["AvailabilityZones"])),
           ("PrivateDnsName", config.get("PrivateDnsName", ""))]
          + [("Subscriber", n.get("Url") or " ".join(n["Command"])) for n in config["Lab"]["Notifications"]])
    table("Allowed principals", ["Principal", "Type"],
          [(p["Principal"], p["PrincipalType"]) for p in data["AllowedPrincipals"]])
    table("Endpoint connections", ["VpcEndpointId", "Owner", "State", "Created"],
          [(c["VpcEndpointId"], c["VpcEndpointOwner"], c["VpcEndpointState"], c["CreationTimestamp"])
           for c in data["VpcEndpointConnections"]])


def _permissions_command(verb: str, help_text: str):
    @service.command(verb, help=help_text)
    @name_option
    @click.argument("service_ref", metavar="SERVICE")
    @click.option("--account", "-a", required=True, metavar="ACCOUNT", help="Act as this account (the service owner).")
    @click.option("--principal", "-p", "principals", multiple=True, required=True, metavar="PRINCIPAL",
                  help="An IAM ARN (arn:aws:iam::222222222222:root), an account name or ID, or '*'. Repeatable.")
    @format_option
    def command(lab: str, service_ref: str, account: str, principals: tuple[str, ...], fmt: str) -> None:
        action = api.allow_principals if verb == "allow" else api.revoke_principals
        change = action(lab, account, service_ref, list(principals), progress)
        if as_json(fmt, {"ReturnValue": True, "AllowedPrincipals": change.principals}):
            return
        stdout.print(f"{verb}: allowed principals of {service_ref} are now: "
                     f"{', '.join(p['Principal'] for p in change.principals) or '(none)'}")

    return command


allow = _permissions_command("allow", "Allow principals to create endpoints to your service (provider).")
revoke = _permissions_command("revoke", "Revoke principals (provider); their existing endpoints stay, as on AWS.")


@service.command("cross-zone")
@name_option
@click.argument("service_ref", metavar="SERVICE")
@click.option("--account", "-a", required=True, metavar="ACCOUNT", help="Act as this account (the service owner).")
@click.option("--enable/--disable", "enabled", required=True, help="Cross-zone load balancing of the service's NLB.")
@format_option
def cross_zone(lab: str, service_ref: str, account: str, enabled: bool, fmt: str) -> None:
    """Turn cross-zone load balancing of the service's NLB on or off, live (off by default, as on AWS)."""
    change = api.set_cross_zone(lab, account, service_ref, enabled, progress)
    if fmt == "json":
        emit_json({"Attributes": [{"Key": "load_balancing.cross_zone.enabled", "Value": str(enabled).lower()}],
                   "Seconds": round(change.seconds, 3)})
        return
    stdout.print(f"cross-zone load balancing of {service_ref}'s NLB is now {'on' if enabled else 'off'} "
                 f"({change.seconds * 1000:.0f} ms)")


@service.command()
@name_option
@click.argument("service_ref", metavar="SERVICE")
@click.option("--account", "-a", required=True, metavar="ACCOUNT", help="Act as this account (the service owner).")
@click.option("--acceptance-required/--no-acceptance-required", "required", required=True,
              help="Whether new endpoints wait for the provider (pendingAcceptance) or are available at once.")
@format_option
def modify(lab: str, service_ref: str, account: str, required: bool, fmt: str) -> None:
    """Change whether the service requires acceptance (ModifyVpcEndpointServiceConfiguration)."""
    change = api.set_acceptance(lab, account, service_ref, required, progress)
    if as_json(fmt, {"ReturnValue": True, "AcceptanceRequired": required, "Seconds": round(change.seconds, 3)}):
        return
    stdout.print(f"{service_ref}: acceptance {'required' if required else 'not required'} for new endpoints")


@service.command()
@name_option
@click.option("--account", "-a", required=True, metavar="ACCOUNT", help="Act as this account (the NLB's owner).")
@click.option("--nlb", required=True, metavar="NLB", help="The load balancer to offer: its name or its ARN.")
@click.option("--service-name", "service_name", default=None, metavar="NAME",
              help="The lab's name for the service (default: NLB-svc); its AWS ID is derived from it.")
@click.option("--acceptance-required/--no-acceptance-required", "required", default=True, show_default=True,
              help="Whether new endpoints wait for the provider (pendingAcceptance) or are available at once.")
@click.option("--principal", "-p", "principals", multiple=True, metavar="PRINCIPAL",
              help="Allow this principal to connect (an IAM ARN, account name or ID, or '*'). Repeatable.")
@click.option("--supported-ip-address-type", "ip_types", multiple=True, metavar="TYPE",
              help="AWS's SupportedIpAddressTypes; the lab offers ipv4 only.")
@format_option
def create(lab: str, account: str, nlb: str, service_name: str | None, required: bool, principals: tuple[str, ...],
           ip_types: tuple[str, ...], fmt: str) -> None:
    """Offer an NLB as an endpoint service, live (CreateVpcEndpointServiceConfiguration)."""
    api.check_service_arguments(service_name, list(ip_types))
    change = api.create_service(lab, account, nlb, service_name, required, list(principals), list(ip_types), progress)
    (config,) = change.services
    if as_json(fmt, {"ServiceConfiguration": config, "Seconds": round(change.seconds, 3)}):
        return
    stdout.print(f"created service {config['Lab']['Name']} ({config['ServiceId']}) on {config['Lab']['Nlb']}: "
                 f"{config['ServiceName']}, acceptance {'required' if required else 'not required'}")


@service.command()
@name_option
@click.argument("service_refs", metavar="SERVICE...", nargs=-1, required=True)
@click.option("--account", "-a", required=True, metavar="ACCOUNT", help="Act as this account (the service owner).")
@format_option
def delete(lab: str, service_refs: tuple[str, ...], account: str, fmt: str) -> None:
    """Stop offering services (DeleteVpcEndpointServiceConfigurations); one with endpoints is refused."""
    change = api.delete_services(lab, account, list(service_refs), progress)
    unsuccessful = [{"ResourceId": name, "Error": {"Code": "ExistingVpcEndpointConnections", "Message": why}}
                    for name, why in change.refused.items()]
    if as_json(fmt, {"Unsuccessful": unsuccessful, "Deleted": [c["ServiceId"] for c in change.services]}):
        return
    for config in change.services:
        stdout.print(f"deleted service {config['Lab']['Name']} ({config['ServiceId']})")
    for item in unsuccessful:
        stdout.print(f"not deleted: {item['ResourceId']}: {item['Error']['Message']}")
