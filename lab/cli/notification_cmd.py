"""`lab notification create|list|delete`: connection notifications at run time.

AWS's CreateVpcEndpointConnectionNotification, DescribeVpcEndpointConnectionNotifications and
DeleteVpcEndpointConnectionNotifications, with the lab's kinds of subscriber: a command run on the
host with the event JSON on stdin (like a Lambda), or a webhook POSTed from inside the lab. The
service's owner subscribes to its service's events, an endpoint's owner to its endpoint's.
"""

from __future__ import annotations

import shlex

import click

from lab import api
from lab.cli.output import as_json, format_option, name_option, progress, stdout, table
from lab.topology.errors import LabInputError


@click.group()
def notification() -> None:
    """Connection notifications (Connect, Accept, Reject, Delete): subscribe, list, delete."""


def _rows(items: list[dict]) -> list[tuple]:
    return [(n["ConnectionNotificationId"], f"{n['Lab']['On']} {n['Lab']['Name']}", n["Lab"]["OwnerId"],
             ",".join(n["ConnectionEvents"]),
             shlex.join(n["Lab"]["Command"]) if n["Lab"]["Type"] == "command"
             else f"POST {n['Lab']['Url']} from {n['Lab']['From'] or 'the owner'}") for n in items]


def _events(text: str) -> list[str]:
    wanted = [e.strip() for e in text.split(",") if e.strip()]
    bad = [e for e in wanted if e not in api.CONNECTION_EVENTS]
    if bad or not wanted:
        raise LabInputError("--events", f"{text!r} is not a list of connection events",
                            f"use a comma-separated subset of {','.join(api.CONNECTION_EVENTS)}")
    return wanted


@notification.command()
@name_option
@click.option("--account", "-a", required=True, metavar="ACCOUNT",
              help="Act as this account: the service's owner (--service) or the endpoint's owner (--endpoint).")
@click.option("--service", default=None, help="Subscribe to this service's connections (name or vpce-svc- ID).")
@click.option("--endpoint", default=None, help="Subscribe to this endpoint's connection (name or vpce- ID).")
@click.option("--command", "command", default=None,
              help="Run this on the host per event, the event JSON on stdin (split like a shell would).")
@click.option("--webhook", default=None, help="POST each event to this URL, from inside the lab (see --from).")
@click.option("--from", "from_", default=None, metavar="INSTANCE_OR_VPC",
              help="Where a webhook is sent from (an instance or VPC of the subscribing account).")
@click.option("--events", default=",".join(api.CONNECTION_EVENTS), show_default=True,
              help="Comma-separated connection events to deliver.")
@click.option("--timeout", type=int, default=None, help="Seconds one delivery may take (1-300; default 30).")
@click.option("--attempts", type=int, default=None, help="Deliveries tried before giving up (1-5; default 3).")
@format_option
def create(lab: str, account: str, service: str | None, endpoint: str | None, command: str | None,
           webhook: str | None, from_: str | None, events: str, timeout: int | None, attempts: int | None,
           fmt: str) -> None:
    """Subscribe a command or a webhook to connection events (CreateVpcEndpointConnectionNotification)."""
    if (service is None) == (endpoint is None):
        raise LabInputError("--service/--endpoint", "name exactly one of them", "e.g. --service web-service")
    if (command is None) == (webhook is None):
        raise LabInputError("--command/--webhook", "give exactly one kind of subscriber",
                            "e.g. --command 'python3 handler.py' or --webhook http://10.0.1.20:9000/")
    if from_ is not None and webhook is None:
        raise LabInputError("--from", "only a webhook is sent from somewhere", "drop --from, or use --webhook")
    subscriber: dict = {"events": _events(events)}
    if command is not None:
        argv = shlex.split(command)
        if not argv:
            raise LabInputError("--command", "is empty", "give the program to run, e.g. --command 'python3 h.py'")
        subscriber["command"] = argv
    else:
        subscriber["webhook"] = webhook
        if from_ is not None:
            subscriber["from"] = from_
    for key, value in (("timeout", timeout), ("attempts", attempts)):
        if value is not None:
            subscriber[key] = value
    created, seconds = api.create_notification(lab, account, subscriber, service=service, endpoint=endpoint,
                                               progress=progress)
    if as_json(fmt, {"ConnectionNotification": created, "Seconds": round(seconds, 3)}):
        return
    table(f"subscribed in {seconds * 1000:.0f} ms", ["ConnectionNotificationId", "On", "Owner", "Events", "Delivers"],
          _rows([created]))


@notification.command("list")
@name_option
@click.option("--account", "-a", default=None, metavar="ACCOUNT", help="Show only this account's subscriptions.")
@format_option
def list_(lab: str, account: str | None, fmt: str) -> None:
    """Every subscription of the lab, from its topology and the commands above (Describe...Notifications)."""
    items = api.describe_notifications(lab, account)
    if not as_json(fmt, {"ConnectionNotificationSet": items}):
        table(f"{len(items)} connection notification(s)", ["ConnectionNotificationId", "On", "Owner", "Events",
                                                           "Delivers"], _rows(items))


@notification.command()
@name_option
@click.option("--account", "-a", required=True, metavar="ACCOUNT", help="Act as this account (the owner).")
@click.argument("ids", nargs=-1, required=True, metavar="CONNECTION_NOTIFICATION_ID...")
@format_option
def delete(lab: str, account: str, ids: tuple[str, ...], fmt: str) -> None:
    """Delete subscriptions by ID: all of them, or none if one is unknown or not yours."""
    removed, seconds = api.delete_notifications(lab, account, list(ids), progress)
    if as_json(fmt, {"Unsuccessful": [], "Deleted": removed, "Seconds": round(seconds, 3)}):
        return
    stdout.print(f"deleted {len(removed)} connection notification(s) in {seconds * 1000:.0f} ms: "
                 + ", ".join(n["ConnectionNotificationId"] for n in removed))
