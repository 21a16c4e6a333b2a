"""How often, and for how long, a failed notification is delivered again (pure: no I/O of its own).

A subscriber that fails (a command's exit != 0 or its timeout; a webhook's non-2xx answer or a
connection error) gets up to `attempts` tries, with a short doubling pause between them. Delivery
runs synchronously at the end of a command, so the total is bounded too: the first attempt always
runs, and a retry starts only if it could end (pause + the subscriber's full timeout) within
`budget_s` of the first attempt's start. So one subscriber's delivery never takes longer than
max(its timeout, budget_s), whatever its timeout and attempts are.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

ATTEMPTS = 3  # the topology's default (Subscriber.attempts)
FIRST_PAUSE_S = 0.25
PAUSE_FACTOR = 2.0
BUDGET_S = 120.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = ATTEMPTS
    first_pause_s: float = FIRST_PAUSE_S
    factor: float = PAUSE_FACTOR
    budget_s: float = BUDGET_S

    def pause_before(self, attempt: int) -> float:
        """The pause before attempt `attempt` (1-based): none before the first, then 0.25, 0.5, 1 s..."""
        return 0.0 if attempt <= 1 else self.first_pause_s * self.factor ** (attempt - 2)

    def may_retry(self, attempt: int, elapsed_s: float, timeout_s: float) -> bool:
        """Whether attempt `attempt + 1` may start after `attempt` failed, `elapsed_s` into the delivery."""
        if attempt >= self.attempts:
            return False
        return elapsed_s + self.pause_before(attempt + 1) + timeout_s <= self.budget_s


def run(attempt: Callable[[int], dict], policy: RetryPolicy, timeout_s: float,
        record: Callable[[dict], None] = lambda _outcome: None,
        clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> list[dict]:
    """Call `attempt(n)` (n = 1, 2, ...; it returns a dict with "Ok") until one succeeds or the policy
    says stop. Returns every outcome, each with Attempt, Final and, when another follows, RetryIn;
    `record` gets each one as soon as that is decided (before the pause), so a log is never behind."""
    outcomes: list[dict] = []
    start = clock()
    n = 1
    while True:
        outcome = {**attempt(n), "Attempt": n}
        outcomes.append(outcome)
        again = not outcome["Ok"] and policy.may_retry(n, clock() - start, timeout_s)
        outcome["Final"] = not again
        if again:
            outcome["RetryIn"] = policy.pause_before(n + 1)
        record(outcome)
        if not again:
            return outcomes
        sleep(outcome["RetryIn"])
        n += 1
