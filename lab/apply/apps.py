"""The programs `app:` instances run (demo targets, webhook receivers): start them, wait for them.

One place builds their command line, so `lab up` and `lab az recover` (which restarts an AZ's
targets under the tokens `lab up` journaled) start exactly the same thing. A demo target's ports
and tenant table go in a JSON file in the lab's state folder, not on the command line, where
every user of the machine could read the tenants' API tokens.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from lab.apply import netns, processes
from lab.apply.context import ApplyContext
from lab.plan.model import App

# The program behind each `app:` an instance may run.
APP_MODULES = {"demo-target": "lab.apps.target", "webhook-receiver": "lab.apps.webhook_receiver"}
START_TIMEOUT_S = 10.0


def config_file(ctx: ApplyContext, app: App) -> Path:
    return ctx.state.dir / "apps" / f"{app.instance}.json"


def argv(ctx: ApplyContext, app: App, token: str, program: list[str] | None = None) -> list[str]:
    """The command line of an app; `program` replaces `python -m MODULE` (tests run variants)."""
    out = (program or [sys.executable, "-m", APP_MODULES[app.kind]]) + [
        "--name", app.instance, "--az", app.az, "--port", str(app.port), "--owner-token", token]
    if app.kind == "demo-target" and app.ports:
        path = config_file(ctx, app)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"ports": list(app.ports), "ppv2_ports": list(app.ppv2_ports),
                                    "tenancy": app.tenancy, "tenants": [list(t) for t in app.tenants]}))
        path.chmod(0o600)
        out += ["--config", str(path)]
    return out


def listen_ports(app: App) -> tuple[int, ...]:
    return app.ports or (app.port,)


def start(ctx: ApplyContext, apps: list[tuple[App, str]], program: list[str] | None = None) -> None:
    """Start each (app, owner token) in its instance's namespace; wait until all their ports listen."""
    started = []
    for app, token in apps:
        pid = processes.spawn(argv(ctx, app, token, program), netns.netns_path(app.netns),
                              ctx.state.log_dir() / f"{app.instance}.log")
        started.append((pid, app))
    deadline = time.monotonic() + START_TIMEOUT_S
    for pid, app in started:
        for port in listen_ports(app):
            while not processes.listening(f"/proc/{pid}", None, port):
                if time.monotonic() > deadline or not Path(f"/proc/{pid}").exists():
                    log = (ctx.state.log_dir() / f"{app.instance}.log").read_text()[-2000:]
                    raise RuntimeError(f"{app.kind} on {app.instance} did not start listening on :{port}:\n{log}")
                time.sleep(0.01)
