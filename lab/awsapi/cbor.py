"""A small CBOR codec (RFC 8949), as much of it as Smithy's RPC v2 CBOR protocol uses.

botocore's CloudWatch model names `smithy-rpc-v2-cbor` first, so boto3 sends CloudWatch requests
as CBOR and parses CBOR replies. Decoded: every major type, definite and indefinite lengths, half,
single and double floats, tag 1 (epoch seconds: a timestamp, returned as a float). Encoded: what a
reply holds (dict, list, str, bytes, int, float, bool, None, and `Timestamp` as tag 1). Input is
untrusted: bounded depth and sizes, and every malformed item raises `CborError`.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from lab.awsapi.errors import Ec2Error

MAX_DEPTH = 32
MAX_ITEMS = 100_000


class CborError(Ec2Error, ValueError):
    """The bytes are not the CBOR this codec reads (the server answers it as a SerializationException)."""

    def __init__(self, message: str):
        super().__init__("SerializationException", message)


@dataclass(frozen=True)
class Timestamp:
    """Epoch seconds, encoded as tag 1 (Smithy's timestamps)."""

    seconds: float


# -- decoding ---------------------------------------------------------------------------------------

class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos, self.items = data, 0, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise CborError("truncated CBOR data")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def argument(self, info: int) -> int | None:
        if info < 24:
            return info
        if info in (24, 25, 26, 27):
            return int.from_bytes(self.take(1 << (info - 24)), "big")
        if info == 31:
            return None  # indefinite length
        raise CborError(f"reserved additional information {info}")


_BREAK = object()


def decode(data: bytes):
    reader = _Reader(bytes(data))
    value = _item(reader, 0)
    if value is _BREAK:
        raise CborError("unexpected break code")
    if reader.pos != len(reader.data):
        raise CborError("trailing bytes after the CBOR item")
    return value


def _item(r: _Reader, depth: int):
    if depth > MAX_DEPTH:
        raise CborError("CBOR nested too deeply")
    r.items += 1
    if r.items > MAX_ITEMS:
        raise CborError("too many CBOR items")
    initial = r.take(1)[0]
    major, info = initial >> 5, initial & 0x1F
    if major == 7:
        return _simple(r, info)
    arg = r.argument(info)
    if major == 0:
        return _need(arg)
    if major == 1:
        return -1 - _need(arg)
    if major in (2, 3):
        raw = r.take(arg) if arg is not None else _chunks(r, major, depth)
        if major == 2:
            return raw
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CborError("a text string is not UTF-8") from None
    if major == 4:
        return _sequence(r, arg, depth, lambda: _item(r, depth + 1))
    if major == 5:
        return _map(r, arg, depth)
    # major 6: a tag
    value = _item(r, depth + 1)
    if arg == 1:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CborError("tag 1 must hold a number of seconds")
        return float(value)
    raise CborError(f"CBOR tag {arg} is not supported")


def _need(arg: int | None) -> int:
    if arg is None:
        raise CborError("an integer cannot have an indefinite length")
    return arg


def _chunks(r: _Reader, major: int, depth: int) -> bytes:
    out = b""
    while True:
        chunk = _item(r, depth + 1)
        if chunk is _BREAK:
            return out
        if not isinstance(chunk, bytes if major == 2 else str):
            raise CborError("an indefinite string holds a chunk of another type")
        out += chunk if major == 2 else chunk.encode()


def _sequence(r: _Reader, count: int | None, depth: int, read) -> list:
    out = []
    if count is not None:
        if count > MAX_ITEMS:
            raise CborError("CBOR array too long")
        for _ in range(count):
            value = read()
            if value is _BREAK:
                raise CborError("unexpected break code")
            out.append(value)
        return out
    while (value := read()) is not _BREAK:
        out.append(value)
    return out


def _map(r: _Reader, count: int | None, depth: int) -> dict:
    out: dict = {}
    n = 0
    while count is None or n < count:
        key = _item(r, depth + 1)
        if key is _BREAK:
            if count is None:
                return out
            raise CborError("unexpected break code")
        if not isinstance(key, str):
            raise CborError("map keys must be text strings")
        value = _item(r, depth + 1)
        if value is _BREAK:
            raise CborError("a map key has no value")
        out[key] = value
        n += 1
    return out


def _simple(r: _Reader, info: int):
    if info == 20:
        return False
    if info == 21:
        return True
    if info in (22, 23):
        return None
    if info == 25:
        return _half(r.take(2))
    if info == 26:
        return struct.unpack(">f", r.take(4))[0]
    if info == 27:
        return struct.unpack(">d", r.take(8))[0]
    if info == 31:
        return _BREAK
    raise CborError(f"simple value {info} is not supported")


def _half(raw: bytes) -> float:
    bits = int.from_bytes(raw, "big")
    sign, exp, frac = bits >> 15, (bits >> 10) & 0x1F, bits & 0x3FF
    if exp == 0:
        value = frac * 2.0 ** -24
    elif exp == 31:
        value = math.inf if frac == 0 else math.nan
    else:
        value = (1 + frac / 1024) * 2.0 ** (exp - 15)
    return -value if sign else value


# -- encoding ---------------------------------------------------------------------------------------

def encode(value) -> bytes:
    out = bytearray()
    _put(out, value)
    return bytes(out)


def _head(out: bytearray, major: int, n: int) -> None:
    if n < 24:
        out.append(major << 5 | n)
    elif n < 1 << 8:
        out += bytes([major << 5 | 24, n])
    elif n < 1 << 16:
        out.append(major << 5 | 25)
        out += n.to_bytes(2, "big")
    elif n < 1 << 32:
        out.append(major << 5 | 26)
        out += n.to_bytes(4, "big")
    else:
        out.append(major << 5 | 27)
        out += n.to_bytes(8, "big")


def _put(out: bytearray, value) -> None:
    if value is None:
        out.append(0xF6)
    elif value is True:
        out.append(0xF5)
    elif value is False:
        out.append(0xF4)
    elif isinstance(value, Timestamp):
        _head(out, 6, 1)
        _put(out, float(value.seconds))
    elif isinstance(value, int):
        _head(out, 0, value) if value >= 0 else _head(out, 1, -1 - value)
    elif isinstance(value, float):
        out.append(0xFB)
        out += struct.pack(">d", value)
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        _head(out, 3, len(raw))
        out += raw
    elif isinstance(value, (bytes, bytearray)):
        _head(out, 2, len(value))
        out += value
    elif isinstance(value, (list, tuple)):
        _head(out, 4, len(value))
        for item in value:
            _put(out, item)
    elif isinstance(value, dict):
        _head(out, 5, len(value))
        for key, item in value.items():
            _put(out, str(key))
            _put(out, item)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as CBOR")
