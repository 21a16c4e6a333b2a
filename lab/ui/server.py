"""The web view's HTTP side: a werkzeug WSGI app (the toolkit the EC2 API server uses too) on
loopback only.

    GET /              the page (static/index.html; its script and style are served beside it)
    GET /graph.svg     the lab drawn by lab.graph through Graphviz, as it is now
    GET /api/view      the current view as JSON (what every pushed update carries)
    GET /events        server-sent events: a "view" event per change, a comment every KEEPALIVE_S
    GET /metrics       Prometheus exposition of the last metrics sample

Read-only: every route is a GET; anything else is 405.
"""

from __future__ import annotations

import json
import socket
import time
from importlib import resources

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from lab.ui.prom import CONTENT_TYPE, exposition
from lab.ui.watcher import Watcher, sse

LOOPBACK = "127.0.0.1"
KEEPALIVE_S = 15.0
STREAM_MAX_S = 3600.0  # a page reconnects (EventSource does so by itself): no stream lives forever
STATIC = {"app.js": "text/javascript", "app.css": "text/css", "index.html": "text/html"}


def _static(name: str) -> bytes:
    return resources.files("lab.ui").joinpath("static", name).read_bytes()


class UiApp:
    def __init__(self, watcher: Watcher):
        self.watcher = watcher
        self.urls = Map([Rule("/", endpoint="index", methods=["GET"]),
                         Rule("/static/<name>", endpoint="static", methods=["GET"]),
                         Rule("/graph.svg", endpoint="graph", methods=["GET"]),
                         Rule("/api/view", endpoint="view", methods=["GET"]),
                         Rule("/events", endpoint="events", methods=["GET"]),
                         Rule("/metrics", endpoint="metrics", methods=["GET"])])

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            endpoint, args = self.urls.bind_to_environ(environ).match()
            response = getattr(self, f"on_{endpoint}")(request, **args)
        except HTTPException as err:
            response = err
        return response(environ, start_response)

    def on_index(self, request: Request) -> Response:
        page = _static("index.html").replace(b"{{LAB}}", self.watcher.lab.encode())
        return Response(page, mimetype="text/html", headers=_no_cache())

    def on_static(self, request: Request, name: str) -> Response:
        if name not in STATIC or name == "index.html":
            raise NotFound()
        return Response(_static(name), mimetype=STATIC[name], headers=_no_cache())

    def on_graph(self, request: Request) -> Response:
        return Response(self.watcher.svg, mimetype="image/svg+xml", headers=_no_cache())

    def on_view(self, request: Request) -> Response:
        return Response(json.dumps(self.watcher.view), mimetype="application/json", headers=_no_cache())

    def on_metrics(self, request: Request) -> Response:
        return Response(exposition(self.watcher), content_type=CONTENT_TYPE)

    def on_events(self, request: Request) -> Response:
        watcher = self.watcher

        def stream():
            seq, view = watcher.seq, watcher.view
            yield b"retry: 1000\n\n" + sse("view", view)  # the page is drawn from the first event
            deadline = time.monotonic() + STREAM_MAX_S
            while time.monotonic() < deadline and not watcher.stopped():
                new_seq, view = watcher.wait(seq, KEEPALIVE_S)
                if new_seq == seq:
                    yield b": keepalive\n\n"
                    continue
                seq = new_seq
                yield sse("view", view)

        return Response(stream(), mimetype="text/event-stream",
                        headers={**_no_cache(), "X-Accel-Buffering": "no"}, direct_passthrough=True)


def _no_cache() -> dict:
    return {"Cache-Control": "no-store"}


def serve(lab: str, port: int, ready=None) -> None:
    """Serve lab `lab`'s view on 127.0.0.1:`port` (0: a free one) until interrupted. `ready(url)` is
    called once the socket listens."""
    watcher = Watcher(lab)
    watcher.start()
    try:
        # Bound here, not by werkzeug: on a taken port it prints and exits, and the CLI must say so in one line.
        sock = socket.create_server((LOOPBACK, port))
    except OSError:
        watcher.stop()
        raise
    server = make_server(LOOPBACK, sock.getsockname()[1], UiApp(watcher), threaded=True, fd=sock.fileno())
    server.daemon_threads = True
    try:
        if ready:
            ready(f"http://{LOOPBACK}:{sock.getsockname()[1]}/")
        server.serve_forever()
    finally:
        watcher.stop()
        server.server_close()
        sock.close()
