"""A tiny webhook receiver: the provider's HTTP endpoint for connection events, inside the lab.

It runs in an instance's namespace (topology: `app: webhook-receiver`), started by `lab up` like the
demo target, and logs every POST it gets as one JSON line (the lab's logs/<instance>.log), so a
test or a workshop can see exactly which events arrived. GET answers how many have arrived.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 * 1024


def log(event: str, **fields) -> None:
    print(json.dumps({"ts": round(time.time(), 3), "event": event, **fields}), flush=True)


class Handler(BaseHTTPRequestHandler):
    received = 0
    server_version = "lab-webhook-receiver"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413, "body too large")
            return
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        Handler.received += 1
        log("webhook", path=self.path, peer=self.client_address[0], body=body)
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        payload = json.dumps({"received": Handler.received}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - silence the default stderr log
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--az", default="")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--owner-token", default="")  # lets `lab down` recognise this process as its own
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("0.0.0.0", args.port), Handler)
    log("listening", instance=args.name, port=args.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
