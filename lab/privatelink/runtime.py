"""Reaching the live lab's NLB nodes cheaply: a control-plane command is on the path that stops an
endpoint's traffic, so it neither imports the Docker client nor asks the engine unless it must."""

from __future__ import annotations

from pathlib import Path


class LazyRuntime:
    """The container runtime, connected on first use: the Docker client costs ~0.1 s to import and
    reach, and a change that reloads no node (or cuts traffic before reloading) should not wait for it."""

    def __init__(self) -> None:
        self._runtime = None

    def __getattr__(self, name: str):
        if self._runtime is None:
            from lab.apply.api import runtime

            self._runtime = runtime()
        return getattr(self._runtime, name)


def known_pids(plan: dict) -> dict[str, int]:
    """NLB node PIDs saved with the plan that still are those nodes' HAProxy masters (checked in /proc:
    its command, and the hostname the runtime gave the container), so no engine call is needed."""
    out = {}
    for name, pid in (plan.get("container_pids") or {}).items():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline.startswith(b"haproxy\0") and f"HOSTNAME={name[:63]}".encode() in environ:
            out[name] = pid
    return out
