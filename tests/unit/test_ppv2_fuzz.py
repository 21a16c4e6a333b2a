"""Fuzzing: whatever the bytes, decode either succeeds consistently or raises ProxyProtocolError.

The fast tests use hypothesis; ``test_fuzz_100k`` (marked slow) runs >= 100,000
deterministic cases: random bytes, signature-prefixed junk, and mutations of valid
headers (bit flips, byte overwrites, truncation, insertion, deletion, len tweaks).
Run it as a script to see the count:

    .venv/bin/python tests/unit/test_ppv2_fuzz.py [CASES] [--seed N]
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.ppv2 import (
    SIGNATURE,
    TLV,
    Command,
    Family,
    Header,
    ProxyProtocolError,
    StreamReader,
    Transport,
    aws_health_check_header,
    aws_nlb_header,
    decode,
    encode,
    with_crc,
)

ACCESSORS = (
    "alpn", "authority", "crc32c", "unique_id", "ssl", "netns",
    "aws_vpce_id", "azure_link_id", "gcp_psc_connection_id", "length", "has_addresses",
)


def check_contract(data: bytes) -> str:
    """Decode ``data`` and check what success promises; return the outcome's name.

    Anything but a ProxyProtocolError escapes and fails the caller.
    """
    try:
        header = decode(data)
    except ProxyProtocolError as error:
        return type(error).__name__
    assert 0 < header.consumed <= len(data)
    if not (header.version == 1 and header.family == Family.UNSPEC):  # v1 UNKNOWN drops its ignored tail
        assert encode(header) == data[: header.consumed]
    for name in ACCESSORS:
        getattr(header, name)
    header.to_dict()
    return "decoded"


def check_stream(data: bytes, rng: random.Random) -> None:
    """The stream reader, fed random splits, agrees with decode (same header or same error type)."""
    try:
        expected: object = decode(data)
    except ProxyProtocolError as error:
        expected = type(error)
    reader, position, got = StreamReader(), 0, None
    try:
        while position < len(data) and got is None:
            size = rng.randint(1, 40)
            got = reader.feed(data[position : position + size])
            position += size
    except ProxyProtocolError as error:
        got = type(error)
    if got is None:  # ran out of data: decode must have said "incomplete"
        assert expected.__name__ == "IncompleteHeader"  # type: ignore[union-attr]
    elif isinstance(got, tuple):
        assert got[0] == expected
    else:
        assert got == expected


def corpus() -> list[bytes]:
    """Valid headers covering every decoder path, to mutate."""
    inet = (Command.PROXY, Family.INET, Transport.STREAM, "10.0.0.1", "10.0.0.2", 1, 2)
    rich_tlvs = (
        TLV.crc32c(), TLV.alpn(b"h2"), TLV.authority("a.example"), TLV.unique_id(b"u" * 20),
        TLV.ssl(1, 0, [TLV(0x21, b"TLSv1.3"), TLV(0x22, b"cn")]), TLV.netns("ns"),
        TLV.aws_vpce_id("vpce-0123456789abcdef0"), TLV.azure_link_id(7), TLV.gcp_psc_connection_id(9),
    )
    headers = [
        aws_nlb_header("172.31.7.113", 51442, "172.31.10.31", 80, "vpce-08d2bf15fac5001c9"),
        aws_nlb_header("2001:db8::1", 1, "2001:db8::2", 2, "vpce-1"),
        aws_health_check_header(),
        Header(*inet, rich_tlvs),
        Header(Command.PROXY, Family.INET6, Transport.DGRAM, "::1", "::2", 3, 4, (TLV.crc32c(),)),
        Header(Command.PROXY, Family.UNIX, Transport.STREAM, "/a", "\0b", tlvs=(TLV.noop(3),)),
        Header(Command.LOCAL, Family.UNSPEC, Transport.UNSPEC),
        Header(Command.LOCAL, Family.INET, Transport.STREAM, "10.9.9.9", "10.8.8.8", 5, 6, (TLV.noop(4),)),
        Header(Command.PROXY, Family.UNSPEC, Transport.UNSPEC, tlvs=(TLV(0xF1, b"x"), TLV(0xF1, b"y"))),
    ]
    raws = [encode(with_crc(header)) for header in headers]
    raws += [
        b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
        b"PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n",
        b"PROXY UNKNOWN\r\n",
    ]
    return raws


def mutate(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(8)
        at = rng.randrange(len(data)) if data else 0
        if kind == 0 and data:
            data[at] ^= 1 << rng.randrange(8)
        elif kind == 1 and data:
            data[at] = rng.randrange(256)
        elif kind == 2:
            del data[rng.randrange(len(data) + 1) :]
        elif kind == 3:
            data[at:at] = rng.randbytes(rng.randint(1, 8))
        elif kind == 4 and data:
            del data[at : at + rng.randint(1, 8)]
        elif kind == 5 and len(data) >= 16:
            data[14:16] = rng.randrange(0x10000).to_bytes(2, "big")  # lie about len
        elif kind == 6 and len(data) >= 16:
            data[13] = rng.choice((0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32, rng.randrange(256)))
        elif kind == 7 and len(data) >= 16:
            data[12] = rng.choice((0x20, 0x21, rng.randrange(256)))
    return bytes(data)


def generate(cases: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    seeds = corpus()
    makers: list[Callable[[], bytes]] = [
        lambda: rng.randbytes(rng.randint(0, 120)),
        lambda: SIGNATURE + rng.randbytes(rng.randint(0, 120)),
        lambda: SIGNATURE + bytes((rng.choice((0x20, 0x21)), rng.choice((0x00, 0x11, 0x21, 0x31))))
        + (n := rng.randint(0, 80)).to_bytes(2, "big") + rng.randbytes(n + rng.randint(-3, 3) if n > 3 else n),
        lambda: b"PROXY " + bytes(rng.choice(b"TCP46UNKOW .:0123456789abcdef\r\n") for _ in range(rng.randint(0, 110))),
        lambda: mutate(rng.choice(seeds), rng),
        lambda: mutate(rng.choice(seeds), rng),
        lambda: mutate(rng.choice(seeds), rng),
    ]
    for _ in range(cases):
        yield rng.choice(makers)()


def run_fuzz(cases: int, seed: int = 2024) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    stream_rng = random.Random(seed + 1)
    for index, data in enumerate(generate(cases, seed)):
        try:
            outcomes[check_contract(data)] += 1
            if index % 10 == 0:
                check_stream(data, stream_rng)
        except Exception as unexpected:  # noqa: BLE001 - reported with the input that caused it
            raise AssertionError(f"case {index}: {data.hex()} -> {unexpected!r}") from unexpected
    return outcomes


# ------------------------------------------------------------------ pytest

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_only_raise_proxy_protocol_errors(data: bytes) -> None:
    assert check_contract(data)


@FUZZ
@given(st.binary(max_size=120))
def test_signature_prefixed_junk_only_raises_proxy_protocol_errors(tail: bytes) -> None:
    assert check_contract(SIGNATURE + tail)


@FUZZ
@given(st.sampled_from(corpus()), st.randoms(use_true_random=False))
def test_mutated_valid_headers_only_raise_proxy_protocol_errors(raw: bytes, rng: random.Random) -> None:
    data = mutate(raw, rng)
    assert check_contract(data)
    check_stream(data, rng)


def test_corpus_is_valid() -> None:
    # The mutation seeds must themselves decode, or the fuzzing would start from noise.
    assert all(check_contract(raw) == "decoded" for raw in corpus())


def test_short_fuzz_run_exercises_both_outcomes() -> None:
    outcomes = run_fuzz(3_000, seed=7)
    assert sum(outcomes.values()) == 3_000
    assert outcomes["decoded"] > 30  # mutations that keep a valid header (~3%)
    assert outcomes["BadChecksum"] > 30  # mutations caught only by the CRC (~2%)


@pytest.mark.slow
def test_fuzz_100k() -> None:
    outcomes = run_fuzz(100_000)
    assert sum(outcomes.values()) >= 100_000
    assert len(outcomes) >= 8  # decoded plus many distinct error types were reached


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100_000
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 2024
    result = run_fuzz(count, seed)
    print(f"fuzz: {sum(result.values())} cases (seed {seed}), 0 unexpected exceptions")
    for outcome, number in result.most_common():
        print(f"  {outcome:<16} {number}")
