"""Request/response latency, run inside a namespace by the benchmark (`ip netns exec NS python rr.py ...`).

    python rr.py serve PORT                      # echo server: answers each message with the same bytes
    python rr.py rr   HOST PORT COUNT [SIZE]     # one connection, COUNT request/response round trips
    python rr.py crr  HOST PORT COUNT [SIZE]     # COUNT times: connect, request, response, close

The client prints one JSON object: the latencies in microseconds (sorted) and any errors. Both
modes stop after COUNT or after a fixed time budget, whichever comes first.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time

BUDGET_S = 60.0


def _handle(conn: socket.socket) -> None:
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := conn.recv(65536):
            conn.sendall(data)


def serve(port: int) -> None:
    srv = socket.create_server(("0.0.0.0", port), backlog=256)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=_handle, args=(conn,), daemon=True).start()


def _roundtrip(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(payload)
    got = 0
    while got < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed mid-response")
        got += len(chunk)


def client(mode: str, host: str, port: int, count: int, size: int) -> dict:
    payload = b"x" * size
    samples, errors = [], []
    deadline = time.monotonic() + BUDGET_S
    sock = None
    if mode == "rr":
        sock = socket.create_connection((host, port), timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(50):  # warm-up: caches, ARP, HAProxy's first-use allocations
            _roundtrip(sock, payload)
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter_ns()
        try:
            if mode == "rr":
                _roundtrip(sock, payload)
            else:
                with socket.create_connection((host, port), timeout=5) as s:
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    _roundtrip(s, payload)
        except OSError as err:
            errors.append(str(err))
            continue
        samples.append((time.perf_counter_ns() - t0) / 1000)
    if sock is not None:
        sock.close()
    return {"mode": mode, "samples_us": sorted(samples), "errors": errors[:5], "error_count": len(errors)}


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        size = int(sys.argv[5]) if len(sys.argv) > 5 else 64
        print(json.dumps(client(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), size)))
