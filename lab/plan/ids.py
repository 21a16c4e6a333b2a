"""Deterministic AWS-shaped identifiers.

An ID is a hash of the lab's name and the object's identity, so the same topology under the
same lab name always yields the same vpc-/subnet-/vpce- IDs: tests can pin them, and a workshop
hand-out stays valid across rebuilds. Different lab names give different IDs.
"""

from __future__ import annotations

import hashlib

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def aws_id(prefix: str, lab: str, *identity: str) -> str:
    """e.g. aws_id("vpce", "default", "endpoint", "web") -> 'vpce-0b4c...' (17 hex digits, like AWS)."""
    return f"{prefix}-0{digest(prefix, lab, *identity)[:16]}"


def dns_token(lab: str, *identity: str) -> str:
    """The 8 random-looking [a-z0-9] characters AWS puts in endpoint DNS names."""
    n = int(digest("dns", lab, *identity)[:16], 16)
    out = []
    for _ in range(8):
        n, r = divmod(n, len(_ALNUM))
        out.append(_ALNUM[r])
    return "".join(out)
