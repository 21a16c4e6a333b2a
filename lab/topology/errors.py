"""The two kinds of error the CLI reports in one line: what a user wrote wrong (`LabInputError`: a
path into the input, the problem, the fix; exit 2, nothing changed), and what the system failed to
do (`LabSystemError`: the lab, the kernel, the engine; exit 1).

Both live here, in a module that imports nothing of the lab, because every layer (plan, state,
apply, image, privatelink, verify) may import lab.topology, and the CLI may import this module
directly: so every error class of the project can derive from one of the two, and `lab` catches
exactly these two bases (tests/unit/test_error_classes.py fails on a class that derives from neither).
"""

from __future__ import annotations

from collections.abc import Sequence

EXIT_USAGE = 2  # the CLI's exit code for bad input, as for a usage error
EXIT_FAILURE = 1  # the CLI's exit code when the system (not the input) failed


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


class LabSystemError(Exception):
    """The system failed, not the input: the CLI prints `error: MESSAGE[; fix: FIX]` and exits
    `exit_code` (1). Subclass it for every failure that can reach a command; give `fix=` when the
    error knows what the user can do about it.

    Classes that were RuntimeErrors keep RuntimeError as a second base (`class X(LabSystemError,
    RuntimeError)`): code in lab.apply catches RuntimeError around them to roll back (reconcile).
    """

    exit_code = EXIT_FAILURE

    def __init__(self, message: str = "", *, fix: str | None = None):
        self.message, self.fix = message, fix
        super().__init__(f"{message}; fix: {fix}" if fix else message)
