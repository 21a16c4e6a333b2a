"""Ctrl-C (SIGINT) at moments of our choosing, so an interrupted `lab up` never reports the opposite
of what it left.

Python raises KeyboardInterrupt wherever the main thread happens to be, including in the middle of
a rollback or between "the lab is up" and the line that says so. A guard replaces that with three
modes: `raise` (Python's behaviour: every SIGINT raises KeyboardInterrupt), `once` (the next one
raises and the guard goes to `count`, so a second Ctrl-C cannot cut the rollback the first one
started) and `count` (SIGINT is only counted in `pending`, for whoever set the mode to read).
Bring-up runs its steps in `once`, and its rollback and everything after "the lab is up" in `count`.

A pure module (standard library only) at the bottom of the layer order, beside lab.resources: both
lab.apply (bring-up) and the CLI (which installs the guard around each command) use it.

Only the main thread can install a signal handler; elsewhere the guard does nothing (and no
KeyboardInterrupt is delivered there anyway). Nor does it when SIGINT is ignored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class SigintGuard:
    def __init__(self) -> None:
        self.mode = "raise"
        self.pending = 0  # SIGINTs received in `count` mode

    def arm_once(self) -> None:
        """The next SIGINT raises KeyboardInterrupt; one that came while counting raises here and now."""
        if self.pending:
            self.pending = 0
            raise KeyboardInterrupt
        self.mode = "once"

    def disarm(self) -> None:
        """From now on SIGINT is only counted."""
        self.mode = "count"

    def _handle(self, _signum, _frame) -> None:
        if self.mode == "count":
            self.pending += 1
            return
        if self.mode == "once":
            self.mode = "count"
        raise KeyboardInterrupt


_installed: SigintGuard | None = None


@contextmanager
def sigint_guard() -> Iterator[SigintGuard]:
    """Install a guard (mode `raise`) for the block, or reuse the one an outer block installed (the
    CLI installs one around each command, so `lab up`'s report is printed under it too). The
    outermost block restores the previous handler; it does not re-raise what is pending."""
    global _installed
    if _installed is not None:
        yield _installed
        return
    guard = SigintGuard()
    # A process started with SIGINT ignored (`nohup`, `cmd &` in a script) keeps ignoring it.
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield guard
        return
    previous = signal.signal(signal.SIGINT, guard._handle)
    _installed = guard
    try:
        yield guard
    finally:
        _installed = None
        signal.signal(signal.SIGINT, previous)
