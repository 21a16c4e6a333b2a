"""The demo target service: a provider's multi-tenant backend that reads PROXY protocol v2.

It runs inside a target instance's namespace (started by `lab up`). Every connection must
begin with a valid PPv2 header: a PROXY header carries the consumer's address, the ENI's address
and, in TLV 0xEA, the VPC endpoint ID, which is how a multi-tenant service tells its customers
apart (the talk's mode 3). A LOCAL header is a health check. Anything else is refused and logged.

It answers HTTP (or any first line) with one JSON object, and logs one JSON line per event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from lab.ppv2.errors import ProxyProtocolError
from lab.ppv2.header import Command
from lab.ppv2.stream import read_header_async

HEADER_TIMEOUT_S = 5.0
REQUEST_LIMIT = 8192


def log(event: str, **fields) -> None:
    print(json.dumps({"ts": round(time.time(), 3), "event": event, **fields}), flush=True)


def _addr(host: str | None, port: int | None) -> str | None:
    return None if host is None else f"{host}:{port}"


class Target:
    def __init__(self, name: str, az: str, port: int):
        self.name, self.az, self.port = name, az, port
        self.served = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = "%s:%d" % writer.get_extra_info("peername")[:2]
        try:
            header, _ = await asyncio.wait_for(read_header_async(reader), HEADER_TIMEOUT_S)
        except (ProxyProtocolError, asyncio.TimeoutError) as err:
            reason = "timed out waiting for it" if isinstance(err, asyncio.TimeoutError) else str(err)
            log("refused", peer=peer, reason=f"no valid PROXY protocol v2 header: {reason}")
            writer.close()
            return
        if header.version != 2:  # the NLB speaks v2 only; a v1 line means something else is connecting
            log("refused", peer=peer, reason="PROXY protocol v1 header; this target expects v2")
            writer.close()
            return
        if header.command == Command.LOCAL:
            log("health-check", peer=peer)  # AWS health checks send LOCAL: no client behind them
            writer.close()
            return
        answer = {
            "service": "demo-target",
            "instance": self.name,
            "az": self.az,
            "vpce_id": header.aws_vpce_id,
            "client": _addr(header.src_addr, header.src_port),
            "eni": _addr(header.dst_addr, header.dst_port),
            "peer": peer,
            "ppv2_version": header.version,
        }
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEADER_TIMEOUT_S)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError) as err:
            request = getattr(err, "partial", b"")
        first_line = request.split(b"\r\n", 1)[0].decode("latin-1")
        self.served += 1
        log("request", request=first_line, **answer)
        body = (json.dumps(answer) + "\n").encode()
        if first_line.split(" ")[-1].startswith("HTTP/"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
        writer.write(body)
        try:
            await writer.drain()
        finally:
            writer.close()


async def serve(name: str, az: str, port: int) -> None:
    target = Target(name, az, port)
    server = await asyncio.start_server(target.handle, "0.0.0.0", port, limit=REQUEST_LIMIT, reuse_address=True)
    log("listening", instance=name, az=az, port=port)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--az", required=True)
    parser.add_argument("--port", type=int, default=8080)
    # Carried only so `lab down` can recognise this process as its own (see lab.apply.apps).
    parser.add_argument("--owner-token", default="")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.name, args.az, args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
