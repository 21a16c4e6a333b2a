"""The intent journal: every object is recorded *before* it is created.

One JSON object per line, appended with a single write(2) each, so a `kill -9` at any instant
leaves a journal that names everything that may exist (plus, at worst, one thing that does not
yet: removal is idempotent, so that is harmless). `lab down` replays it in reverse.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class Journal:
    FILENAME = "journal.jsonl"

    def __init__(self, path: Path):
        self.path = path

    def record(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"kind": kind, **fields}, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def entries(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        for line in self.path.read_text().splitlines():
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a crash mid-write names nothing that was created
