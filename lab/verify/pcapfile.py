"""Write captured frames as classic pcap files (nanosecond timestamps, Ethernet), one per link.

The format is a 24-byte file header and a 16-byte header per frame; writing it directly keeps
`lab capture` free of scapy's per-packet cost, and every tool (Wireshark, tshark, tcpdump,
scapy) reads it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

from lab.verify.capture import Frame

MAGIC_NANO = 0xA1B23C4D
LINKTYPE_ETHERNET = 1
SNAPLEN = 262144


def file_header() -> bytes:
    return struct.pack("<IHHiIII", MAGIC_NANO, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)


def record(frame: Frame) -> bytes:
    sec = int(frame.ts)
    nsec = min(int(round((frame.ts - sec) * 1e9)), 999_999_999)
    return struct.pack("<IIII", sec, nsec, len(frame.data), len(frame.data)) + frame.data


def write_pcap(path: Path, frames: Iterable[Frame]) -> int:
    """Write frames (already in capture order) to path; returns how many were written."""
    count = 0
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(file_header())
        for frame in frames:
            f.write(record(frame))
            count += 1
    tmp.replace(path)
    return count


def write_per_link(directory: Path, frames: list[Frame], stems: dict[str, str]) -> dict[str, tuple[Path, int]]:
    """One pcap per link in `stems` (link name -> file stem), even for links that saw nothing."""
    directory.mkdir(parents=True, exist_ok=True)
    by_link: dict[str, list[Frame]] = {name: [] for name in stems}
    for frame in frames:
        if frame.link in by_link:
            by_link[frame.link].append(frame)
    out = {}
    for name, link_frames in by_link.items():
        link_frames.sort(key=lambda f: f.ts)
        path = directory / f"{stems[name]}.pcap"
        out[name] = (path, write_pcap(path, link_frames))
    return out
