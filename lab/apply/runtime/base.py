"""The container runtime interface the lab needs, kept small (Kathara's IManager / containerlab's
runtime split): the lab's apply step talks to :class:`ContainerRuntime`, never to Docker directly, so
another engine (podman, containerd) is one more subclass.

Ownership rule: a runtime only ever touches containers it is named (``name``) or asked for by label;
there is no "remove everything matching a pattern" call on purpose.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lab.topology.errors import LabSystemError

CONFIG_MOUNT = "/usr/local/etc/haproxy"  # where the NLB image's entrypoint reads its *.cfg files


class ContainerRuntimeError(LabSystemError):
    """Base of the runtime backend's errors."""


class RuntimeUnavailable(ContainerRuntimeError):
    """The engine cannot be reached. The message carries the fix."""


class NodeNotFound(ContainerRuntimeError):
    """No container by that name."""


class NodeStartError(ContainerRuntimeError):
    """A node could not be started, or exited right away (its logs are in the message)."""


@dataclass(frozen=True)
class NodeHandle:
    name: str
    id: str
    pid: int  # PID of the container's init process (HAProxy's master) in the host's PID namespace

    @property
    def netns_path(self) -> Path:
        """The node's network namespace, for moving a veth end in (pyroute2 ``net_ns_fd``)."""
        return Path(f"/proc/{self.pid}/ns/net")


@dataclass(frozen=True)
class NodeSpec:
    """Arguments of :meth:`ContainerRuntime.start_nlb_node`, for :meth:`ContainerRuntime.start_many`."""

    name: str
    image: str
    config_dir: Path
    labels: Mapping[str, str] = field(default_factory=dict)
    sysctls: Mapping[str, str] = field(default_factory=dict)


class ContainerRuntime(ABC):
    """What the lab needs from a container engine to run NLB nodes."""

    @abstractmethod
    def check(self) -> None:
        """Raise :class:`RuntimeUnavailable` (with a fix hint) unless the engine answers."""

    @abstractmethod
    def start_nlb_node(
        self,
        name: str,
        *,
        image: str,
        labels: Mapping[str, str],
        config_dir: Path,
        sysctls: Mapping[str, str] | None = None,
    ) -> NodeHandle:
        """Start one NLB node: no network at all (``none``), ``config_dir`` mounted read-only at
        :data:`CONFIG_MOUNT`, ``labels`` applied, never restarted by the engine. Raises
        :class:`NodeStartError` if it cannot start or exits at once (and then leaves nothing behind)."""

    @abstractmethod
    def reload(self, name: str) -> None:
        """Make HAProxy re-read its config directory (master-worker: SIGUSR2 to the master)."""

    @abstractmethod
    def pid(self, name: str) -> int | None:
        """Init PID of a running node; None if it is gone or not running."""

    @abstractmethod
    def exists(self, name: str) -> bool:
        """True if a container by that name exists (running or not)."""

    @abstractmethod
    def logs(self, name: str, tail: int = 50) -> str:
        """Last ``tail`` lines of stdout+stderr; "" if the container is gone."""

    @abstractmethod
    def kill(self, name: str, signal: str = "SIGKILL") -> None:
        """Signal the node's init (fault tests: kill an AZ's NLB node). Raises :class:`NodeNotFound`."""

    def pause(self, name: str) -> None:
        """Freeze the node's processes (`lab az fail`: the AZ's NLB node stops); its namespace stays."""
        raise ContainerRuntimeError(f"{name}: this runtime cannot pause a node")

    def unpause(self, name: str) -> None:
        """Thaw a paused node (`lab az recover`); no error if it is not paused."""
        raise ContainerRuntimeError(f"{name}: this runtime cannot unpause a node")

    @abstractmethod
    def remove(self, name: str) -> None:
        """Force-remove; no error if it is already gone (teardown must be re-runnable)."""

    @abstractmethod
    def list_by_label(self, key: str, value: str) -> list[str]:
        """Names of all containers (running or not) carrying label ``key=value``, sorted."""

    def start_many(self, specs: Sequence[NodeSpec], max_workers: int = 4) -> list[NodeHandle]:
        """Start several nodes in parallel (each start is ~200 ms of engine round trips).

        All or nothing: if any fails, the ones this call started are removed and the first error is
        raised, so a half-started AZ set never lingers. Handles come back in ``specs`` order.
        """
        if len({s.name for s in specs}) != len(specs):
            raise NodeStartError("start_many: duplicate node names")
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(specs) or 1))) as pool:
            futures = [
                pool.submit(
                    self.start_nlb_node, s.name, image=s.image, labels=s.labels,
                    config_dir=s.config_dir, sysctls=s.sysctls,
                )
                for s in specs
            ]
            errors: list[BaseException] = []
            handles: list[NodeHandle] = []
            for f in futures:
                try:
                    handles.append(f.result())
                except Exception as e:  # collected: every future must finish before cleanup
                    errors.append(e)
        if errors:
            for h in handles:
                self.remove(h.name)
            raise errors[0]
        return handles
