"""StreamReader: chunks of any size in, (header, rest) out; socket and asyncio helpers."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from lab.ppv2 import (
    BadChecksum,
    BadSignature,
    BadVersion,
    IncompleteHeader,
    ReaderFinished,
    StreamReader,
    aws_health_check_header,
    aws_nlb_header,
    encode,
    read_header,
    read_header_async,
)

AWS = encode(aws_nlb_header("172.31.7.113", 51442, "172.31.10.31", 80, "vpce-08d2bf15fac5001c9"))
V1 = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
PAYLOAD = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"


def feed_in_chunks(data: bytes, size: int) -> tuple[list[object], StreamReader]:
    reader = StreamReader()
    results = []
    for start in range(0, len(data), size):
        results.append(reader.feed(data[start : start + size]))
        if results[-1] is not None:
            break
    return results, reader


@pytest.mark.parametrize("raw", [AWS, V1, encode(aws_health_check_header())], ids=["aws", "v1", "health"])
@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, 17, 99, 100, 4096])
def test_any_chunking_gives_the_same_header_and_rest(raw: bytes, size: int) -> None:
    results, reader = feed_in_chunks(raw + PAYLOAD, size)
    assert all(result is None for result in results[:-1])
    header, rest = results[-1]  # type: ignore[misc]
    assert encode(header) == raw
    consumed_chunks = len(results) * size
    assert rest == (raw + PAYLOAD)[len(raw) : consumed_chunks]
    assert reader.finished and reader.needed == 0


def test_needed_tracks_the_announced_length() -> None:
    reader = StreamReader()
    assert reader.feed(AWS[:5]) is None
    assert reader.needed >= 1
    assert reader.feed(AWS[5:16]) is None
    assert reader.needed == len(AWS) - 16  # len field read: exactly the rest is needed
    assert reader.feed(AWS[16:99]) is None
    assert reader.needed == 1
    header, rest = reader.feed(AWS[99:] + b"x")  # type: ignore[misc]
    assert (header.aws_vpce_id, rest) == ("vpce-08d2bf15fac5001c9", b"x")


def test_decode_attempts_are_few_even_for_one_byte_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    import lab.ppv2.stream as stream

    calls = []
    real = stream.decode
    monkeypatch.setattr(stream, "decode", lambda data, **kw: calls.append(len(data)) or real(data, **kw))
    results, _ = feed_in_chunks(AWS, 1)
    assert results[-1] is not None
    # each signature byte is checked as it comes (early refusal), then: fixed part, whole header
    assert calls == [*range(1, 13), 16, 100]


def test_bad_signature_is_reported_on_the_first_wrong_byte() -> None:
    reader = StreamReader()
    assert reader.feed(b"\r\n") is None
    with pytest.raises(BadSignature):
        reader.feed(b"X")


def test_plain_http_is_refused_immediately() -> None:
    with pytest.raises(BadSignature):
        StreamReader().feed(b"G")


def test_bad_version_is_reported_after_16_bytes_not_after_len() -> None:
    reader = StreamReader()
    with pytest.raises(BadVersion):
        reader.feed(AWS[:12] + b"\x31\x11\xff\xff")


def test_bad_crc_in_stream() -> None:
    broken = bytearray(AWS)
    broken[40] ^= 1
    with pytest.raises(BadChecksum):
        feed_in_chunks(bytes(broken), 10)


def test_crc_checking_can_be_turned_off() -> None:
    broken = bytearray(AWS)
    broken[40] ^= 1
    header, _ = StreamReader(verify_crc=False).feed(bytes(broken))  # type: ignore[misc]
    assert header.consumed == 100


def test_reader_is_single_use() -> None:
    reader = StreamReader()
    assert reader.feed(AWS) is not None
    with pytest.raises(ReaderFinished):
        reader.feed(b"more")


def test_empty_chunks_are_harmless() -> None:
    reader = StreamReader()
    assert reader.feed(b"") is None
    assert reader.feed(AWS[:50]) is None
    assert reader.feed(b"") is None
    assert reader.feed(AWS[50:]) is not None


def serve_once(data_chunks: list[bytes]) -> socket.socket:
    server, client = socket.socketpair()

    def send() -> None:
        for chunk in data_chunks:
            client.sendall(chunk)
        client.close()

    threading.Thread(target=send, daemon=True).start()
    return server


def test_read_header_from_socket_does_not_over_read() -> None:
    sock = serve_once([AWS[:7], AWS[7:60], AWS[60:] + PAYLOAD])
    with sock:
        header, rest = read_header(sock)
        assert header.aws_vpce_id == "vpce-08d2bf15fac5001c9"
        assert rest == b""
        assert sock.recv(1024) == PAYLOAD  # the application gets its bytes untouched


def test_read_header_from_socket_closed_early() -> None:
    sock = serve_once([AWS[:50]])
    with sock, pytest.raises(IncompleteHeader):
        read_header(sock)


def test_read_header_async_leaves_payload_in_the_stream() -> None:
    async def scenario() -> tuple[object, bytes, bytes]:
        stream = asyncio.StreamReader()
        for chunk in (V1[:10], V1[10:], PAYLOAD):
            stream.feed_data(chunk)
        stream.feed_eof()
        header, rest = await read_header_async(stream)
        return header, rest, await stream.read()

    header, rest, remaining = asyncio.run(scenario())
    assert (header.version, header.src_addr) == (1, "192.168.0.1")  # type: ignore[attr-defined]
    assert (rest, remaining) == (b"", PAYLOAD)


def test_read_header_async_eof() -> None:
    async def scenario() -> None:
        stream = asyncio.StreamReader()
        stream.feed_data(AWS[:20])
        stream.feed_eof()
        await read_header_async(stream)

    with pytest.raises(IncompleteHeader):
        asyncio.run(scenario())
