"""`lab events [--follow]`: the lab's endpoint connection events (Connect, Accept, Reject, Delete),
with how their delivery to subscribers went. `--follow` waits for new ones, bounded by `--timeout`.
`--deliveries` lists every delivery attempt instead (a retried delivery has one row per attempt)."""

from __future__ import annotations

import json
import sys

import click

from lab import api
from lab.cli.output import as_json, format_option, name_option, stdout, table
from lab.topology.errors import LabInputError


def _line(event: dict) -> str:
    return (f"{event['EventId']} {event['EventTime']} {event['ConnectionEvent']:<7} {event['VpcEndpointId']} "
            f"({event['Lab']['Endpoint']}) -> {_state(event)} by {event['Actor']}")


def _state(event: dict) -> str:
    """The endpoint's state after the event; an acceptance shows its steps (pending, then available) and when."""
    steps = event.get("Lab", {}).get("StateTransitions")
    if not steps:
        return event["VpcEndpointState"]
    return " -> ".join(f"{s['State']} ({s['Time'][11:23]})" for s in steps)


@click.command()
@name_option
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they come (until --timeout).")
@click.option("--timeout", type=click.FloatRange(0.1, 86400), default=60.0, show_default=True,
              help="With --follow: stop after this many seconds.")
@click.option("--count", type=click.IntRange(1), default=None, help="With --follow: stop after this many new events.")
@click.option("--deliveries", is_flag=True,
              help="Show every delivery attempt to subscribers (retries included) instead of the events.")
@format_option
def events(lab: str, follow: bool, timeout: float, count: int | None, deliveries: bool, fmt: str) -> None:
    """Show the connection events of a lab (JSON lines with --follow --format json)."""
    if deliveries:
        if follow:
            api.load_plan(lab)  # "no lab named X is up" first
            raise LabInputError("--deliveries", "cannot be combined with --follow", "drop one of the two")
        _show_deliveries(lab, api.deliveries(lab), fmt)
        return
    if follow:
        for event in api.follow_events(lab, timeout, count):
            if fmt == "json":
                sys.stdout.write(json.dumps(event) + "\n")
            else:
                stdout.print(_line(event))
            sys.stdout.flush()
        return
    found = api.events(lab)
    if as_json(fmt, {"Events": found}):
        return
    table(f"events of lab {lab}", ["EventId", "Time", "Event", "VpcEndpointId", "Endpoint", "State", "Actor", "Delivered"],
          [(e["EventId"], e["EventTime"], e["ConnectionEvent"], e["VpcEndpointId"], e["Lab"]["Endpoint"],
            _state(e), e["Actor"],
            _delivered(e["Deliveries"])) for e in found])


def _delivered(attempts: list[dict]) -> str:
    """Subscribers reached / subscribers, counting each delivery once (its final attempt)."""
    final = [d for d in attempts if d.get("Final", True)]
    return f"{sum(d['Ok'] for d in final)}/{len(final)}" if final else "-"


def _show_deliveries(lab: str, attempts: list[dict], fmt: str) -> None:
    if as_json(fmt, {"Deliveries": attempts}):
        return
    table(f"notification deliveries of lab {lab}",
          ["EventId", "Event", "Subscriber", "Type", "Attempt", "Outcome", "Detail", "Seconds"],
          [(d["EventId"], d["ConnectionEvent"], subscriber_label(d), d["Type"],
            f"{d.get('Attempt', 1)}/{d.get('MaxAttempts', 1)}",
            ("ok" if d["Ok"] else "failed") + ("" if d.get("Final", True) else f", retry in {d.get('RetryIn', 0)} s"),
            d.get("Detail", ""), f"{d.get('Seconds', 0):.3f}") for d in attempts])  # times: --format json


def subscriber_label(d: dict) -> str:
    if d.get("Side") == "endpoint":
        return f"endpoint {d.get('Endpoint')} #{d['Subscriber']}"
    return f"service {d['Service']} #{d['Subscriber']}"
