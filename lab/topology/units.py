"""Rates, durations and percentages as people write them (`100mbit`, `20ms`, `1%`), for link impairments.

The spellings are tc's, so a value can be copied from a `tc qdisc` line: rates in bit/s with
k/m/g (decimal) or kbps/mbps/gbps (bytes), durations in us/ms/s, loss as a percentage.
"""

from __future__ import annotations

import re

_NUMBER = r"(\d+(?:\.\d+)?)"
_RATE = re.compile(_NUMBER + r"\s*(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$")
_DURATION = re.compile(_NUMBER + r"\s*(us|ms|s)$")
_PERCENT = re.compile(_NUMBER + r"\s*%$")
_RATE_FACTOR = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9,
                "bps": 8, "kbps": 8 * 10**3, "mbps": 8 * 10**6, "gbps": 8 * 10**9}
_DURATION_US = {"us": 1, "ms": 1000, "s": 1_000_000}

MAX_RATE_BPS = 100 * 10**9  # faster than any veth here: a larger value is a typo
MIN_RATE_BPS = 8_000  # tbf needs a burst of at least one MTU per tick to pass anything
MAX_DELAY_US = 60 * 1_000_000  # netem's own limit is far above; a minute is already no network


def _not_negative(text: str, what: str, example: str) -> None:
    if str(text).strip().startswith("-"):
        raise ValueError(f"{text} is negative; fix: a {what} cannot be below zero, e.g. {example}")


def rate_bps(text: str) -> int:
    _not_negative(text, "rate", "100mbit")
    found = _RATE.match(str(text).strip().lower())
    if not found:
        raise ValueError(f"{text!r} is not a rate; fix: write a number and a unit, e.g. 100mbit, 1gbit or 500kbit")
    bps = round(float(found[1]) * _RATE_FACTOR[found[2]])
    if not MIN_RATE_BPS <= bps <= MAX_RATE_BPS:
        raise ValueError(f"{text} is out of range; fix: use a rate from 8kbit to 100gbit")
    return bps


def duration_us(text: str) -> int:
    _not_negative(text, "duration", "20ms")
    found = _DURATION.match(str(text).strip().lower())
    if not found:
        raise ValueError(f"{text!r} is not a duration; fix: write a number and a unit, e.g. 20ms, 500us or 1s")
    us = round(float(found[1]) * _DURATION_US[found[2]])
    if us > MAX_DELAY_US:
        raise ValueError(f"{text} is out of range; fix: use at most 60s")
    return us


def percent(text: str) -> float:
    _not_negative(text, "loss", "1%")
    found = _PERCENT.match(str(text).strip())
    if not found:
        raise ValueError(f"{text!r} is not a percentage; fix: write a number and '%', e.g. 1% or 0.5%")
    value = float(found[1])
    if value > 100:
        raise ValueError(f"{text} is out of range; fix: use a loss from 0% to 100%")
    return value
