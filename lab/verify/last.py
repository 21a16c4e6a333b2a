"""The last `lab verify` report of a lab, kept in its state folder (`verify-report.json`), so
`lab graph --flows` (and the web view) can draw what that run saw without capturing again.
Written atomically after every run; `lab down` removes it with the rest of the folder."""

from __future__ import annotations

import json
import time

from lab.state.store import LabState

REPORT_FILE = "verify-report.json"


def save(state: LabState, report: dict) -> None:
    if not state.dir.is_dir():
        return  # the lab went down while we judged it: nothing to keep
    path = state.dir / REPORT_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**report, "saved_at": time.time()}, indent=1, default=str))
    tmp.replace(path)


def load(state: LabState) -> dict | None:
    path = state.dir / REPORT_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
