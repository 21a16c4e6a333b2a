"""Deliver connection events to the subscribers a service declares (AWS: SNS topic -> Lambda / HTTP).

- command: run on the host, in the root namespace (it is the provider's automation, like a Lambda,
  and acts through `lab`), with the event JSON on stdin, a bounded timeout, its working directory at
  the project's root (so `examples/...` paths work) and these variables:
  LAB_NAME (the lab), LAB_CLI (how to run `lab`), LAB_ACCOUNT (the service owner it acts for),
  LAB_EVENT_ID. Its output goes to the lab's logs/notifications/<event>-<n>.log.
- webhook: an HTTP POST of the event JSON sent from INSIDE the lab, from the namespace of the
  subscriber's `from` (an instance or a VPC's router), to an address the topology rules have
  checked lies in that VPC. The lab's namespaces have no route out, so it cannot go anywhere else.
One attempt per event and subscriber; every attempt is a line in deliveries.jsonl.
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from lab.apply import netns
from lab.apply.context import Progress
from lab.privatelink.records import DeliveryLog, timestamp
from lab.state.store import LabState
from lab.topology.model import Subscriber

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def lab_cli() -> str:
    """How a subscriber runs `lab`: this very interpreter and package, whatever PATH says."""
    return f"{shlex.quote(sys.executable)} -m lab.cli.main"


def deliver(state: LabState, view, events: list[dict], progress: Progress) -> list[dict]:
    results = []
    log = DeliveryLog(state)
    for event, svc, index, sub in _queue(events, {s.name: s for s in view.topo.endpoint_services}):
        t0 = time.perf_counter()
        outcome = _run_command(state, sub, event, index) if sub.command is not None else \
            _post_webhook(view.plan, sub, event)
        result = {"EventId": event["EventId"], "ConnectionEvent": event["ConnectionEvent"],
                  "Service": svc.name, "Subscriber": index, "Type": "command" if sub.command else "webhook",
                  "Time": timestamp(), "Seconds": round(time.perf_counter() - t0, 3), **outcome}
        log.append(result)
        results.append(result)
        if not result["Ok"]:
            progress(f"notification {event['EventId']} ({event['ConnectionEvent']}) to {svc.name}'s subscriber "
                     f"{index} failed: {result['Detail']}")
    return results


def _queue(events: list[dict], services: dict) -> list[tuple]:
    """(event, service, subscriber index, subscriber), webhooks first for every event, then commands.

    A command may act at once (the auto-accept accepts) and the events of that action are delivered
    inside it; delivering webhooks first keeps each endpoint's events in order there (Connect, then
    its Accept)."""
    webhooks, commands = [], []
    for event in events:
        svc = services.get(event["Lab"]["Service"])
        for index, sub in enumerate(svc.notifications if svc else []):
            if event["ConnectionEvent"] in sub.events:
                (commands if sub.command is not None else webhooks).append((event, svc, index, sub))
    return webhooks + commands


def _run_command(state: LabState, sub: Subscriber, event: dict, index: int) -> dict:
    log_dir = state.log_dir() / "notifications"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{event['EventId']}-{index}.log"
    env = {**os.environ, "LAB_NAME": state.lab, "LAB_CLI": lab_cli(), "LAB_ACCOUNT": event["ServiceOwner"],
           "LAB_EVENT_ID": event["EventId"]}
    with open(log_path, "ab") as out:
        try:
            proc = subprocess.Popen(  # noqa: S603 - the topology's own command, as the provider wrote it
                list(sub.command), stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
                env=env, start_new_session=True,
            )
        except OSError as err:
            return {"Ok": False, "Detail": f"could not run {sub.command[0]!r}: {err.strerror}", "Log": str(log_path)}
        try:
            proc.communicate(json.dumps(event).encode(), timeout=sub.timeout)
        except subprocess.TimeoutExpired:
            # Its own session: this ends it and whatever it started (e.g. a `lab` it was waiting for).
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return {"Ok": False, "Detail": f"timed out after {sub.timeout} s (killed)", "Log": str(log_path)}
    ok = proc.returncode == 0
    return {"Ok": ok, "Detail": f"exit {proc.returncode}", "ExitCode": proc.returncode, "Log": str(log_path)}


def namespace_of(plan: dict, name: str) -> str | None:
    """The namespace of an instance, or of a VPC's router, by name."""
    inv = plan.get("inventory", {})
    for item in inv.get("instances", []) + inv.get("vpcs", []):
        if item["Name"] == name:
            return item["Netns"]
    return None


def _post_webhook(plan: dict, sub: Subscriber, event: dict) -> dict:
    url = urlsplit(sub.webhook)
    ns = namespace_of(plan, sub.from_)
    if ns is None:
        return {"Ok": False, "Detail": f"no instance or VPC {sub.from_!r} to send from"}
    body = json.dumps(event).encode()
    headers = {"Content-Type": "application/json", "X-Lab-Event-Id": event["EventId"],
               "X-Lab-Connection-Event": event["ConnectionEvent"]}
    try:
        # The whole exchange runs inside the lab namespace: the socket is born there and stays there.
        with netns.entered(netns.netns_path(ns)):
            conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=sub.timeout)
            try:
                conn.request("POST", url.path or "/", body=body, headers=headers)
                status = conn.getresponse().status
            finally:
                conn.close()
    except (OSError, http.client.HTTPException) as err:
        return {"Ok": False, "Detail": f"POST {sub.webhook} from {sub.from_}: {err}"}
    return {"Ok": 200 <= status < 300, "Detail": f"HTTP {status}", "HttpStatus": status}
