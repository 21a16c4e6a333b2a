"""Mirror discovery from the host's apt configuration (pure: sample texts and a temp /etc/apt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.image.errors import ImageBuildError, NoMirrorError
from lab.image.mirror import find_debian_mirrors, parse_deb822, parse_one_line, rank_mirrors

DEB822 = """\
# Main archive, pinned snapshot noted in a comment
Types: deb deb-src
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian https://mirror2.example/debian/
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: https://vendor.example/node_20.x
Suites: nodistro
Components: main
Signed-By: /usr/share/keyrings/vendor.gpg

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no
"""

ONE_LINE = """\
# deb http://commented.example/debian bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg arch=amd64] http://mirror.example/debian bookworm main  # trailing comment
deb http://security.example/debian-security bookworm-security main
deb-src http://src.example/debian bookworm main
deb https://vendor.example/apt cloud-sdk-bookworm main
deb http://mirror.example/debian bookworm-backports main
"""


def test_deb822_fields_comments_and_disabled_stanza() -> None:
    entries = parse_deb822(DEB822, "debian.sources")
    assert len(entries) == 3  # the Enabled: no stanza is dropped
    first = entries[0]
    assert first.types == ("deb", "deb-src")
    assert first.uris == ("http://mirror.example/debian", "https://mirror2.example/debian/")
    assert first.suites == ("bookworm", "bookworm-updates")
    assert first.options["signed-by"] == "/usr/share/keyrings/debian-archive-keyring.gpg"
    assert first.origin == "debian.sources"


def test_deb822_continuation_line_is_joined() -> None:
    text = "Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie\nComponents: main\nSigned-By:\n -----BEGIN PGP\n .\n -----END\n"
    (e,) = parse_deb822(text)
    assert e.options["signed-by"].startswith("-----BEGIN PGP")
    assert e.suites == ("trixie",)


def test_one_line_options_comments_and_types() -> None:
    entries = parse_one_line(ONE_LINE, "sources.list")
    assert [e.uris[0] for e in entries] == [
        "http://mirror.example/debian",
        "http://security.example/debian-security",
        "http://src.example/debian",
        "https://vendor.example/apt",
        "http://mirror.example/debian",
    ]
    first = entries[0]
    assert first.options == {"signed-by": "/usr/share/keyrings/debian-archive-keyring.gpg", "arch": "amd64"}
    assert first.suites == ("bookworm",) and first.components == ("main",)
    assert entries[2].types == ("deb-src",)


def test_rank_deb822_picks_main_archive_not_security_nor_vendor() -> None:
    mirrors = rank_mirrors(parse_deb822(DEB822, "x.sources"))
    uris = [m.uri for m in mirrors]
    assert uris[0] == "http://mirror.example/debian"
    assert "https://mirror2.example/debian" in uris  # second URI of the same stanza, trailing / dropped
    assert not any("security" in u or "vendor" in u or "disabled" in u for u in uris)


def test_rank_one_line_skips_deb_src_security_and_third_party() -> None:
    uris = [m.uri for m in rank_mirrors(parse_one_line(ONE_LINE))]
    assert uris == ["http://mirror.example/debian"]


def test_release_suite_preferred_over_updates_and_non_debian_path() -> None:
    text = (
        "deb http://a.example/mirror/ bookworm main\n"
        "deb http://b.example/debian bookworm-updates main\n"
        "deb http://c.example/debian bookworm main\n"
    )
    assert [m.uri for m in rank_mirrors(parse_one_line(text))][0] == "http://c.example/debian"


def test_security_detected_by_path_even_with_odd_suite() -> None:
    text = "deb http://mirror.example/debian-security bookworm main\n"
    assert rank_mirrors(parse_one_line(text)) == []


def test_find_reads_sources_files_and_ignores_disabled_ones(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("# only a comment\n")
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list.d" / "old.list.disabled").write_text("deb http://old.example/debian bookworm main\n")
    mirrors = find_debian_mirrors(tmp_path)
    assert mirrors[0].uri == "http://mirror.example/debian"
    assert mirrors[0].origin.endswith("debian.sources")
    assert all("old.example" not in m.uri for m in mirrors)


def test_no_mirror_error_says_what_was_read_and_how_to_fix(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "vendor.sources").write_text(
        "Types: deb\nURIs: https://vendor.example/apt\nSuites: nodistro\nComponents: main\n"
    )
    with pytest.raises(NoMirrorError) as ei:
        find_debian_mirrors(tmp_path)
    msg = str(ei.value)
    assert isinstance(ei.value, ImageBuildError)
    assert "no Debian archive mirror" in msg
    assert str(tmp_path) in msg and "https://vendor.example/apt" in msg
    assert "Fix:" in msg and "lab image build" in msg


def test_no_apt_config_at_all(tmp_path: Path) -> None:
    with pytest.raises(NoMirrorError, match="no entries at all"):
        find_debian_mirrors(tmp_path / "missing")
