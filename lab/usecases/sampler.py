"""The metrics sampler: one lab process on the host that takes a CloudWatch sample of its lab
(lab.usecases.metrics.metrics_sample) every 10 s for the lab's lifetime, so `lab metrics --since 1h`
has datapoints although nobody ran `lab ui` or `lab metrics --record` (AWS publishes PrivateLink
metrics whether or not anyone looks).

`lab up` starts it once the lab is up, under an owner token journaled before it starts, so `lab
down` stops exactly it (lab.apply.teardown), after a crash too. It also ends on its own when the
lab's state folder is gone. A failed sample (a node reloading, the lab going down) is logged and
the next one is tried; the sampler never changes the lab.
"""

from __future__ import annotations

import sys
import time

INTERVAL_S = 10.0


def start(state, interval_s: float = INTERVAL_S) -> str:
    """Start lab `state.lab`'s sampler; returns its owner token (journaled first)."""
    from lab.apply import processes
    from lab.metrics.store import FILENAME, MetricStore

    MetricStore(state.dir / FILENAME).close()  # the store exists once `lab up` returns, not a moment later
    token = processes.new_token(state.lab, "metrics-sampler")
    state.journal.record("process", token=token, role="metrics-sampler")
    argv = [sys.executable, "-m", "lab.usecases.sampler", state.lab, f"{interval_s:g}", token]
    processes.spawn_on_host(argv, state.log_dir() / "metrics-sampler.log")
    return token


def run(lab: str, interval_s: float) -> int:
    from lab.state.store import LabState
    from lab.usecases.metrics import metrics_sample

    state = LabState(lab)
    while state.plan_file.exists():
        t0 = time.monotonic()
        try:
            metrics_sample(lab)
        except Exception as err:  # noqa: BLE001 - one lost sample must not end the series
            print(f"{time.strftime('%H:%M:%S')} sample failed: {type(err).__name__}: {err}", flush=True)
        time.sleep(max(0.0, interval_s - (time.monotonic() - t0)))
    return 0


if __name__ == "__main__":  # argv: LAB INTERVAL_S TOKEN (the token only marks the process as the lab's)
    sys.exit(run(sys.argv[1], float(sys.argv[2])))
