"""Pure helpers of the image builder: keyring check, version parsing, pull-error classification,
and the private apt root's files (written, never run here)."""

from __future__ import annotations

from pathlib import Path

import docker.errors
import pytest

from lab.image.aptroot import PrivateAptRoot, TrustChoice, choose_trust, keyring_has_suite
from lab.image.build import classify_pull_error
from lab.image.errors import ImageBuildError, RegistryOffline, RemoteImageNotFound
from lab.image.verify import MIN_VERSION, parse_haproxy_version

UID_13 = b"\x99\x01\x0d...\xb4\x36Debian Archive Automatic Signing Key (13/trixie) <ftpmaster@archive.example>"
UID_12 = b"\xb4\x37Debian Archive Automatic Signing Key (12/bookworm) <ftpmaster@archive.example>"


def test_keyring_has_trixie_key() -> None:
    assert keyring_has_suite(UID_12 + UID_13)
    assert not keyring_has_suite(UID_12)


def test_trust_signed_by_when_key_present_else_trusted_yes(tmp_path: Path) -> None:
    good, old = tmp_path / "good.gpg", tmp_path / "old.gpg"
    good.write_bytes(UID_12 + UID_13)
    old.write_bytes(UID_12)
    assert choose_trust(good).option == f"signed-by={good}"
    t = choose_trust(old)
    assert t.option == "trusted=yes"
    assert "lacks trixie's key" in t.description and "NO signature check" in t.description
    assert choose_trust(tmp_path / "missing.gpg").option == "trusted=yes"


def test_private_root_never_points_at_host_dirs(tmp_path: Path) -> None:
    root = PrivateAptRoot(tmp_path, "http://mirror.example/debian", TrustChoice("trusted=yes", ""), arch="amd64")
    root.prepare()
    sources = (tmp_path / "etc/apt/sources.list").read_text()
    assert sources == "deb [trusted=yes] http://mirror.example/debian trixie main\n"
    assert (tmp_path / "var/lib/dpkg/status").read_text() == ""
    conf = root.conf.read_text()
    for key in ("Dir::State::status", "Dir::Etc::SourceList", "Dir::Etc::SourceParts", "Dir::Etc::Parts", "Dir::Cache"):
        line = next(ln for ln in conf.splitlines() if ln.startswith(key + " "))
        assert str(tmp_path) in line, line
    assert '"/etc/apt' not in conf and '"/var/lib' not in conf


@pytest.mark.parametrize(
    ("text", "nums", "full"),
    [
        ("HAProxy version 3.0.11-1+deb13u4 2025/08/01 - https://haproxy.org/\nStatus: long-term", (3, 0, 11), "3.0.11-1+deb13u4"),
        ("HAProxy version 2.6.12-1+deb12u1 2023/12/16", (2, 6, 12), "2.6.12-1+deb12u1"),
        ("junk\nHAProxy version 2.9 2024", (2, 9, 0), "2.9"),
    ],
)
def test_parse_haproxy_version(text: str, nums: tuple[int, int, int], full: str) -> None:
    assert parse_haproxy_version(text) == (nums, full)


def test_parse_haproxy_version_rejects_garbage_and_min_is_2_9() -> None:
    with pytest.raises(ValueError):
        parse_haproxy_version("exec: no such file")
    assert MIN_VERSION == (2, 9)
    assert parse_haproxy_version("HAProxy version 2.6.12")[0][:2] < MIN_VERSION


def test_pull_error_offline_vs_not_found() -> None:
    offline = docker.errors.APIError("500 Server Error", explanation='Get "https://registry.example/v2/": dial tcp: lookup registry.example: no such host')
    missing = docker.errors.NotFound("404", explanation="manifest for haproxy:3.0 not found: manifest unknown")
    denied = docker.errors.APIError("500", explanation="pull access denied for haproxy, repository does not exist")
    other = docker.errors.APIError("500", explanation="disk full")
    assert isinstance(classify_pull_error(offline), RegistryOffline)
    assert "offline" in str(classify_pull_error(offline))
    assert isinstance(classify_pull_error(missing), RemoteImageNotFound)
    assert isinstance(classify_pull_error(denied), RemoteImageNotFound)
    e = classify_pull_error(other)
    assert type(e) is ImageBuildError and "disk full" in str(e)
