"""One DNS A query from inside a namespace, hand-made (RFC 1035: header, one question, answers with
compressed names) so that DNS sync needs no scapy. Used to know when a dnsmasq serves what it should."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

from lab.apply import netns


def ask(ns_path: Path, ip: str, port: int, qname: str, timeout: float = 0.5) -> int:
    """How many A records the answer to `qname` holds (-rcode on an error answer); OSError on no answer."""
    query = struct.pack("!HHHHHH", os.getpid() & 0xFFFF, 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(label)]) + label.encode() for label in qname.split(".")) + b"\0"
    query += struct.pack("!HH", 1, 1)
    with netns.entered(ns_path):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        sock.settimeout(timeout)
        sock.sendto(query, (ip, port))
        reply = sock.recv(4096)
    rcode = reply[3] & 0x0F
    if rcode:
        return -rcode
    answers = struct.unpack("!H", reply[6:8])[0]
    offset = _skip_name(reply, 12) + 4
    count = 0
    for _ in range(answers):
        offset = _skip_name(reply, offset)
        rtype, _cls, _ttl, length = struct.unpack("!HHIH", reply[offset:offset + 10])
        count += rtype == 1
        offset += 10 + length
    return count


def _skip_name(message: bytes, offset: int) -> int:
    while True:
        length = message[offset]
        if length == 0:
            return offset + 1
        if length & 0xC0 == 0xC0:  # a compression pointer ends the name
            return offset + 2
        offset += 1 + length
