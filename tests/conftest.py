"""Shared by the unit and end-to-end suites."""

from __future__ import annotations

import signal

# A CI runner may start the suite as a background job of a non-interactive shell, which leaves SIGINT
# ignored: Python then installs no KeyboardInterrupt handler, and every child inherits the ignoring, so
# neither this process nor a `lab up` a test interrupts could ever see Ctrl-C. Python's default handler
# is put back here; a handler (unlike SIG_IGN) is reset to the default when a child execs.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
