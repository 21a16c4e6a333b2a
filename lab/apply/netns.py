"""Network namespaces: create, remove, enter, and open netlink sockets inside them.

Namespaces are created in-process (unshare on this thread, bind-mount, switch back) rather
than by forking a helper per namespace, which is what makes a 200-VPC lab come up quickly.
A netlink socket keeps working in the namespace it was opened in after the thread returns
home, so `netlink(path)` opens one per namespace and everything else runs from the root.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyroute2 import IPRoute

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_SHARED, MS_SLAVE, MNT_DETACH = 4096, 16384, 1 << 20, 1 << 19, 2

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def netns_path(name: str) -> Path:
    return NETNS_DIR / name


def exists(name: str) -> bool:
    return netns_path(name).exists()


def _ensure_netns_dir() -> None:
    """Make /run/netns a shared mount point, as iproute2 does, so namespaces show in other mount ns."""
    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    if _libc.mount(b"", str(NETNS_DIR).encode(), b"none", MS_SHARED | MS_REC, None) != 0:
        _check(_libc.mount(str(NETNS_DIR).encode(), str(NETNS_DIR).encode(), b"none", MS_BIND | MS_REC, None),
               "bind /run/netns")
        _check(_libc.mount(b"", str(NETNS_DIR).encode(), b"none", MS_SHARED | MS_REC, None), "share /run/netns")


def create(name: str) -> None:
    _ensure_netns_dir()
    path = netns_path(name)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
    os.close(fd)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _check(_libc.unshare(CLONE_NEWNET), f"unshare for {name}")
        try:
            _check(_libc.mount(b"/proc/thread-self/ns/net", str(path).encode(), b"none", MS_BIND, None),
                   f"bind-mount {path}")
        finally:
            _check(_libc.setns(home, CLONE_NEWNET), "return to the root namespace")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        os.close(home)


def remove(name: str) -> bool:
    """Unmount and unlink; the kernel frees the namespace (and its links) once nothing holds it."""
    path = netns_path(name)
    if not path.exists():
        return False
    _libc.umount2(str(path).encode(), MNT_DETACH)
    try:
        path.unlink()
    except OSError as err:
        if err.errno != errno.ENOENT:
            raise
    return True


@contextmanager
def entered(ns_path: str | Path) -> Iterator[None]:
    """Run the block with this thread inside a namespace (given by path: /run/netns/x, /proc/PID/ns/net)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(ns_path, os.O_RDONLY)
    try:
        _check(_libc.setns(target, CLONE_NEWNET), f"enter {ns_path}")
        try:
            yield
        finally:
            _check(_libc.setns(home, CLONE_NEWNET), "return home")
    finally:
        os.close(target)
        os.close(home)


def netlink(ns_path: str | Path) -> IPRoute:
    with entered(ns_path):
        return IPRoute()


def write_sysctls(ns_path: str | Path, sysctls: dict[str, str]) -> None:
    # /proc/sys/net resolves to the opener's namespace at open() time, so open while inside.
    with entered(ns_path):
        for key, value in sysctls.items():
            with open(f"/proc/sys/{key}", "w") as f:
                f.write(value)


def inode(ns_path: str | Path) -> int:
    return os.stat(ns_path).st_ino


def enter_for_exec(ns_path: str | Path, resolv_conf: Path | None = None) -> None:
    """In a child about to exec: join the namespace and, like `ip netns exec`, give it its own resolv.conf."""
    fd = os.open(ns_path, os.O_RDONLY)
    _check(_libc.setns(fd, CLONE_NEWNET), f"enter {ns_path}")
    os.close(fd)
    if resolv_conf is not None and resolv_conf.exists():
        _check(_libc.unshare(CLONE_NEWNS), "unshare mounts")
        _check(_libc.mount(b"none", b"/", None, MS_SLAVE | MS_REC, None), "make / a slave mount")
        _check(_libc.mount(str(resolv_conf).encode(), b"/etc/resolv.conf", b"none", MS_BIND, None), "bind resolv.conf")
