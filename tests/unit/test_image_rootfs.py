"""Rootfs assembly without root or Docker: usr-merge, system files, tar ownership."""

from __future__ import annotations

import tarfile
from pathlib import Path

from lab.image.rootfs import CONFIG_DIR, add_system_files, has_shell, merge_usr, prune, write_tar


def test_merge_usr_moves_top_level_dirs_and_links_them(tmp_path: Path) -> None:
    (tmp_path / "lib64").mkdir()
    (tmp_path / "lib64" / "ld-linux-x86-64.so.2").write_text("ld")
    (tmp_path / "usr" / "sbin").mkdir(parents=True)
    (tmp_path / "usr" / "sbin" / "haproxy").write_text("bin")
    merge_usr(tmp_path)
    for name in ("bin", "sbin", "lib", "lib64"):
        assert (tmp_path / name).is_symlink()
        assert str((tmp_path / name).readlink()) == f"usr/{name}"
    assert (tmp_path / "usr/lib64/ld-linux-x86-64.so.2").read_text() == "ld"
    assert (tmp_path / "sbin" / "haproxy").read_text() == "bin"
    merge_usr(tmp_path)  # idempotent


def test_system_files_have_haproxy_user_and_config_dir(tmp_path: Path) -> None:
    add_system_files(tmp_path)
    passwd = (tmp_path / "etc/passwd").read_text()
    assert passwd.startswith("root:x:0:0:") and "\nhaproxy:x:" in passwd
    assert "\nhaproxy:x:" in (tmp_path / "etc/group").read_text()
    assert (tmp_path / CONFIG_DIR.lstrip("/")).is_dir()
    assert (tmp_path / "tmp").stat().st_mode & 0o1777 == 0o1777


def test_prune_and_shell_detection(tmp_path: Path) -> None:
    (tmp_path / "usr/share/doc/x").mkdir(parents=True)
    (tmp_path / "usr/bin").mkdir(parents=True)
    prune(tmp_path)
    assert not (tmp_path / "usr/share/doc").exists()
    assert not has_shell(tmp_path)
    (tmp_path / "usr/bin/sh").write_text("")
    assert has_shell(tmp_path)


def test_tar_entries_are_owned_by_root_and_keep_symlinks(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "usr/sbin").mkdir(parents=True)
    (rootfs / "usr/sbin/haproxy").write_text("x")
    merge_usr(rootfs)
    out = tmp_path / "r.tar"
    n = write_tar(rootfs, out)
    with tarfile.open(out) as t:
        members = {m.name: m for m in t.getmembers()}
    assert n == len(members)
    assert members["sbin"].issym() and members["sbin"].linkname == "usr/sbin"
    assert all(m.uid == 0 and m.gid == 0 and m.uname == "root" for m in members.values())
    assert "usr/sbin/haproxy" in members
