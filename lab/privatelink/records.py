"""What the control plane keeps beside the topology, in the lab's state folder.

- `privatelink.json`: per endpoint its creation time and state history, plus the endpoints deleted
  so far (their last description, shown with State "deleted", and their names, never reused so an
  endpoint ID never comes back) and the consumer-side subscribers of deleted endpoints. Rewritten atomically, under the lab lock.
- `events.jsonl`: the connection events (Connect, Accept, Reject, Delete), one JSON object a line,
  appended under the lab lock, so event IDs are a gap-free sequence.
- `deliveries.jsonl`: one line per attempt to hand an event to a subscriber (appended with a single
  write(2), since deliveries run outside the lock and may overlap); a retried delivery has one line
  per attempt (Attempt n of MaxAttempts), the last with Final true.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lab.state.store import LabState

RECORD_FILE = "privatelink.json"
EVENTS_FILE = "events.jsonl"
DELIVERIES_FILE = "deliveries.jsonl"


def timestamp(epoch: float | None = None) -> str:
    """AWS's wire format for times: ISO 8601, UTC, milliseconds, e.g. 2024-05-01T12:00:00.123Z."""
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _append_line(path: Path, data: dict) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(data, sort_keys=False) + "\n").encode())
    finally:
        os.close(fd)


def _read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line torn by a crash mid-write
    return out


class Record:
    """privatelink.json: endpoint metadata the topology does not hold."""

    def __init__(self, state: LabState):
        self.path = state.dir / RECORD_FILE
        self.data: dict[str, Any] = {"endpoints": {}, "deleted": {}}
        if self.path.exists():
            self.data.update(json.loads(self.path.read_text()))

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        tmp.replace(self.path)

    def endpoint(self, name: str) -> dict:
        return self.data["endpoints"].get(name, {})

    def created(self, name: str, vpce_id: str, when: str, state: str, actor: str) -> None:
        self.data["endpoints"][name] = {"VpcEndpointId": vpce_id, "CreationTimestamp": when,
                                        "History": [{"State": state, "Time": when, "By": actor}]}

    def transition(self, name: str, state: str, when: str, actor: str, error: str | None = None) -> None:
        entry = self.data["endpoints"].setdefault(name, {"CreationTimestamp": when, "History": []})
        step = {"State": state, "Time": when, "By": actor}
        if error:
            step["Error"] = error
            entry["LastError"] = {"Code": "DataPlaneFailure", "Message": error}
        entry["History"].append(step)

    def deleted(self, name: str, description: dict, when: str, actor: str) -> None:
        entry = self.data["endpoints"].pop(name, {})
        history = entry.get("History", []) + [{"State": "deleting", "Time": when, "By": actor},
                                               {"State": "deleted", "Time": when, "By": actor}]
        self.data["deleted"][name] = {**description, "State": "deleted", "History": history}

    def name_used(self, name: str) -> str | None:
        """The endpoint ID a deleted endpoint of that name had, if any."""
        gone = self.data["deleted"].get(name)
        return gone["VpcEndpointId"] if gone else None

    def deleted_endpoints(self) -> list[dict]:
        return list(self.data["deleted"].values())

    def keep_subscribers(self, name: str, subscribers: list[dict]) -> None:
        """A deleted endpoint's own subscribers (as the topology wrote them): its Delete event is
        delivered after the topology lost the endpoint, and they must still hear it."""
        if subscribers:
            self.data.setdefault("subscribers", {})[name] = subscribers

    def kept_subscribers(self) -> dict[str, list[dict]]:
        return self.data.get("subscribers", {})


class EventLog:
    """events.jsonl: the connection events of one lab, in order."""

    def __init__(self, state: LabState):
        self.path = state.dir / EVENTS_FILE

    def append(self, events: list[dict]) -> list[dict]:
        """Number the events (call under the lab lock) and append them; returns them with their IDs."""
        seq = len(_read_lines(self.path))
        out = []
        for event in events:
            seq += 1
            numbered = {"EventId": f"evt-{seq:06d}", **event}
            _append_line(self.path, numbered)
            out.append(numbered)
        return out

    def read(self) -> list[dict]:
        return _read_lines(self.path)

    def follow(self, skip: int, timeout: float, count: int | None = None, poll: float = 0.1) -> Iterator[dict]:
        """Events after the first `skip`, as they are appended, for at most `timeout` seconds
        (and at most `count` events): bounded, so a forgotten `--follow` never runs forever."""
        deadline = time.monotonic() + timeout
        seen = skip
        given = 0
        while time.monotonic() < deadline:
            events = self.read()
            for event in events[seen:]:
                yield event
                given += 1
                if count is not None and given >= count:
                    return
            seen = max(seen, len(events))
            time.sleep(poll)


class DeliveryLog:
    def __init__(self, state: LabState):
        self.path = state.dir / DELIVERIES_FILE

    def append(self, result: dict) -> None:
        _append_line(self.path, result)

    def read(self) -> list[dict]:
        return _read_lines(self.path)


# -- reading, by lab name (lab events) ----------------------------------------------------------

def _up(lab: str) -> LabState:
    state = LabState(lab)
    state.load_plan()  # "no lab named X is up" as bad input
    return state


def events_of(lab: str) -> list[dict]:
    """The lab's connection events, each with its deliveries to subscribers."""
    state = _up(lab)
    per_event: dict[str, list[dict]] = {}
    for d in DeliveryLog(state).read():
        per_event.setdefault(d["EventId"], []).append(d)
    return [{**e, "Deliveries": per_event.get(e["EventId"], [])} for e in EventLog(state).read()]


def follow(lab: str, timeout: float, count: int | None = None) -> Iterator[dict]:
    """New connection events as they come, for `timeout` seconds (or `count` events)."""
    log = EventLog(_up(lab))
    return log.follow(len(log.read()), timeout, count)


def deliveries_of(lab: str) -> list[dict]:
    return DeliveryLog(_up(lab)).read()
