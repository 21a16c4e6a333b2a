"""The demo target service: a provider's multi-tenant backend, behind the NLB, that knows its tenants.

It runs inside a target instance's namespace (started by `lab up`, lab.apply.apps). On a port whose
target group sends PROXY protocol v2, every connection must begin with a valid header: a PROXY
header carries the consumer's address, the ENI's address and, in TLV 0xEA, the VPC endpoint ID; a
LOCAL header is a health check. Anything else there is refused and logged.

With a tenant table (the topology's `tenancy:`, lab.plan.tenancy) it tells tenants apart in one of
the talk's three modes and answers with the tenant, or refuses:
  token  the API token in `Authorization: Bearer ...` or `X-Api-Token:` (401 if missing or unknown)
  port   the port the connection arrived on: each tenant's NLB has its own target port (403 if none)
  ppv2   the endpoint ID the NLB wrote in TLV 0xEA (403 for an endpoint the table does not know)

Only the header the NLB wrote -- the first bytes of the connection -- is believed. A PROXY header
inside the client's payload was written by the client, who can write anything: it is skipped,
never parsed, and the answer says it was ignored (`trusted_header` is the one place that decides).

It answers HTTP (or any first line) with one JSON object, and logs one JSON line per event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from http import HTTPStatus
from pathlib import Path

from lab.ppv2.codec import SIGNATURE
from lab.ppv2.errors import ProxyProtocolError
from lab.ppv2.header import Command, Header
from lab.ppv2.stream import read_header_async

HEADER_TIMEOUT_S = 5.0
REQUEST_LIMIT = 8192
# The request line, wherever it starts: bytes a client sends before it (a forged PROXY header ends
# in NOOP padding, not in a newline) are the payload's prefix, skipped and never parsed.
REQUEST_LINE = re.compile(rb"(?<![A-Z])([A-Z]{3,10} [^ \r\n]+ HTTP/1\.[01])\r\n")
HEALTH_CHECK_HOST = "lab-health-check"  # the Host header of the NLB nodes' HTTP checks (templates/haproxy.cfg.j2)
STATUS_PATH = re.compile(r"^/status/[1-5][0-9]{2}$")
ECHO_PATH = "/echo"
ECHO_LIMIT_S = 600.0
ECHO_MAX_LINES = 100_000


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b"Status"


def _path(first_line: str) -> str:
    parts = first_line.split(" ")
    return parts[1].split("?", 1)[0] if len(parts) == 3 else ""


def log(event: str, **fields) -> None:
    print(json.dumps({"ts": round(time.time(), 3), "event": event, **fields}), flush=True)


def _addr(host: str | None, port: int | None) -> str | None:
    return None if host is None else f"{host}:{port}"


def trusted_header(nlb_header: Header | None, payload_prefix: bytes) -> Header | None:
    """The PROXY header the app believes: always the NLB's, read from the connection's first bytes.

    `payload_prefix` (whatever the client sent before its HTTP request) is passed only so that the
    decision is visible in one place: a PROXY header in there came from the client, and believing
    it would let any tenant claim another's endpoint ID (tests/unit/test_target_tenancy.py keeps
    the broken variant that does, and shows the forged-header tests go red with it).
    """
    del payload_prefix
    return nlb_header


class Tenancy:
    """The tenant table of one mode: key (token, port or endpoint ID) -> tenant."""

    def __init__(self, mode: str = "", tenants: list[list[str]] | None = None):
        self.mode, self.table = mode, {key: name for key, name in tenants or []}

    def identify(self, header: Header | None, port: int, headers: dict[str, str]) -> tuple[str | None, int, str]:
        """(tenant, HTTP status, reason) for one request; status 200 exactly when a tenant was found."""
        if not self.mode:
            return None, 200, ""
        if self.mode == "token":
            token = headers.get("x-api-token") or _bearer(headers.get("authorization", ""))
            if not token:
                return None, 401, "no API token (send Authorization: Bearer <token> or X-Api-Token)"
            tenant = self.table.get(token)
            return (tenant, 200, "") if tenant else (None, 401, "unknown API token")
        if self.mode == "port":
            tenant = self.table.get(str(port))
            return (tenant, 200, "") if tenant else (None, 403, f"no tenant is served on port {port}")
        vpce = header.aws_vpce_id if header is not None else None
        tenant = self.table.get(vpce or "")
        return (tenant, 200, "") if tenant else (None, 403, f"endpoint {vpce} is not a tenant of this service")


def _bearer(value: str) -> str:
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, str, dict[str, str]]:
    """(bytes before the HTTP request line, the request line, its headers), within the time limit.

    A payload that is not HTTP gives its first line as the request line and no headers."""
    buf = b""
    deadline = time.monotonic() + HEADER_TIMEOUT_S
    match = None
    while len(buf) < REQUEST_LIMIT:
        match = REQUEST_LINE.search(buf)
        if match and b"\r\n\r\n" in buf[match.end(1):]:
            break
        if not match and b"\r\n\r\n" in buf and not SIGNATURE.startswith(buf[:12]):
            break  # not HTTP: answered after its first blank line, as before (a PROXY signature starts with one)
        try:
            chunk = await asyncio.wait_for(reader.read(4096), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        if not chunk:
            break
        buf += chunk
    match = REQUEST_LINE.search(buf)
    if match is None:
        return b"", buf.split(b"\r\n", 1)[0].decode("latin-1"), {}
    prefix = buf[:match.start(1)]
    block = buf[match.end(1):].split(b"\r\n\r\n", 1)[0]
    headers = {}
    for line in block.decode("latin-1").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return prefix, match.group(1).decode("latin-1"), headers


class Target:
    def __init__(self, name: str, az: str, port: int, ppv2_ports: set[int] | None = None,
                 tenancy: Tenancy | None = None):
        self.name, self.az, self.port = name, az, port
        self.ppv2_ports = {port} if ppv2_ports is None else ppv2_ports
        self.tenancy = tenancy or Tenancy()
        self.served = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int | None = None) -> None:
        """One connection. A peer that resets it (a rejected endpoint's cut, a client giving up) is
        logged as an event, so the log stays one JSON object per line."""
        port = self.port if port is None else port
        peer = "%s:%d" % writer.get_extra_info("peername")[:2]
        try:
            await self._handle(reader, writer, port, peer)
        except ConnectionError as err:
            log("connection-lost", peer=peer, port=port, reason=type(err).__name__)
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int, peer: str) -> None:
        header = None
        if port in self.ppv2_ports:
            try:
                header, _ = await asyncio.wait_for(read_header_async(reader), HEADER_TIMEOUT_S)
            except (ProxyProtocolError, asyncio.TimeoutError) as err:
                reason = "timed out waiting for it" if isinstance(err, asyncio.TimeoutError) else str(err)
                log("refused", peer=peer, port=port, reason=f"no valid PROXY protocol v2 header: {reason}")
                writer.close()
                return
            if header.version != 2:  # the NLB speaks v2 only; a v1 line means something else is connecting
                log("refused", peer=peer, port=port, reason="PROXY protocol v1 header; this target expects v2")
                writer.close()
                return
            if header.command == Command.LOCAL:
                # AWS health checks send LOCAL (no client behind them); an HTTP check's GET follows it.
                _, first_line, _ = await read_request(reader)
                if not first_line:
                    log("health-check", peer=peer, port=port, kind="tcp")
                    writer.close()
                    return
                await self._health(writer, peer, port, first_line)
                return
        prefix, first_line, headers = await read_request(reader)
        if header is None and not first_line and not prefix:
            log("health-check", peer=peer, port=port, kind="tcp")  # a TCP check: connect, then close
            writer.close()
            return
        if header is None and headers.get("host") == HEALTH_CHECK_HOST:
            await self._health(writer, peer, port, first_line)  # an HTTP check on a port without PPv2
            return
        believed = trusted_header(header, prefix)
        tenant, status, reason = self.tenancy.identify(believed, port, headers)
        answer = {
            "service": "demo-target",
            "instance": self.name,
            "az": self.az,
            "port": port,
            "vpce_id": believed.aws_vpce_id if believed else None,
            "client": _addr(believed.src_addr, believed.src_port) if believed else None,
            "eni": _addr(believed.dst_addr, believed.dst_port) if believed else None,
            "peer": peer,
            "ppv2_version": believed.version if believed else None,
        }
        if self.tenancy.mode:
            answer.update(tenancy=self.tenancy.mode, tenant=tenant)
        if prefix.startswith(SIGNATURE) or prefix.startswith(b"PROXY "):
            answer["client_proxy_header_ignored"] = True  # the client wrote one: not believed
        if status != 200:
            answer["error"] = reason
        self.served += status == 200
        log("request" if status == 200 else "refused", request=first_line, status=status, **answer)
        if status == 200 and _path(first_line) == ECHO_PATH:
            await self._echo(reader, writer, answer)
            return
        await self._reply(writer, first_line, status, answer)

    async def _health(self, writer: asyncio.StreamWriter, peer: str, port: int, first_line: str) -> None:
        """An HTTP health check: `/status/NNN` answers NNN (so a lab can make a target fail its
        check on purpose), any other path 200."""
        path = _path(first_line)
        status = int(path.rsplit("/", 1)[1]) if STATUS_PATH.match(path) else 200
        log("health-check", peer=peer, port=port, kind="http", path=path, status=status)
        await self._reply(writer, first_line, status, {"service": "demo-target", "instance": self.name,
                                                       "health": status})

    async def _echo(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: dict) -> None:
        """`GET /echo`: a long-lived connection. After the answer's first line (the JSON object), every
        line the client sends comes back prefixed with this instance's name, until the client closes,
        ECHO_LIMIT_S pass or ECHO_MAX_LINES lines were echoed (bounded, like every loop of the lab)."""
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n"
                     + (json.dumps(answer) + "\n").encode())
        deadline = time.monotonic() + ECHO_LIMIT_S
        try:
            await writer.drain()
            for _ in range(ECHO_MAX_LINES):
                line = await asyncio.wait_for(reader.readline(), max(0.0, deadline - time.monotonic()))
                if not line:
                    break
                writer.write(self.name.encode() + b" " + line)
                await writer.drain()
        except (asyncio.TimeoutError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, first_line: str, status: int, answer: dict) -> None:
        body = (json.dumps(answer) + "\n").encode()
        if first_line.split(" ")[-1].startswith("HTTP/"):
            extra = b"WWW-Authenticate: Bearer\r\n" if status == 401 else b""
            writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n" % (status, _reason(status), extra, len(body)))
        writer.write(body)
        try:
            await writer.drain()
        finally:
            writer.close()


def load_config(path: str | None, port: int) -> dict:
    """The ports and tenant table lab.apply.apps wrote; without one, today's single PPv2 port."""
    if not path:
        return {"ports": [port], "ppv2_ports": [port], "tenancy": "", "tenants": []}
    return json.loads(Path(path).read_text())


async def serve(name: str, az: str, port: int, config: dict) -> None:
    target = Target(name, az, port, set(config["ppv2_ports"]), Tenancy(config["tenancy"], config["tenants"]))
    # Anything else asyncio would print as free text goes to the log as an event too.
    asyncio.get_running_loop().set_exception_handler(
        lambda _loop, ctx: log("error", reason=ctx.get("message", ""), exception=repr(ctx.get("exception"))))
    servers = []
    for p in config["ports"]:
        servers.append(await asyncio.start_server(lambda r, w, p=p: target.handle(r, w, p), "0.0.0.0", p,
                                                  limit=REQUEST_LIMIT, reuse_address=True))
    log("listening", instance=name, az=az, ports=config["ports"], ppv2_ports=config["ppv2_ports"],
        tenancy=config["tenancy"] or None, tenants=len(config["tenants"]))
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--az", required=True)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--config", default=None, help="JSON file with ports, ppv2_ports, tenancy and tenants")
    # Carried only so `lab down` can recognise this process as its own (see lab.apply.apps).
    parser.add_argument("--owner-token", default="")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.name, args.az, args.port, load_config(args.config, args.port)))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
