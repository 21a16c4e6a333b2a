"""NLB nodes: one HAProxy container per AZ, started leg-less, wired from the host, then reloaded.

HAProxy refuses to bind an address or interface that does not exist yet, and a `none`-network
container only gets its legs after it runs. So a node starts with a boot config (loopback
admin listener only), the host places its legs in its namespace by PID, writes the real config into the
node's mounted config folder, and reloads the master (SIGUSR2), which re-reads the folder.
"""

from __future__ import annotations

import csv
import io
import socket
import time

from lab.apply import haproxy, netns, processes
from lab.apply.context import ApplyContext
from lab.apply.runtime.base import NodeSpec
from lab.plan.model import NlbNode
from lab.topology.errors import LabSystemError

LABEL_LAB = "privatelink-lab.lab"
LABEL_ROLE = "privatelink-lab.role"
LISTEN_TIMEOUT_S = 10.0


class NodeError(LabSystemError, RuntimeError):
    pass


def labels(lab: str, node: NlbNode) -> dict[str, str]:
    return {LABEL_LAB: lab, LABEL_ROLE: "nlb-node", "privatelink-lab.nlb": node.nlb, "privatelink-lab.az": node.az}


def write_config(ctx: ApplyContext, node: NlbNode, *, boot: bool = False) -> None:
    etc = ctx.state.node_dir(node.container) / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    tmp = etc / (haproxy.CONFIG_NAME + ".tmp")
    tmp.write_text(haproxy.render(node, boot=boot))
    tmp.replace(etc / haproxy.CONFIG_NAME)  # atomic, so a reload never reads half a file


def start(ctx: ApplyContext, image: str) -> None:
    specs = []
    for node in ctx.plan.nodes:
        write_config(ctx, node, boot=True)
        ctx.state.journal.record("container", name=node.container)
        specs.append(NodeSpec(name=node.container, image=image, config_dir=ctx.state.node_dir(node.container) / "etc",
                              labels=labels(ctx.plan.lab, node)))
    if specs:
        for handle in ctx.runtime.start_many(specs):
            ctx.container_pids[handle.name] = handle.pid
    for node in ctx.plan.nodes:
        # Before any leg exists: an interface created in a namespace takes its settings from "default".
        netns.write_sysctls(ctx.ns_path_of(node.container), node.sysctls)


def configure(ctx: ApplyContext, nodes: list[NlbNode] | None = None) -> None:
    """Write each node's real config, reload it, and wait until every frontend listens."""
    nodes = ctx.plan.nodes if nodes is None else nodes
    for node in nodes:
        write_config(ctx, node)
        ctx.runtime.reload(node.container)
    for node in nodes:
        wait_listening(ctx, node)


def wait_listening(ctx: ApplyContext, node: NlbNode) -> None:
    pid = ctx.container_pids[node.container]
    pending = [(fe.ip, fe.port) for fe in node.frontends]
    deadline = time.monotonic() + LISTEN_TIMEOUT_S
    while pending and time.monotonic() < deadline:
        live = processes.listening_sockets(pid)
        pending = [(ip, port) for ip, port in pending if (ip, port) not in live and ("0.0.0.0", port) not in live]
        if pending:
            time.sleep(0.01)
    if pending:
        logs = ctx.runtime.logs(node.container, tail=20)
        raise NodeError(f"NLB node {node.container} did not start listening on "
                        f"{', '.join(f'{ip}:{port}' for ip, port in pending)} within {LISTEN_TIMEOUT_S:.0f} s; "
                        f"HAProxy said:\n{logs}")


def wait_released(ctx: ApplyContext, node: NlbNode, addresses: list[tuple[str, int]], timeout: float) -> None:
    """Wait until nothing listens on `addresses` in the node any more: after a reload that dropped
    their frontends, HAProxy's old worker closes its listeners once the new worker runs."""
    pid = ctx.container_pids[node.container]
    pending = list(addresses)
    deadline = time.monotonic() + timeout
    while pending:
        live = processes.listening_sockets(pid)
        pending = [(ip, port) for ip, port in pending if (ip, port) in live]
        if pending and time.monotonic() > deadline:
            raise NodeError(f"NLB node {node.container} still listens on "
                            f"{', '.join(f'{ip}:{port}' for ip, port in pending)} {timeout:.0f} s after its reload; "
                            f"HAProxy said:\n{ctx.runtime.logs(node.container, tail=20)}")
        if pending:
            time.sleep(0.005)


def server_states(pid: int) -> list[dict[str, str]]:
    """HAProxy's view of its targets (`show stat` CSV), read over loopback inside the node's namespace."""
    return [r for r in stats_rows(pid) if r.get("svname") not in ("FRONTEND", "BACKEND")
            and not r.get("pxname", "").startswith(haproxy.CHECK_PREFIX)]  # check-only twins are not targets


def stats_rows(pid: int) -> list[dict[str, str]]:
    """Every row of HAProxy's CSV stats page (frontends, backends, servers), read over loopback
    inside the node's namespace."""
    with netns.entered(f"/proc/{pid}/ns/net"):
        sock = socket.create_connection(("127.0.0.1", haproxy.ADMIN_PORT), timeout=2)
    with sock:
        sock.sendall(b"GET /stats;csv HTTP/1.0\r\nHost: node\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    body = b"".join(chunks).split(b"\r\n\r\n", 1)[-1].decode()
    return list(csv.DictReader(io.StringIO(body.lstrip("# "))))
