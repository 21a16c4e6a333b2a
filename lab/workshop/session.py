"""`lab workshop list|start|check|hint|reset`: one exercise, its own lab, its participant's folder.

Each exercise runs in a lab of its own (`ws-NN`), brought up from a copy of its topology in the
participant's folder (`<dir>/NN-slug/topology.yaml`, theirs to edit), beside `answers.yaml` (the keys
the task asks for) and `TASK.md`. `check` judges every criterion on the live lab and keeps the result
(`.last-check.json`); `hint` counts in `.hints`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import yaml

from lab import api
from lab.topology.errors import LabInputError
from lab.workshop import catalog
from lab.workshop.criteria import judge
from lab.workshop.model import Exercise

DEFAULT_DIR = Path(os.environ.get("LAB_WORKSHOP_DIR", "~/privatelink-workshop")).expanduser()


def lab_name(ex: Exercise) -> str:
    return f"ws-{ex.number:02d}"


def workdir(base: Path, folder: Path) -> Path:
    return base / folder.name


def _is_up(lab: str) -> bool:
    return lab in api.list_labs()


def list_exercises(base: Path = DEFAULT_DIR) -> list[dict]:
    out = []
    for folder, ex in catalog.all_exercises():
        last = workdir(base, folder) / ".last-check.json"
        passed = json.loads(last.read_text()).get("Passed") if last.is_file() else None
        out.append({"Exercise": ex.number, "Title": ex.title, "Minutes": ex.minutes, "Lab": lab_name(ex),
                    "Started": _is_up(lab_name(ex)), "LastCheck": {True: "PASS", False: "FAIL"}.get(passed, "-"),
                    "Folder": str(workdir(base, folder))})
    return out


def _topology_ref(folder: Path, ex: Exercise) -> str:
    beside = folder / ex.topology
    return str(beside) if beside.is_file() else ex.topology


def _answers_template(ex: Exercise) -> str:
    lines = [f"# Exercise {ex.number}: {ex.title}. Your answers: fill in each value, then `lab workshop check {ex.number}`."]
    lines += [f"{key}: " for key in ex.answers]
    return "\n".join(lines) + "\n"


def _task_text(ex: Exercise) -> str:
    return f"# Exercise {ex.number}: {ex.title} (~{ex.minutes} min)\n\n**The claim.** {ex.claim.strip()}\n\n{ex.task.strip()}\n"


def start(number: int, base: Path = DEFAULT_DIR, progress=None) -> dict:
    """Bring up the exercise's lab from a fresh copy of its topology, and write the participant's folder."""
    folder, ex = catalog.get(number)
    lab = lab_name(ex)
    if _is_up(lab):
        raise LabInputError("N", f"exercise {number} is already started (lab {lab} is up)",
                            f"carry on, or `lab workshop reset {number}` to start it again")
    text = api.topology_text(_topology_ref(folder, ex))
    work = workdir(base, folder)
    work.mkdir(parents=True, exist_ok=True)
    (work / "topology.yaml").write_text(text)
    (work / "TASK.md").write_text(_task_text(ex))
    if not (work / "answers.yaml").exists():
        (work / "answers.yaml").write_text(_answers_template(ex))
    (work / ".hints").unlink(missing_ok=True)
    (work / ".last-check.json").unlink(missing_ok=True)
    api.up(work / "topology.yaml", lab, progress or (lambda _m: None))
    return {"Exercise": ex.number, "Title": ex.title, "Lab": lab, "Folder": str(work), "Minutes": ex.minutes,
            "Claim": ex.claim.strip(), "Task": ex.task.strip(), "Answers": ex.answers}


def _answers(work: Path) -> dict:
    path = work / "answers.yaml"
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise LabInputError(str(path), f"is not valid YAML ({str(err).splitlines()[0]})",
                            "write one `key: value` per line") from None
    if not isinstance(data, dict):
        raise LabInputError(str(path), "is not a mapping", "write one `key: value` per line")
    return data


def check(number: int, base: Path = DEFAULT_DIR) -> dict:
    """Judge every criterion on the exercise's live lab: PASS or FAIL each, with its reason."""
    folder, ex = catalog.get(number)
    lab = lab_name(ex)
    if not _is_up(lab):
        raise LabInputError("N", f"exercise {number} is not started (no lab {lab})", f"run `lab workshop start {number}`")
    work = workdir(base, folder)
    answers = _answers(work)
    t0 = time.monotonic()
    results = []
    for crit in ex.criteria:
        t = time.monotonic()
        passed, reason = judge(crit, lab, answers, work)
        results.append({"Title": crit.title, "Kind": crit.kind, "Passed": passed, "Reason": reason,
                        "Seconds": round(time.monotonic() - t, 2)})
    out = {"Exercise": ex.number, "Title": ex.title, "Lab": lab, "Passed": all(r["Passed"] for r in results),
           "Criteria": results, "Seconds": round(time.monotonic() - t0, 2)}
    if work.is_dir():
        (work / ".last-check.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


def hint(number: int, base: Path = DEFAULT_DIR) -> dict:
    """The next hint (the last one again once all are shown)."""
    folder, ex = catalog.get(number)
    work = workdir(base, folder)
    counter = work / ".hints"
    shown = int(counter.read_text()) if counter.is_file() else 0
    index = min(shown, len(ex.hints) - 1)
    if work.is_dir():
        counter.write_text(str(index + 1))
    return {"Exercise": ex.number, "Hint": ex.hints[index].strip(), "Number": index + 1, "Of": len(ex.hints)}


def reset(number: int, base: Path = DEFAULT_DIR, progress=None) -> dict:
    """Back to the start: the lab down and up again from the original topology; answers.yaml is kept
    as answers.yaml.bak and starts empty."""
    folder, ex = catalog.get(number)
    lab = lab_name(ex)
    if _is_up(lab):
        api.down(lab, progress or (lambda _m: None))
    work = workdir(base, folder)
    if (work / "answers.yaml").is_file():
        (work / "answers.yaml").replace(work / "answers.yaml.bak")
    return start(number, base, progress)


def stop(number: int, progress=None) -> dict:
    """Take the exercise's lab down (the participant's folder stays)."""
    _, ex = catalog.get(number)
    lab = lab_name(ex)
    was_up = _is_up(lab)
    if was_up:
        api.down(lab, progress or (lambda _m: None))
    return {"Exercise": ex.number, "Lab": lab, "WasUp": was_up}
