"""Container runtime backend for NLB nodes: :class:`ContainerRuntime` (interface, base.py) and
:class:`DockerRuntime` (docker.py).

THE runtime factory: every part of the lab that needs the container engine gets it from
``get_runtime()`` (checked: raises RuntimeUnavailable), ``runtime_or_none()`` (for readers that
work without an engine) or ``LazyRuntime()`` (connected on first use); nothing else builds a
client. May import: the standard library and the Docker SDK (lazily); nothing else of the lab.
"""

from __future__ import annotations

from lab.apply.runtime.base import (
    CONFIG_MOUNT,
    ContainerRuntime,
    ContainerRuntimeError,
    NodeHandle,
    NodeNotFound,
    NodeSpec,
    NodeStartError,
    RuntimeUnavailable,
)


def get_runtime(name: str = "docker", *, check: bool = True) -> ContainerRuntime:
    """The runtime backend by name (only "docker" today), checked that its engine answers unless
    `check` is False. The Docker SDK is imported here, lazily: `lab status` may never need it."""
    if name != "docker":
        raise ValueError(f"unknown container runtime {name!r} (known: docker)")
    from lab.apply.runtime.docker import DockerRuntime

    runtime = DockerRuntime()
    if check:
        runtime.check()
    return runtime


def runtime_or_none() -> ContainerRuntime | None:
    """The checked runtime, or None when no engine answers (or its SDK is missing)."""
    try:
        return get_runtime()
    except (ImportError, RuntimeUnavailable):
        return None


class LazyRuntime:
    """The checked runtime, connected on first use: the Docker client costs ~0.1 s to import and
    reach, and a change that reloads no node (or cuts traffic before reloading) should not wait for it."""

    def __init__(self) -> None:
        self._runtime: ContainerRuntime | None = None

    def __getattr__(self, name: str):
        if self._runtime is None:
            self._runtime = get_runtime()
        return getattr(self._runtime, name)


__all__ = [
    "CONFIG_MOUNT", "ContainerRuntime", "ContainerRuntimeError", "LazyRuntime", "NodeHandle", "NodeNotFound",
    "NodeSpec", "NodeStartError", "RuntimeUnavailable", "get_runtime", "runtime_or_none",
]
