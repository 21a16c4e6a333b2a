#!/usr/bin/env python3
"""The auto-accept "Lambda" now ships in the package as `lab.apps.auto_accept`: read it there.

A topology runs it as `command: [python3, -m, lab.apps.auto_accept, --allow, ACCOUNT, ...]`, which
works from an installed wheel too. This file stays so that topologies written for
`[python3, examples/auto_accept.py, ...]` (run from a checkout) keep working; it runs the same code.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    try:
        from lab.apps.auto_accept import main
    except ImportError:  # a plain `python3` outside the venv, in a checkout: use the checkout's package
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from lab.apps.auto_accept import main
    sys.exit(main())
