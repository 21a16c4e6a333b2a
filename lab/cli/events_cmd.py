"""`lab events [--follow]`: the lab's endpoint connection events (Connect, Accept, Reject, Delete),
with how their delivery to subscribers went. `--follow` waits for new ones, bounded by `--timeout`."""

from __future__ import annotations

import json
import sys

import click

from lab.cli.output import emit_json, format_option, name_option, stdout, table


def _line(event: dict) -> str:
    return (f"{event['EventId']} {event['EventTime']} {event['ConnectionEvent']:<7} {event['VpcEndpointId']} "
            f"({event['Lab']['Endpoint']}) -> {event['VpcEndpointState']} by {event['Actor']}")


@click.command()
@name_option
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they come (until --timeout).")
@click.option("--timeout", type=click.FloatRange(0.1, 86400), default=60.0, show_default=True,
              help="With --follow: stop after this many seconds.")
@click.option("--count", type=click.IntRange(1), default=None, help="With --follow: stop after this many new events.")
@format_option
def events(lab: str, follow: bool, timeout: float, count: int | None, fmt: str) -> None:
    """Show the connection events of a lab (JSON lines with --follow --format json)."""
    from lab.privatelink.records import DeliveryLog, EventLog
    from lab.state.store import LabState

    state = LabState(lab)
    state.load_plan()  # "no lab named X is up" as bad input
    log = EventLog(state)
    if follow:
        for event in log.follow(len(log.read()), timeout, count):
            if fmt == "json":
                sys.stdout.write(json.dumps(event) + "\n")
            else:
                stdout.print(_line(event))
            sys.stdout.flush()
        return
    deliveries: dict[str, list[dict]] = {}
    for d in DeliveryLog(state).read():
        deliveries.setdefault(d["EventId"], []).append(d)
    found = [{**e, "Deliveries": deliveries.get(e["EventId"], [])} for e in log.read()]
    if fmt == "json":
        emit_json({"Events": found})
        return
    table(f"events of lab {lab}", ["EventId", "Time", "Event", "VpcEndpointId", "Endpoint", "State", "Actor", "Delivered"],
          [(e["EventId"], e["EventTime"], e["ConnectionEvent"], e["VpcEndpointId"], e["Lab"]["Endpoint"],
            e["VpcEndpointState"], e["Actor"],
            f"{sum(d['Ok'] for d in e['Deliveries'])}/{len(e['Deliveries'])}" if e["Deliveries"] else "-")
           for e in found])
