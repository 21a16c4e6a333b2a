"""`lab target register|deregister|health|list|set-delay`: an NLB's targets, live, as AWS's ELB API has them.

RegisterTargets, DeregisterTargets (with the target group's deregistration delay: open connections
go on, no new connection reaches the target), DescribeTargetHealth and ModifyTargetGroupAttributes'
deregistration_delay.timeout_seconds (`set-delay`), with AWS's field names in
`--format json` (TargetHealthDescriptions). TARGET: an instance of the NLB's VPC by name, instance
ID or private IP.
"""

from __future__ import annotations

import click

from lab import api
from lab.cli.output import emit_json, format_option, name_option, progress, stdout, table

group_option = click.option("--target-group", "target_group", required=True, metavar="TARGET_GROUP",
                            help="The target group (its name in the topology, or its ARN).")
port_option = click.option("--port", type=click.IntRange(1, 65535), default=None,
                           help="The targets' port (default and only choice: the target group's port).")
account_option = click.option("--account", "-a", default=None, metavar="ACCOUNT",
                              help="Act as this account (default: the load balancer's owner).")
targets_argument = click.argument("targets", nargs=-1, required=True, metavar="TARGET...")


@click.group()
def target() -> None:
    """An NLB's targets: register, deregister (connection draining), health, list, set-delay."""


def _rows(descriptions: list[dict]) -> list[tuple]:
    return [(d["Lab"]["TargetGroup"], f"{d['Lab']['Instance']} ({d['Target']['Id']})", d["Target"]["Port"],
             d["Target"]["AvailabilityZone"], d["TargetHealth"]["State"], d["TargetHealth"].get("Reason", ""),
             d["Lab"].get("DrainingUntil", ""),
             ", ".join(f"{n['Node'].rsplit('.', 1)[-1]}: {n.get('Status', '-')}/{n.get('CheckStatus', '-')}"
                       for n in d["Lab"]["Nodes"]))
            for d in descriptions]


COLUMNS = ["TargetGroup", "Target", "Port", "AZ", "State", "Reason", "Draining until", "HAProxy (status/check)"]


def _show(change, fmt: str) -> None:
    if fmt == "json":
        emit_json({"TargetGroupArn": change.target_group_arn, "TargetHealthDescriptions": change.descriptions,
                   "Seconds": round(change.seconds, 3),
                   "Lab": {"ReconcileSeconds": {k: round(v, 4) for k, v in change.reconcile_seconds.items()}}})
        return
    table(f"{change.action}: {len(change.descriptions)} target(s) in {change.seconds * 1000:.0f} ms",
          COLUMNS, _rows(change.descriptions))


@target.command()
@name_option
@group_option
@targets_argument
@port_option
@account_option
@format_option
def register(lab: str, target_group: str, targets: tuple[str, ...], port: int | None, account: str | None,
             fmt: str) -> None:
    """Register TARGETs with a target group (RegisterTargets): state initial, then healthy or unhealthy."""
    _show(api.register_targets(lab, target_group, list(targets), port, account, progress), fmt)


@target.command()
@name_option
@group_option
@targets_argument
@port_option
@account_option
@click.option("--wait", is_flag=True, help="Return once the deregistration delay is over and the targets are gone.")
@format_option
def deregister(lab: str, target_group: str, targets: tuple[str, ...], port: int | None, account: str | None,
               wait: bool, fmt: str) -> None:
    """Deregister TARGETs (DeregisterTargets): draining for the group's deregistration delay, then gone."""
    _show(api.deregister_targets(lab, target_group, list(targets), port, account, wait, progress), fmt)


@target.command()
@name_option
@group_option
@click.argument("targets", nargs=-1, metavar="[TARGET...]")
@format_option
def health(lab: str, target_group: str, targets: tuple[str, ...], fmt: str) -> None:
    """One target group's targets and their health (DescribeTargetHealth); TARGETs: only those."""
    found = api.target_health(lab, target_group, list(targets))
    if fmt == "json":
        emit_json({"TargetHealthDescriptions": found})
        return
    table(f"target health of {target_group} in lab {lab}", COLUMNS, _rows(found))


@target.command("list")
@name_option
@format_option
def list_(lab: str, fmt: str) -> None:
    """Every target group's targets and their health."""
    found = api.target_health(lab)
    if fmt == "json":
        emit_json({"TargetHealthDescriptions": found})
        return
    if not found:
        stdout.print(f"no target is registered in lab {lab!r}; try `lab target register --target-group TG TARGET`")
        return
    table(f"targets of lab {lab}", COLUMNS, _rows(found))


@target.command("set-delay")
@name_option
@group_option
@click.argument("seconds", type=click.IntRange(0, 3600), metavar="SECONDS")
@account_option
@format_option
def set_delay(lab: str, target_group: str, seconds: int, account: str | None, fmt: str) -> None:
    """Set the group's deregistration delay (ModifyTargetGroupAttributes deregistration_delay.timeout_seconds)."""
    result = api.set_deregistration_delay(lab, target_group, seconds, account, progress)
    if fmt == "json":
        emit_json(result)
        return
    stdout.print(f"{target_group}: deregistration_delay.timeout_seconds = {seconds} (for deregistrations from now on)")
