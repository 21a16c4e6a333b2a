"""What every apply step needs: the plan, the journal, the runtime, progress, and one netlink
socket per place (opened once inside that namespace, reused for every request there)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyroute2 import IPRoute

from lab.apply import netns
from lab.apply.offload import GsoTuner
from lab.plan.model import Place, Plan
from lab.state.store import LabState

Progress = Callable[[str], None]


@dataclass
class ApplyContext:
    plan: Plan
    state: LabState
    progress: Progress
    runtime: object | None = None  # lab.apply.runtime.base.ContainerRuntime
    container_pids: dict[str, int] = field(default_factory=dict)
    gso: GsoTuner = field(default_factory=GsoTuner)  # BIG TCP on every veth end this run creates
    _netlink: dict[Place, IPRoute] = field(default_factory=dict)
    _root: IPRoute | None = None

    def ns_path(self, place: Place) -> Path:
        if place.kind == "netns":
            return netns.netns_path(place.name)
        pid = self.container_pids.get(place.name)
        if pid is None and self.runtime is not None:
            pid = self.runtime.pid(place.name)  # a later command (reconcile) asks the engine
            if pid is not None:
                self.container_pids[place.name] = pid
        if pid is None:
            raise RuntimeError(f"container {place.name} has not been started")
        return Path(f"/proc/{pid}/ns/net")

    def ns_path_of(self, container: str) -> Path:
        return self.ns_path(Place("container", container))

    def netlink(self, place: Place) -> IPRoute:
        if place not in self._netlink:
            self._netlink[place] = netns.netlink(self.ns_path(place))
        return self._netlink[place]

    @property
    def root(self) -> IPRoute:
        if self._root is None:
            self._root = IPRoute()
        return self._root

    def open_fd(self, place: Place) -> int:
        return os.open(self.ns_path(place), os.O_RDONLY)

    def close(self) -> None:
        for ipr in self._netlink.values():
            ipr.close()
        self._netlink.clear()
        if self._root is not None:
            self._root.close()
            self._root = None
