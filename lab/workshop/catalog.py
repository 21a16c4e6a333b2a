"""The exercises: one folder each under exercises/ (`NN-slug/exercise.yaml`, and any file it names)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from lab.topology.errors import LabInputError
from lab.workshop.model import Exercise

EXERCISES = Path(__file__).resolve().parent / "exercises"


def load(folder: Path) -> Exercise:
    """One exercise file, checked: a bad one is one line naming the file, the key and the fix."""
    path = folder / "exercise.yaml"
    try:
        data = yaml.safe_load(path.read_text())
        return Exercise.model_validate(data)
    except (OSError, yaml.YAMLError) as err:
        raise LabInputError(str(path), f"cannot be read: {err}", "fix the file's YAML") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LabInputError(f"{path}: {where}", first["msg"], "see docs/workshop-facilitator.md for the keys") from None


def all_exercises() -> list[tuple[Path, Exercise]]:
    found = [(folder, load(folder)) for folder in sorted(EXERCISES.iterdir()) if (folder / "exercise.yaml").is_file()]
    return sorted(found, key=lambda item: item[1].number)


def get(number: int) -> tuple[Path, Exercise]:
    exercises = all_exercises()
    for folder, ex in exercises:
        if ex.number == number:
            return folder, ex
    numbers = ", ".join(str(ex.number) for _, ex in exercises)
    raise LabInputError("N", f"there is no exercise {number}", f"use one of: {numbers} (`lab workshop list`)")
