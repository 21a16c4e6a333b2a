"""Container runtime backend for NLB nodes: :class:`ContainerRuntime` (interface, base.py) and
:class:`DockerRuntime` (docker.py). ``get_runtime()`` is the one place that picks the backend."""

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


def get_runtime(name: str = "docker") -> ContainerRuntime:
    """The runtime backend by name (only "docker" today). The Docker SDK is imported here, lazily."""
    if name == "docker":
        from lab.apply.runtime.docker import DockerRuntime

        return DockerRuntime()
    raise ValueError(f"unknown container runtime {name!r} (known: docker)")


__all__ = [
    "CONFIG_MOUNT", "ContainerRuntime", "ContainerRuntimeError", "NodeHandle", "NodeNotFound", "NodeSpec",
    "NodeStartError", "RuntimeUnavailable", "get_runtime",
]
