"""Turn a set of .deb files into a minimal root filesystem and a tar stream for ``docker import``.

No maintainer script runs (there is no shell in the image to run it), so what they would have done
for haproxy is done here by hand: the haproxy user/group, the directories it expects.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

CONFIG_DIR = "/usr/local/etc/haproxy"

# usr-merge: Debian's binaries and ELF interpreter paths (/lib64/ld-linux-x86-64.so.2) assume these.
USR_MERGE = ("bin", "sbin", "lib", "lib64")

PASSWD = (
    "root:x:0:0:root:/root:/usr/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    "haproxy:x:99:99:haproxy:/var/lib/haproxy:/usr/sbin/nologin\n"
)
GROUP = "root:x:0:\nnogroup:x:65534:\nhaproxy:x:99:\n"
# glibc's built-in default would try NIS/DNS first for some databases; say "files" explicitly.
NSSWITCH = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nservices: files\nprotocols: files\n"


def extract_debs(debs: list[Path], rootfs: Path) -> None:
    """``dpkg -x`` every package into ``rootfs`` (data only; control scripts are ignored)."""
    rootfs.mkdir(parents=True, exist_ok=True)
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(rootfs)], check=True, capture_output=True)


def merge_usr(rootfs: Path) -> None:
    """Make bin, sbin, lib, lib64 symlinks into usr/, moving anything a package put at the top level."""
    for name in USR_MERGE:
        top, usr = rootfs / name, rootfs / "usr" / name
        usr.mkdir(parents=True, exist_ok=True)
        if top.is_symlink():
            continue
        if top.is_dir():
            # A package that still ships /lib64/... (not yet usr-merged): move its files under usr/.
            for child in top.iterdir():
                target = usr / child.name
                if not target.exists() and not target.is_symlink():
                    shutil.move(str(child), str(target))
            shutil.rmtree(top)
        top.symlink_to(f"usr/{name}")


def add_system_files(rootfs: Path) -> None:
    etc = rootfs / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "passwd").write_text(PASSWD)
    (etc / "group").write_text(GROUP)
    (etc / "nsswitch.conf").write_text(NSSWITCH)
    for d in (CONFIG_DIR.lstrip("/"), "var/lib/haproxy", "run/haproxy", "tmp", "root", "dev", "proc", "sys"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    os.chmod(rootfs / "tmp", 0o1777)
    # Debian's package puts a sample config under /etc/haproxy; the image reads only CONFIG_DIR.
    readme = rootfs / CONFIG_DIR.lstrip("/") / "README"
    readme.write_text(
        "privatelink-lab mounts the NLB node's config directory here (read-only).\n"
        "haproxy -W -db -f " + CONFIG_DIR + "/ loads every *.cfg file in it, in name order.\n"
    )


def prune(rootfs: Path) -> None:
    """Drop documentation and manuals: nothing in the image reads them, and they are most of the bytes."""
    for rel in ("usr/share/doc", "usr/share/man", "usr/share/lintian", "usr/share/bug", "usr/share/info"):
        shutil.rmtree(rootfs / rel, ignore_errors=True)


def write_tar(rootfs: Path, tar_path: Path) -> int:
    """Write ``rootfs`` as a tar with every entry owned by root; returns the number of entries."""

    def as_root(ti: tarfile.TarInfo) -> tarfile.TarInfo:
        # dpkg-deb -x run by a non-root user leaves files owned by that user; the image must not.
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        return ti

    count = 0
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(rootfs.iterdir()):
            tar.add(entry, arcname=entry.name, filter=as_root)
        count = len(tar.getmembers())
    return count


def has_shell(rootfs: Path) -> bool:
    return any((rootfs / "usr" / d / sh).exists() for d in ("bin", "sbin") for sh in ("sh", "bash", "dash"))
