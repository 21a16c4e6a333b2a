"""Access keys per account (or IAM user), derived from a lab's secret: stable for the lab's life,
different for every lab, and nothing stored per key. AWS's shapes: an access key ID is `AKIA` and
16 characters of A-Z2-7; a secret access key is 40 base64 characters."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class KeyPair:
    account: str  # the account's name in the topology
    account_id: str
    user: str | None  # an IAM user within the account; None = the account's own (root) credentials
    access_key_id: str
    secret_access_key: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:" + (f"user/{self.user}" if self.user else "root")


def _mac(secret: bytes, *parts: str) -> bytes:
    return hmac.new(secret, "\x1f".join(parts).encode(), hashlib.sha256).digest()


def derive(secret: bytes, lab: str, account: str, account_id: str, user: str | None = None) -> KeyPair:
    who = (lab, account_id, user or "")
    key_id = "AKIA" + base64.b32encode(_mac(secret, "access-key-id", *who)).decode()[:16]
    secret_key = base64.b64encode(_mac(secret, "secret-access-key", *who)[:30]).decode()
    return KeyPair(account, account_id, user, key_id, secret_key)
