"""`lab up`, `lab down`, `lab status`, `lab list`."""

from __future__ import annotations

import os
import time

import click

from lab import api
from lab.cli.output import activity, as_json, format_option, name_option, progress, stdout
from lab.topology.errors import LabInputError


@click.command()
@click.option("-t", "--topology", "topology_ref", metavar="FILE", default=None,
              help="Topology YAML file, or the name of a built-in one (default: basic).")
@name_option
@format_option
def up(topology_ref: str | None, lab: str, fmt: str) -> None:
    """Bring up a lab: VPC namespaces, subnets, instances, NLB node containers and endpoints.

    Ctrl-C before the lab is up rolls it back and exits 130; once the lab is up, Ctrl-C leaves it
    up and `lab up` reports it as up, exit 0. So exit 0 always means "the lab is up".
    """
    from lab.interrupts import sigint_guard

    # The guard main() installed: once bring-up is past its last step, a Ctrl-C is only counted,
    # here while the report is printed too.
    with sigint_guard() as guard:
        with activity(f"bringing up lab {lab!r}", fmt == "text") as report:
            result = api.up(topology_ref, lab, report)
        _report(api, result, lab, fmt)
        if guard.pending:
            progress(f"interrupted after the lab was up: lab {lab!r} is up and left up "
                     f"(`lab down{_name_flag(lab)}` removes it)")


def _report(api, result, lab: str, fmt: str) -> None:
    # The saved plan, not the one we built: the service's subscribers (an auto-accept function) may
    # already have changed endpoint states during bring-up.
    plan = api.load_plan(lab)
    summary = {"lab": lab, "topology": str(result.topology), "seconds": round(result.seconds, 3),
               "image": result.image_source,
               "steps_ms": {k: round(v * 1000, 1) for k, v in result.steps_s.items()},
               "endpoints": [_endpoint_summary(ep) for ep in plan["endpoints"]]}
    if as_json(fmt, summary):
        return
    stdout.print(f"lab {lab!r} is up in {result.seconds:.2f} s")
    for ep in summary["endpoints"]:
        enis = ", ".join(f"{e['PrivateIpAddress']} ({e['AvailabilityZone']})" for e in ep["Lab"]["Enis"])
        stdout.print(f"  endpoint {ep['VpcEndpointId']} ({ep['State']}) ENIs: {enis}")
    client = next((i for i in plan["inventory"].get("instances", []) if not i.get("App")), None)
    eni = next((e["PrivateIpAddress"] for ep in summary["endpoints"] for e in ep["Lab"]["Enis"]), None)
    if client and eni:
        stdout.print(f"try: sudo lab exec{_name_flag(lab)} {client['Name']} -- curl -s http://{eni}/")


def _name_flag(lab: str) -> str:
    return "" if lab == "default" else f" --name {lab}"


def _endpoint_summary(ep: dict) -> dict:
    """AWS's names for the endpoint; its name and ENI addresses are the lab's own facts (`Lab`)."""
    return {"VpcEndpointId": ep["id"], "State": ep["state"],
            "Lab": {"Name": ep["name"], "Enis": [{"PrivateIpAddress": e["ip"], "AvailabilityZone": e["az"]}
                                                 for e in ep["enis"]]}}


@click.command()
@name_option
@format_option
def down(lab: str, fmt: str) -> None:
    """Remove exactly what a lab created (safe to repeat; works after a crash)."""
    if os.geteuid() != 0:
        raise LabInputError("lab down", "needs root", "run it with sudo")
    t0 = time.perf_counter()
    with activity(f"taking lab {lab!r} down", fmt == "text") as report:
        result = api.down(lab, report)
    report = {"lab": lab, "found": result.found, "removed": result.removed,
              "foreign_processes": result.foreign_processes}
    if not result.found:  # a misspelt name: say which labs are up, in JSON as in text
        report["labs_up"] = api.list_labs()
    from lab.api import labs_up_text

    # Not up is not an error (down is idempotent), but a misspelt name must not look like success.
    msg = f"lab {lab!r} is down" if result.found else f"lab {lab!r} is not up; nothing to remove; {labs_up_text()}"
    report["seconds"] = round(time.perf_counter() - t0, 3)
    if not as_json(fmt, report):
        stdout.print(f"{msg} ({report['seconds']:.2f} s)")


@click.command("list")
@format_option
def list_labs(fmt: str) -> None:
    """List the labs that are up on this machine."""
    names = api.list_labs()
    if not as_json(fmt, names):
        stdout.print("\n".join(names) if names else "no labs are up")


@click.command()
@name_option
@format_option
def status(lab: str, fmt: str) -> None:
    """Show a lab's VPCs, instances, endpoint ENIs, NLB nodes and target health."""
    from lab.cli.status_view import render

    data = api.status(lab)
    if not as_json(fmt, data):
        render(data)
