"""Where a live lab is right now: THE one answer to "where is this node's network namespace?".

A VPC's router and an instance live in named namespaces (/run/netns/<name>); an NLB node in its
container's, reached through the PID of its HAProxy master (/proc/<pid>/ns/net). A PID is a runtime
observation, not desired state, so it is kept beside the plan, in the state folder's `live.json`
(plan.json of a lab brought up by an older version may still carry `container_pids`: read too).

One rule says whether a recorded PID still is the node: the process must be HAProxy and carry the
hostname the runtime gave the node's container. A PID the kernel recycled for anything else fails
it. A node without a good recorded PID is looked up in the container engine, which is reached
lazily (the Docker client costs ~0.1 s to import and connect): a command whose nodes all pass the
check, as `lab status` and a control-plane change usually are, never touches the engine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lab.apply import netns
from lab.apply.runtime import runtime_or_none
from lab.state.store import LabState
from lab.topology.errors import LabInputError, LabSystemError

LIVE_FILE = "live.json"
HOSTNAME_MAX = 63  # the kernel's limit: the runtime gives a container its name, cut there


class NodeNotRunning(LabSystemError, FileNotFoundError):
    """An NLB node of the plan has no running container (a FileNotFoundError too: its namespace
    file is not there, and callers that skip a missing namespace catch that)."""


def is_node_process(pid: int, container: str) -> bool:
    """Whether `pid` is the HAProxy master of the node container `container` (checked in /proc)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return cmdline.startswith(b"haproxy\0") and f"HOSTNAME={container[:HOSTNAME_MAX]}".encode() in environ


class LiveLab:
    """One lab's live places. `runtime`: the container engine to ask when a recorded PID fails the
    rule (a ContainerRuntime, a LazyRuntime, or None: connect on first need, if an engine answers)."""

    def __init__(self, state: LabState, plan: dict | None = None, runtime=None):
        self.state = state
        self._plan = plan
        self.runtime = runtime
        self._asked = runtime is not None
        self.pids: dict[str, int] = {}  # nodes found (or started) by this process
        self._recorded: dict[str, int] | None = None

    @property
    def plan(self) -> dict:
        if self._plan is None:
            self._plan = self.state.load_plan()
        return self._plan

    @property
    def file(self) -> Path:
        return self.state.dir / LIVE_FILE

    # -- NLB nodes ------------------------------------------------------------------------------
    def recorded(self) -> dict[str, int]:
        """PIDs as recorded (not yet checked): live.json over an older plan.json's."""
        if self._recorded is None:
            pids = dict(self.plan.get("container_pids") or {})
            if self.file.exists():
                pids.update(json.loads(self.file.read_text()).get("node_pids", {}))
            self._recorded = {name: int(pid) for name, pid in pids.items()}
        return self._recorded

    def known_pids(self) -> dict[str, int]:
        """The recorded PIDs that pass the rule (no engine call)."""
        return {name: pid for name, pid in self.recorded().items() if is_node_process(pid, name)}

    def node_pid(self, container: str) -> int | None:
        """The node's HAProxy master PID, or None when its container does not run."""
        if container in self.pids:
            return self.pids[container]
        pid = self.recorded().get(container)
        if pid is None or not is_node_process(pid, container):
            engine = self._engine()
            pid = engine.pid(container) if engine is not None else None
        if pid is not None:
            self.pids[container] = pid
        return pid

    def _engine(self):
        if not self._asked:
            self._asked = True
            self.runtime = runtime_or_none()
        return self.runtime

    def started(self, container: str, pid: int) -> None:
        """A node this process has just started (bring-up)."""
        self.pids[container] = pid

    def save(self) -> None:
        """Record the PIDs found in live.json (atomically), beside the plan."""
        pids = {**{n: p for n, p in self.recorded().items() if n not in self.pids}, **self.pids}
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"node_pids": pids}, indent=1))
        tmp.replace(self.file)
        self._recorded = pids

    # -- any place -------------------------------------------------------------------------------
    def ns_path(self, kind: str, name: str) -> Path:
        """The namespace file of a place: a named namespace ("netns") or an NLB node ("container")."""
        if kind == "netns":
            return netns.netns_path(name)
        pid = self.node_pid(name)
        if pid is None:
            raise NodeNotRunning(f"NLB node container {name} is not running")
        return Path(f"/proc/{pid}/ns/net")

    def node_ns_path(self, container: str) -> Path | None:
        """The node's namespace file, or None when it does not run."""
        pid = self.node_pid(container)
        return Path(f"/proc/{pid}/ns/net") if pid is not None else None

    def namespace_of(self, node: str) -> str:
        """The namespace of an instance (names are lab-wide) or, by a VPC's name, of its router."""
        inv = self.plan["inventory"]
        for item in inv.get("instances", []) + inv.get("vpcs", []) + inv.get("internet_hosts", []):
            if item["Name"] == node:
                return item["Netns"]
        known = [i["Name"] for i in inv.get("instances", []) + inv.get("vpcs", []) + inv.get("internet_hosts", [])]
        raise LabInputError("NODE", f"no instance or VPC named {node!r} in lab {self.plan['lab']!r}",
                            f"use one of: {', '.join(known)}")


def enter(lab: str, node: str) -> None:
    """Move this process into an instance's (or a VPC router's) namespace, with the VPC's resolver
    where the lab provides one (as `ip netns exec` does), for `lab exec` to exec its command there."""
    if os.geteuid() != 0:
        raise LabInputError("lab exec", "needs root to enter a namespace", "run it with sudo")
    ns = LiveLab(LabState(lab)).namespace_of(node)
    resolv = Path("/etc/netns") / ns / "resolv.conf"
    netns.enter_for_exec(netns.netns_path(ns), resolv if resolv.exists() else None)
