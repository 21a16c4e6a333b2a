"""Incremental reading of a PROXY protocol header from a byte stream.

TCP delivers the header in pieces of any size. Feed them in; ``feed`` returns
``None`` while it needs more, then ``(header, rest)`` where ``rest`` is the first
payload bytes that arrived with the header's tail::

    reader = StreamReader()
    for chunk in chunks:                # e.g. sock.recv(4096) results
        result = reader.feed(chunk)
        if result is not None:
            header, rest = result       # rest belongs to the application
            break

Invalid bytes raise a ``ProxyProtocolError`` as soon as they are seen (a bad
signature is reported on its first wrong byte), so a server can close early.
``reader.needed`` tells how many more bytes are at least required, which is what a
blocking server passes to ``recv`` to avoid reading past the header; the helpers
``read_header(sock)`` and ``await read_header_async(stream_reader)`` do that.

A reader is single-use: after it returned its result, ``feed`` raises
``ReaderFinished``; the connection's later bytes go to the application as they are.
"""

from __future__ import annotations

import asyncio
import socket

from lab.ppv2.codec import decode
from lab.ppv2.errors import IncompleteHeader, ReaderFinished
from lab.ppv2.header import Header

__all__ = ["StreamReader", "read_header", "read_header_async"]


class StreamReader:
    """Accumulates chunks and lets ``decode`` judge them.

    ``decode`` already reports "incomplete, at least N more bytes" after checking
    everything it can see (signature, then version/command/family once 16 bytes are
    in), so the reader only re-tries when that many bytes have arrived. However finely
    a v2 header is split, that is one cheap attempt per signature byte (so a wrong
    byte is refused at once), one at 16 bytes and one when the header is complete.
    """

    __slots__ = ("_buffer", "_verify_crc", "_done", "_wanted")

    def __init__(self, *, verify_crc: bool = True) -> None:
        self._buffer = bytearray()
        self._verify_crc = verify_crc
        self._done = False
        self._wanted = 1  # buffer size at which the next decode attempt can progress

    @property
    def needed(self) -> int:
        """Minimum number of further bytes before a result is possible (0 once finished)."""
        return 0 if self._done else max(self._wanted - len(self._buffer), 1)

    @property
    def finished(self) -> bool:
        return self._done

    def feed(self, chunk: bytes) -> tuple[Header, bytes] | None:
        if self._done:
            raise ReaderFinished("this StreamReader already returned its header")
        buffer = self._buffer
        buffer += chunk
        if len(buffer) < self._wanted:
            return None
        try:
            header = decode(bytes(buffer), verify_crc=self._verify_crc)
        except IncompleteHeader as incomplete:
            self._wanted = len(buffer) + incomplete.needed
            return None
        self._done = True
        rest = bytes(buffer[header.consumed :])
        buffer.clear()
        return header, rest


def read_header(sock: socket.socket, *, verify_crc: bool = True) -> tuple[Header, bytes]:
    """Blocking: read exactly one header from ``sock``; return it with any payload bytes read along.

    For v2 it never reads past the header (it asks ``recv`` for ``needed`` bytes);
    a v1 line is read in small steps for the same reason.
    """
    reader = StreamReader(verify_crc=verify_crc)
    while True:
        chunk = sock.recv(max(reader.needed, 1))
        if not chunk:
            raise IncompleteHeader("connection closed before the PROXY header ended", needed=reader.needed)
        result = reader.feed(chunk)
        if result is not None:
            return result


async def read_header_async(stream: asyncio.StreamReader, *, verify_crc: bool = True) -> tuple[Header, bytes]:
    """asyncio: read one header from ``stream``; ``rest`` is always empty (nothing is over-read)."""
    reader = StreamReader(verify_crc=verify_crc)
    while True:
        chunk = await stream.read(max(reader.needed, 1))
        if not chunk:
            raise IncompleteHeader("connection closed before the PROXY header ended", needed=reader.needed)
        result = reader.feed(chunk)
        if result is not None:
            return result
