"""Typed errors of the PROXY protocol codec.

Every problem found in received bytes is a :class:`ProxyProtocolError`, so a server
can wrap header parsing in a single ``except ProxyProtocolError`` and drop the
connection, as the specification requires. The subclasses say *what* was wrong,
which matters for logs, metrics and the CLI's one-line error messages.

``ProxyProtocolError`` derives from ``ValueError`` because every one of them means
"these bytes (or these header fields) are not a valid PROXY protocol header".
"""

from __future__ import annotations

__all__ = [
    "ProxyProtocolError",
    "IncompleteHeader",
    "BadSignature",
    "BadVersion",
    "BadCommand",
    "BadFamily",
    "BadLength",
    "BadChecksum",
    "BadTLV",
    "BadAddress",
    "ReaderFinished",
]


class ProxyProtocolError(ValueError):
    """Base class: the bytes or fields do not form a valid PROXY protocol header."""


class IncompleteHeader(ProxyProtocolError):
    """More bytes are needed; ``needed`` is the minimum number still missing.

    Only a stream reader should catch this and wait; ``decode()`` given a whole
    buffer treats it as truncation.
    """

    def __init__(self, message: str, needed: int) -> None:
        super().__init__(message)
        self.needed = needed


class BadSignature(ProxyProtocolError):
    """Neither the v2 binary signature nor the v1 ``PROXY `` prefix."""


class BadVersion(ProxyProtocolError):
    """The v2 version nibble is not 2."""


class BadCommand(ProxyProtocolError):
    """The v2 command nibble is neither LOCAL (0) nor PROXY (1)."""


class BadFamily(ProxyProtocolError):
    """Unassigned address family or transport nibble (receivers must reject them)."""


class BadLength(ProxyProtocolError):
    """A length field disagrees with the content (address block, v1 line size, 64 KiB limit)."""


class BadChecksum(ProxyProtocolError):
    """The CRC32C TLV does not match the header."""


class BadTLV(ProxyProtocolError):
    """A TLV is truncated, has the wrong size for its type, or has an invalid value."""


class BadAddress(ProxyProtocolError):
    """An address or port cannot be parsed (v1 text) or encoded (bad field values)."""


class ReaderFinished(ProxyProtocolError):
    """A StreamReader was fed after it already returned its header."""
