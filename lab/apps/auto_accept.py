"""Auto-accept endpoint connections from an allow-list of accounts: the talk's "Lambda" pattern.

On AWS, the endpoint service publishes connection events to an SNS topic and a Lambda function,
subscribed to it, accepts the requests of known customers. Here the lab runs this module as a
subscriber of the service (topology: `notifications: [{command: [python3, -m, lab.apps.auto_accept,
--allow, ...]}]`), with ONE event as JSON on stdin. For a Connect event of an endpoint still in
pendingAcceptance whose owner is allowed, it calls `lab endpoint accept` as the service's owner;
anything else it leaves alone. It prints one JSON line saying what it decided, and why.

The lab sets LAB_NAME (the lab), LAB_CLI (how to run `lab`) and LAB_ACCOUNT (the service owner);
`--lab`/`--lab-cli`/`--account` override them. Only the standard library is needed.

It ships inside the package, so a built-in topology that runs it works from an installed wheel as
well as from a checkout (the lab puts its own interpreter's directory first on a subscriber's PATH,
so `python3` there is the one that has `lab`; see lab.privatelink.notify).

    echo '{"ConnectionEvent": "Connect", ...}' | python3 -m lab.apps.auto_accept --allow 222222222222
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys

ACCEPT_TIMEOUT_S = 60


def decide(event: dict, allowed: set[str]) -> tuple[bool, str]:
    """Whether to accept this event's endpoint, and why (pure: unit-tested)."""
    if event.get("ConnectionEvent") != "Connect":
        return False, f"ignored: a {event.get('ConnectionEvent')!r} event"
    if event.get("VpcEndpointState") != "pendingAcceptance":
        return False, f"ignored: endpoint is {event.get('VpcEndpointState')!r}, not pendingAcceptance"
    owner = str(event.get("VpcEndpointOwner", ""))
    if owner not in allowed:
        return False, f"left pending: owner {owner} is not on the allow-list"
    return True, f"accepting: owner {owner} is on the allow-list"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allow", action="append", default=[], metavar="ACCOUNT_ID",
                        help="a 12-digit account ID whose endpoints are accepted (repeatable)")
    parser.add_argument("--lab", default=os.environ.get("LAB_NAME", "default"))
    parser.add_argument("--lab-cli", default=os.environ.get("LAB_CLI", "lab"))
    parser.add_argument("--account", default=os.environ.get("LAB_ACCOUNT"),
                        help="the account to accept as (the service owner); default: the event's ServiceOwner")
    args = parser.parse_args(argv)
    try:
        event = json.load(sys.stdin)
    except ValueError as err:
        print(json.dumps({"decision": "error", "reason": f"stdin is not one JSON event: {err}"}))
        return 2
    accept, reason = decide(event, set(args.allow))
    report = {"event": event.get("EventId"), "endpoint": event.get("VpcEndpointId"), "accept": accept,
              "reason": reason}
    if not accept:
        print(json.dumps(report))
        return 0
    account = args.account or event.get("ServiceOwner")
    command = shlex.split(args.lab_cli) + ["endpoint", "accept", "--name", args.lab, "--account", account,
                                           "--format", "json", event["VpcEndpointId"]]
    done = subprocess.run(command, capture_output=True, text=True, timeout=ACCEPT_TIMEOUT_S, check=False)
    report["exit"] = done.returncode
    if done.returncode == 0:
        report["state"] = json.loads(done.stdout)["VpcEndpoints"][0]["State"]
    else:
        report["error"] = (done.stderr.strip().splitlines() or [""])[-1]
    print(json.dumps(report))
    return 0 if done.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
