"""Capture every link of a lab from one process.

An AF_PACKET socket belongs to the network namespace it was created in, and keeps capturing
there after the creating thread goes back to the root namespace. So the capture enters each
link's namespace just long enough to open and bind one socket on the link's captured end,
and then a single thread reads them all with poll(), bounded by time, frame count and bytes.

Nothing in the lab is changed: no promiscuous mode (the router end of a veth sees every frame
of its wire anyway), no offload settings. A consequence worth knowing when reading pcaps: TCP
checksums of frames *sent* by a namespace are filled in by nobody (veths hand the frame over
with a partial checksum), so Wireshark may flag them if told to validate checksums; its default
does not, and neither the ledger nor the PPv2 decoder look at them.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from lab.apply import netns
from lab.plan.links import Link
from lab.topology.errors import LabSystemError

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
RECV_BUFFER = 1 << 20  # per link; a verify run moves a few hundred frames
FRAME_BUFFER = 1 << 18  # a veth may pass GSO frames up to 64 KiB; leave room
DEFAULT_MAX_SECONDS = 300.0
DEFAULT_MAX_FRAMES = 500_000
DEFAULT_MAX_BYTES = 256 << 20


class CaptureError(LabSystemError, RuntimeError):
    """A link could not be captured: the lab changed under us (an interface or namespace is gone),
    or we lack the rights."""


def _fix_for(err: OSError) -> str:
    if err.errno in (errno.EPERM, errno.EACCES):
        return "run it as root (sudo)"
    return ("the lab is not as its plan says (a link or namespace is gone): see `lab status`, and rebuild the "
            "lab with `lab down` and `lab up`")


@dataclass(frozen=True, slots=True)
class Frame:
    link: str
    ts: float
    outgoing: bool  # sent from the router end (towards the instance, node or peer router)
    data: bytes


@dataclass
class LinkStats:
    frames: int = 0
    bytes: int = 0
    kernel_drops: int = 0


class Capture:
    """Sockets on many links, read together in a background thread.

        with Capture(links, ns_path) as cap:
            ...make traffic...
        cap.frames, cap.stats, cap.truncated
    """

    def __init__(self, links: Iterable[Link], ns_path: Callable[[Link], Path | str], *,
                 max_seconds: float = DEFAULT_MAX_SECONDS, max_frames: int = DEFAULT_MAX_FRAMES,
                 max_bytes: int = DEFAULT_MAX_BYTES, on_frame: Callable[[Frame], None] | None = None):
        self.links = list(links)
        self._ns_path = ns_path
        self.max_seconds, self.max_frames, self.max_bytes = max_seconds, max_frames, max_bytes
        self._on_frame = on_frame
        self.frames: list[Frame] = []
        self.stats: dict[str, LinkStats] = {ln.name: LinkStats() for ln in self.links}
        self.truncated: str | None = None  # why reading stopped early, if it did
        self.started_at = self.stopped_at = 0.0
        self._socks: dict[int, tuple[socket.socket, str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = -1, -1
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> Capture:
        try:
            for link in self.links:
                sock = self._open(link)
                self._socks[sock.fileno()] = (sock, link.name)
        except BaseException:
            self._close()
            raise
        self._wake_r, self._wake_w = os.pipe()
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._run, name="lab-verify-capture", daemon=True)
        self._thread.start()
        return self

    def stop(self, linger: float = 0.15) -> list[Frame]:
        """Keep reading `linger` seconds more (late replies, FINs), then stop and close everything."""
        if self._thread is None:
            return self.frames
        time.sleep(max(0.0, linger))
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        self._read_drops()
        self._close()
        self.stopped_at = time.time()
        self._thread = None
        return self.frames

    def __enter__(self) -> Capture:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop(linger=0.15 if exc[0] is None else 0.0)

    def snapshot(self) -> list[Frame]:
        with self._lock:
            return list(self.frames)

    def wait_until(self, predicate: Callable[[list[Frame]], bool], timeout: float, poll: float = 0.05) -> bool:
        """Block until predicate(frames so far) holds or `timeout` passes; True if it held."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self.snapshot()):
                return True
            if time.monotonic() >= deadline or self._thread is None or not self._thread.is_alive():
                return False
            time.sleep(poll)

    # -- internals ----------------------------------------------------------------------------
    def _open(self, link: Link) -> socket.socket:
        path = self._ns_path(link)
        try:
            with netns.entered(path):
                sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except OSError as err:
            raise CaptureError(f"cannot open a capture socket in {path} for link {link.name}: {err}",
                               fix=_fix_for(err)) from err
        try:
            # Binding resolves the name in the socket's own namespace, wherever this thread is now.
            sock.bind((link.ifname, 0))
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECV_BUFFER)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
            sock.setblocking(False)
        except OSError as err:
            sock.close()
            raise CaptureError(f"cannot capture on {link.ifname} in {link.place} (link {link.name}): {err}",
                               fix=_fix_for(err)) from err
        return sock

    def _run(self) -> None:
        poller = select.poll()
        for fd in self._socks:
            poller.register(fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        deadline = time.monotonic() + self.max_seconds
        total_bytes = 0
        while True:
            stopping = self._stop.is_set()
            if not stopping and time.monotonic() >= deadline:
                self.truncated = f"capture stopped after its limit of {self.max_seconds:.0f} s"
                return
            for fd, _ in poller.poll(0 if stopping else 100):
                if fd == self._wake_r:
                    continue
                sock, name = self._socks[fd]
                while True:
                    try:
                        data, anc, _flags, addr = sock.recvmsg(FRAME_BUFFER, socket.CMSG_SPACE(16))
                    except (BlockingIOError, InterruptedError):
                        break
                    frame = Frame(name, _timestamp(anc), addr[2] == PACKET_OUTGOING, data)
                    with self._lock:
                        self.frames.append(frame)
                    st = self.stats[name]
                    st.frames += 1
                    st.bytes += len(data)
                    total_bytes += len(data)
                    if self._on_frame is not None:
                        self._on_frame(frame)
                    if len(self.frames) >= self.max_frames or total_bytes >= self.max_bytes:
                        self.truncated = (f"capture stopped at its limit of {self.max_frames} frames / "
                                          f"{self.max_bytes >> 20} MiB")
                        return
            if stopping:
                return  # one last non-blocking sweep done

    def _read_drops(self) -> None:
        for sock, name in self._socks.values():
            try:
                raw = sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
            except OSError:
                continue
            _packets, drops = struct.unpack("II", raw)
            self.stats[name].kernel_drops += drops

    def _close(self) -> None:
        for sock, _ in self._socks.values():
            sock.close()
        self._socks.clear()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1


def _timestamp(ancillary: list) -> float:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return sec + nsec / 1e9
    return time.time()
