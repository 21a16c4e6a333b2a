"""What every apply step needs: the plan, the journal, the runtime, progress, the live lab's places
(lab.apply.live) and one netlink socket per place (opened once inside that namespace, reused for
every request there)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyroute2 import IPRoute

from lab.apply import netns
from lab.apply.live import LiveLab
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
    live: LiveLab | None = None  # where the nodes are; made from state + runtime when not given
    gso: GsoTuner = field(default_factory=GsoTuner)  # BIG TCP on every veth end this run creates
    _netlink: dict[Place, IPRoute] = field(default_factory=dict)
    _root: IPRoute | None = None

    def __post_init__(self) -> None:
        if self.live is None:
            self.live = LiveLab(self.state, runtime=self.runtime)

    @property
    def container_pids(self) -> dict[str, int]:
        """The NLB nodes' PIDs this command has found or started."""
        return self.live.pids

    def ns_path(self, place: Place) -> Path:
        return self.live.ns_path(place.kind, place.name)

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
