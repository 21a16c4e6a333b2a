"""A lab's state folder: its plan, a copy of its topology, its journal and its per-node files.

Everything a lab owns on disk lives under one folder (`/var/lib/privatelink-lab/<lab>/`, or
`$PRIVATELINK_LAB_STATE/<lab>/`), so `lab down` can remove exactly that folder and nothing else.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path

from lab.state.journal import Journal
from lab.topology.errors import LabInputError

DEFAULT_ROOT = Path("/var/lib/privatelink-lab")


def state_root() -> Path:
    return Path(os.environ.get("PRIVATELINK_LAB_STATE", DEFAULT_ROOT))


def list_labs() -> list[str]:
    root = state_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / Journal.FILENAME).exists())


def labs_up_text() -> str:
    """`labs up: a, b` (or `none`): told whenever a command names a lab that is not up, so a typo shows."""
    return f"labs up: {', '.join(list_labs()) or 'none'}"


class LabState:
    def __init__(self, lab: str):
        # Validate before the name becomes a path: `--name ../x` would otherwise point `lab down`'s
        # rmtree at a folder outside the state root.
        from lab.plan.names import check_lab_name

        check_lab_name(lab)
        self.lab = lab
        self.dir = state_root() / lab
        self._lock_fd: int | None = None

    # -- paths -------------------------------------------------------------------------------
    @property
    def plan_file(self) -> Path:
        return self.dir / "plan.json"

    @property
    def topology_file(self) -> Path:
        return self.dir / "topology.yaml"

    @property
    def journal(self) -> Journal:
        return Journal(self.dir / Journal.FILENAME)

    def node_dir(self, container: str) -> Path:
        return self.dir / "nodes" / container

    def log_dir(self) -> Path:
        return self.dir / "logs"

    # -- lifecycle ---------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.dir / Journal.FILENAME).exists()

    def create(self) -> None:
        """Claim the lab name; refuses when a lab of that name is already up (or half up)."""
        if self.exists():
            raise LabInputError("--name", f"a lab named {self.lab!r} already exists (state in {self.dir})",
                                f"run `lab down --name {self.lab}` first, or pick another --name")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.journal.path.touch()

    def lock(self) -> None:
        """An exclusive lock so two `lab` commands never change one lab at the same time."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.dir / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabInputError("--name", f"another `lab` command is changing lab {self.lab!r} right now",
                                "wait for it to finish") from None

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def save(self, plan_dict: dict, topology_text: str | None = None) -> None:
        """The lab's desired state in one step: its topology (when given) and its plan, each written to
        a temporary file and renamed over the old one, so a reader never sees half a file. Both are
        written before either is renamed, so a failed write (a full disk) changes neither."""
        staged = [(self.plan_file, json.dumps(plan_dict, indent=1))]
        if topology_text is not None:
            staged.insert(0, (self.topology_file, topology_text))
        for path, text in staged:
            path.with_suffix(".tmp").write_text(text)
        for path, _ in staged:
            path.with_suffix(".tmp").replace(path)

    def save_plan(self, plan_dict: dict) -> None:
        self.save(plan_dict)

    def load_plan(self) -> dict:
        if not self.plan_file.exists():
            raise LabInputError("--name", f"no lab named {self.lab!r} is up",
                                f"start one with `lab up --name {self.lab}`; {labs_up_text()}")
        return json.loads(self.plan_file.read_text())

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
