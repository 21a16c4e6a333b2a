"""DockerRuntime: :class:`ContainerRuntime` on the Docker engine, through the Docker SDK for Python.

Every NLB node runs with ``network_mode="none"``: its only links are the veths the lab moves into its
namespace by PID. A container left on Docker's default bridge would give traffic a path around the
emulated VPC links (Containernet #187/#212), so there is no parameter to change that.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, DockerException, NotFound

from lab.apply.runtime.base import (
    CONFIG_MOUNT,
    ContainerRuntime,
    ContainerRuntimeError,
    NodeHandle,
    NodeNotFound,
    NodeStartError,
    RuntimeUnavailable,
)

DEFAULT_SOCKET = "/var/run/docker.sock"
LOADED_MARK = b"Loading success"  # HAProxy master-worker's notice once a worker runs the config
LOAD_TIMEOUT = 5.0


def _endpoint() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


class DockerRuntime(ContainerRuntime):
    """Docker backend. The client is made on first use, so constructing it never fails."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self.check()
        return self._client

    def check(self) -> None:
        try:
            client = self._client or docker.from_env()
            client.ping()
        except DockerException as e:
            raise RuntimeUnavailable(
                f"Docker engine not reachable at {_endpoint()}: start it with `dockerd &` "
                f"or `systemctl start docker` ({e})"
            ) from e
        except OSError as e:  # a socket that exists but nobody listens on
            raise RuntimeUnavailable(
                f"Docker engine not reachable at {_endpoint()}: start it with `dockerd &` "
                f"or `systemctl start docker` ({e})"
            ) from e
        self._client = client

    def _get(self, name: str) -> Any:
        try:
            return self.client.containers.get(name)
        except NotFound as e:
            raise NodeNotFound(f"no container named {name!r}") from e

    def start_nlb_node(
        self,
        name: str,
        *,
        image: str,
        labels: Mapping[str, str],
        config_dir: Path,
        sysctls: Mapping[str, str] | None = None,
    ) -> NodeHandle:
        cfg = Path(config_dir).resolve()
        if not cfg.is_dir():
            # Docker would silently create an empty directory at a missing bind source.
            raise NodeStartError(f"{name}: config dir {cfg} does not exist")
        try:
            container = self.client.containers.run(
                image,
                name=name,
                hostname=name[:63],
                detach=True,
                network_mode="none",
                labels=dict(labels),
                volumes={str(cfg): {"bind": CONFIG_MOUNT, "mode": "ro"}},
                sysctls=dict(sysctls or {}),
                restart_policy={"Name": "no"},
            )
        except APIError as e:
            # "Conflict" (name in use) or a start failure; docker leaves a created container behind
            # on start failure, which we did create, so we remove it -- but never a name conflict's
            # owner, which is someone else's container.
            if e.response is not None and e.response.status_code == 409 and "already in use" in str(e):
                raise NodeStartError(f"{name}: a container by that name already exists") from e
            with contextlib.suppress(Exception):
                self.client.containers.get(name).remove(force=True)
            raise NodeStartError(f"{name}: docker could not start it: {e.explanation or e}") from e
        except DockerException as e:
            raise NodeStartError(f"{name}: {e}") from e
        state = self._wait_loaded(container)
        pid = int(state.get("Pid") or 0)
        if not state.get("Running") or pid <= 0:
            logs = container.logs(tail=30).decode(errors="replace")
            with contextlib.suppress(Exception):
                container.remove(force=True)
            raise NodeStartError(
                f"{name}: exited at once (status {state.get('Status')}, code {state.get('ExitCode')}):\n{logs}"
            )
        return NodeHandle(name=name, id=container.id, pid=pid)

    @staticmethod
    def _wait_loaded(container: Any, timeout: float = LOAD_TIMEOUT) -> dict:
        """Wait until HAProxy's master says it loaded the config, or the container exits.

        `docker run` returns once the process exists, before HAProxy has parsed its config or bound
        its sockets; a bad config or a missing bind address makes it exit a few ms later. Reporting
        "started" then would hand the caller a dying node whose netns vanishes under it.
        """
        deadline = time.monotonic() + timeout
        while True:
            container.reload()
            state = container.attrs.get("State", {})
            if not state.get("Running"):
                return state
            if LOADED_MARK in container.logs(stdout=True, stderr=True, tail=20):
                return state
            if time.monotonic() > deadline:
                return state  # e.g. `quiet` in the config silences the notice: running is enough
            time.sleep(0.02)

    def reload(self, name: str) -> None:
        try:
            self._get(name).kill(signal="SIGUSR2")
        except APIError as e:
            raise ContainerRuntimeError(f"{name}: reload (SIGUSR2) failed: {e.explanation or e}") from e

    def pid(self, name: str) -> int | None:
        try:
            state = self._get(name).attrs.get("State", {})
        except NodeNotFound:
            return None
        pid = int(state.get("Pid") or 0)
        return pid if state.get("Running") and pid > 0 else None

    def exists(self, name: str) -> bool:
        try:
            self._get(name)
        except NodeNotFound:
            return False
        return True

    def logs(self, name: str, tail: int = 50) -> str:
        try:
            return self._get(name).logs(stdout=True, stderr=True, tail=tail).decode(errors="replace")
        except NodeNotFound:
            return ""

    def kill(self, name: str, signal: str = "SIGKILL") -> None:
        try:
            self._get(name).kill(signal=signal)
        except APIError as e:
            raise ContainerRuntimeError(f"{name}: kill {signal} failed: {e.explanation or e}") from e

    def pause(self, name: str) -> None:
        try:
            self._get(name).pause()
        except APIError as e:
            raise ContainerRuntimeError(f"{name}: pause failed: {e.explanation or e}") from e

    def unpause(self, name: str) -> None:
        container = self._get(name)
        if container.attrs.get("State", {}).get("Paused"):
            try:
                container.unpause()
            except APIError as e:
                raise ContainerRuntimeError(f"{name}: unpause failed: {e.explanation or e}") from e

    def remove(self, name: str) -> None:
        try:
            self.client.containers.get(name).remove(force=True)
        except NotFound:
            return
        except APIError as e:
            # Two teardowns racing: the second sees "removal ... already in progress"; both are done.
            if e.response is not None and e.response.status_code == 409 and "in progress" in str(e):
                return
            raise ContainerRuntimeError(f"{name}: remove failed: {e.explanation or e}") from e

    def list_by_label(self, key: str, value: str) -> list[str]:
        found = self.client.containers.list(all=True, filters={"label": f"{key}={value}"})
        return sorted(c.name for c in found)
