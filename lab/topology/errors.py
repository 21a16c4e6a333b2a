"""One error type for everything a user wrote wrong: a path into the file, the problem, and the fix."""

from __future__ import annotations

from collections.abc import Sequence

EXIT_USAGE = 2  # the CLI's exit code for bad input, as for a usage error


def format_path(loc: Sequence[str | int]) -> str:
    """('vpcs', 1, 'subnets', 0, 'cidr') -> 'vpcs[1].subnets[0].cidr'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


class LabInputError(Exception):
    """Bad input: the CLI prints `str(err)` and exits 2 without creating anything."""

    exit_code = EXIT_USAGE

    def __init__(self, path: str, problem: str, fix: str | None = None):
        self.path, self.problem, self.fix = path, problem, fix
        text = f"{path}: {problem}"
        if fix:
            text += f"; fix: {fix}"
        super().__init__(text)


class TopologyError(LabInputError):
    """An invalid topology file; `path` points into it (e.g. vpcs[1].subnets[0].cidr)."""
