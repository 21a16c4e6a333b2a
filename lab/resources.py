"""Where shipped data lives: the repo's top-level folders in a checkout, `lab/_data/` in a wheel."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def data_dir(name: str) -> Path:
    """`templates` or `topologies`: the checkout's folder when it exists, else the packaged copy."""
    repo = Path(__file__).resolve().parent.parent / name
    if repo.is_dir():
        return repo
    return Path(str(resources.files("lab"))) / "_data" / name
