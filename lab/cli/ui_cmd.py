"""`lab ui`: serve the lab live as a web page on loopback (graph, endpoint states, target health,
link rates, connection events, CloudWatch-named metrics, and a Prometheus /metrics)."""

from __future__ import annotations

import errno

import click

from lab.cli.output import name_option
from lab.topology.errors import LabInputError

DEFAULT_PORT = 8765


@click.command()
@name_option
@click.option("--port", type=str, default=str(DEFAULT_PORT), show_default=True, metavar="PORT",
              help="Port on 127.0.0.1 (0: any free port, printed at start). Never served beyond loopback.")
def ui(lab: str, port: str) -> None:
    """Show a live lab in a browser: the graph with endpoint states and target health, each link's
    packet and byte rates, the connection events and the metrics, pushed as they change (no reload).
    Read-only. While it runs it samples the metrics every 10 s into the lab's metrics.sqlite.

    \b
    Examples:
      sudo lab ui                       # then open http://127.0.0.1:8765/
      sudo lab ui --name demo --port 0  # a free port; the URL is printed
      curl -s http://127.0.0.1:8765/metrics   # Prometheus exposition, for Grafana
    """
    from lab import api
    from lab.ui.server import serve

    number = _port(port)
    api.load_plan(lab)  # an unknown lab is one line, exit 2, before anything listens

    def ready(url: str) -> None:
        click.echo(f"serving lab {lab!r} at {url} (Ctrl-C stops)", err=True)

    try:
        serve(lab, number, ready)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise LabInputError("--port", f"127.0.0.1:{number} is in use", "give another --port (or 0: any free one)"
                                ) from None
        raise
    except KeyboardInterrupt:
        click.echo("stopped", err=True)


def _port(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise LabInputError("--port", f"{text!r} is not a port", "give a number from 1 to 65535 (0: any free port)")
    return number
