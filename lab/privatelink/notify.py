"""Deliver connection events to the subscribers a service declares (AWS: SNS topic -> Lambda / HTTP).

- command: run on the host, in the root namespace (it is the provider's automation, like a Lambda,
  and acts through `lab`), with the event JSON on stdin, a bounded timeout, its working directory at
  the project's root in a checkout (so `examples/...` paths work), else where `lab` was run, and
  these variables: LAB_NAME (the lab), LAB_CLI (how to run `lab`), LAB_ACCOUNT (the service owner it
  acts for), LAB_EVENT_ID. PATH starts with the directory of the lab's own interpreter, so `python3`
  and `lab` in a command are the lab's (the ones that have its package, e.g. the venv's, even under
  `sudo`'s PATH): `[python3, -m, lab.apps.auto_accept, ...]` works from an installed wheel.
  Its output goes to the lab's logs/notifications/<event>-<n>.log.
- webhook: an HTTP POST of the event JSON sent from INSIDE the lab, from the namespace of the
  subscriber's `from` (an instance or a VPC's router), to an address the topology rules have
  checked lies in that VPC. The lab's namespaces have no route out, so it cannot go anywhere else.
Subscribers are the service's (the provider's, AWS: a notification on the endpoint service) and the
endpoint's own (the consumer's, AWS: a notification on the VPC endpoint); a command of the consumer
acts for the endpoint owner (LAB_ACCOUNT). A failed delivery is retried (lab.privatelink.retry,
bounded in count and time); every attempt is a line in deliveries.jsonl.
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
from typing import NamedTuple
from urllib.parse import urlsplit

from lab.apply import netns
from lab.apply.context import Progress
from lab.privatelink import retry
from lab.privatelink.records import DeliveryLog, timestamp
from lab.state.store import LabState
from lab.topology.model import Subscriber

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def lab_cli() -> str:
    """How a subscriber runs `lab`: this very interpreter and package, whatever PATH says."""
    return f"{shlex.quote(sys.executable)} -m lab.cli.main"


def subscriber_path() -> str:
    """PATH for a command: the lab's interpreter's directory first (a venv's bin/ has python3 and
    lab), then the caller's PATH."""
    rest = os.environ.get("PATH", os.defpath)
    return os.pathsep.join([os.path.dirname(sys.executable), rest]) if sys.executable else rest


def subscriber_cwd() -> Path:
    """A checkout's root, where a topology's relative `examples/...` paths point; installed (no
    checkout around the package: PROJECT_ROOT is site-packages), the directory `lab` was run in."""
    if (PROJECT_ROOT / "pyproject.toml").is_file():
        return PROJECT_ROOT
    try:
        return Path.cwd()
    except FileNotFoundError:  # run from a directory since deleted
        return Path("/")


class Source(NamedTuple):
    """Whose subscriber it is: a service's (the provider's) or an endpoint's (the consumer's)."""

    side: str  # "service" | "endpoint"
    name: str


class Delivery(NamedTuple):
    event: dict
    source: Source
    index: int
    sub: Subscriber


def deliver(state: LabState, view, events: list[dict], progress: Progress) -> list[dict]:
    """Hand every event to its subscribers, retrying failures; returns the final outcome of each
    (event, subscriber), with the number of attempts it took. Never raises for a subscriber's failure."""
    results = []
    log = DeliveryLog(state)
    for item in _queue(events, {s.name: s for s in view.topo.endpoint_services}, _endpoint_subscribers(view)):
        event, source, index, sub = item
        policy = retry.RetryPolicy(attempts=sub.attempts)
        base = {"EventId": event["EventId"], "ConnectionEvent": event["ConnectionEvent"],
                "Service": event["Lab"]["Service"], "Side": source.side, "Subscriber": index,
                "Type": "command" if sub.command is not None else "webhook", "MaxAttempts": policy.attempts}
        if source.side == "endpoint":
            base["Endpoint"] = source.name

        def attempt(n: int, item: Delivery = item, base: dict = base) -> dict:
            t0 = time.perf_counter()
            outcome = _run_command(state, item, n) if item.sub.command is not None else \
                _post_webhook(view.plan, item.sub, item.event)
            return {**base, "Time": timestamp(), "Seconds": round(time.perf_counter() - t0, 3), **outcome}

        # Each attempt is logged as soon as it is decided: a crash mid-retry still leaves its trace.
        outcomes = retry.run(attempt, policy, sub.timeout, record=log.append)
        final = outcomes[-1]
        results.append(final)
        if not final["Ok"]:
            progress(f"notification {event['EventId']} ({event['ConnectionEvent']}) to {source.side} {source.name}'s "
                     f"subscriber {index} failed after {len(outcomes)} attempt(s): {final['Detail']}")
    return results


def _endpoint_subscribers(view) -> dict[str, list[Subscriber]]:
    """The consumers' subscribers by endpoint name: live endpoints', and those kept for endpoints
    deleted by this command (their Delete is delivered after the topology lost them)."""
    found = {ep.name: list(ep.notifications) for ep in view.topo.endpoints}
    record = getattr(view, "record", None)
    for name, subs in (record.kept_subscribers() if record is not None else {}).items():
        found.setdefault(name, [Subscriber.model_validate(s) for s in subs])
    return found


def _queue(events: list[dict], services: dict, endpoints: dict | None = None) -> list[Delivery]:
    """(event, source, subscriber index, subscriber), webhooks first for every event, then commands;
    per event the service's subscribers, then the endpoint's.

    A command may act at once (the auto-accept accepts) and the events of that action are delivered
    inside it; delivering webhooks first keeps each endpoint's events in order there (Connect, then
    its Accept)."""
    webhooks, commands = [], []
    for event in events:
        svc = services.get(event["Lab"]["Service"])
        endpoint = event["Lab"]["Endpoint"]
        sources = [(Source("service", svc.name), svc.notifications)] if svc else []
        sources.append((Source("endpoint", endpoint), (endpoints or {}).get(endpoint, [])))
        for source, subs in sources:
            for index, sub in enumerate(subs):
                if event["ConnectionEvent"] in sub.events:
                    (commands if sub.command is not None else webhooks).append(Delivery(event, source, index, sub))
    return webhooks + commands


def _run_command(state: LabState, item: Delivery, attempt: int = 1) -> dict:
    event, source, index, sub = item
    log_dir = state.log_dir() / "notifications"
    log_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{index}" if source.side == "service" else f"endpoint-{index}"
    log_path = log_dir / f"{event['EventId']}-{tag}.log"
    # The provider's automation acts for the service owner, the consumer's for the endpoint owner.
    account = event["ServiceOwner"] if source.side == "service" else event["VpcEndpointOwner"]
    env = {**os.environ, "PATH": subscriber_path(), "LAB_NAME": state.lab, "LAB_CLI": lab_cli(),
           "LAB_ACCOUNT": account, "LAB_EVENT_ID": event["EventId"], "LAB_ATTEMPT": str(attempt)}
    if attempt > 1:
        with open(log_path, "ab") as out:
            out.write(f"--- attempt {attempt} ---\n".encode())
    with open(log_path, "ab") as out:
        try:
            proc = subprocess.Popen(  # noqa: S603 - the topology's own command, as the provider wrote it
                list(sub.command), stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, cwd=subscriber_cwd(),
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
