"""A minimal PROXY-v2-aware relay for the benchmark's PPv2-ON target group.

iperf3 does not speak PROXY protocol. This relay listens where the NLB sends PPv2 traffic,
reads exactly one PPv2 header per connection (a LOCAL header is a health check: close), then
connects to the real server on loopback and moves bytes both ways with splice(2) through a
pipe, so no payload is copied into Python. One thread per direction.

    python strip_relay.py LISTEN_PORT UPSTREAM_PORT
"""

from __future__ import annotations

import os
import socket
import sys
import threading

SIG = b"\r\n\r\n\x00\r\nQUIT\n"
CHUNK = 1 << 20


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed inside the PROXY header")
        buf += chunk
    return buf


def _pump(src: socket.socket, dst: socket.socket) -> None:
    r, w = os.pipe()
    try:
        while True:
            n = os.splice(src.fileno(), w, CHUNK)
            if n == 0:
                break
            while n:
                n -= os.splice(r, dst.fileno(), n)
    except OSError:
        pass
    finally:
        os.close(r)
        os.close(w)
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def _serve(conn: socket.socket, upstream_port: int) -> None:
    with conn:
        try:
            head = _recv_exact(conn, 16)
            if head[:12] != SIG:
                return
            _recv_exact(conn, int.from_bytes(head[14:16], "big"))  # addresses + TLVs: not needed here
            if head[12] & 0x0F == 0:  # LOCAL: a health check
                return
            up = socket.create_connection(("127.0.0.1", upstream_port))
        except OSError:
            return
        with up:
            back = threading.Thread(target=_pump, args=(up, conn), daemon=True)
            back.start()
            _pump(conn, up)
            back.join()


def main() -> int:
    listen_port, upstream_port = int(sys.argv[1]), int(sys.argv[2])
    srv = socket.create_server(("0.0.0.0", listen_port), reuse_port=False, backlog=128)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=_serve, args=(conn, upstream_port), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
