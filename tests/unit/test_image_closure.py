"""Package-closure logic: parse `apt-cache depends --recurse` text, keep run-time libraries only."""

from __future__ import annotations

import pytest

from lab.image.closure import EXCLUDED, parse_depends, resolve_closure

# Shape of real output (trimmed): alternatives with "|", a <virtual> with providers, PreDepends.
SAMPLE = """\
haproxy
  PreDepends: init-system-helpers
  Depends: libc6
  Depends: libcrypt1
  Depends: libssl3t64
  Depends: liblua5.4-0
  Depends: adduser
  Depends: lsb-base
    sysvinit-utils
init-system-helpers
libc6
  Depends: libgcc-s1
libcrypt1
  Depends: libc6
libssl3t64
  Depends: libc6
  Depends: libzstd1
  Depends: zlib1g
  Depends: openssl-provider-legacy
liblua5.4-0
  Depends: libc6
  Depends: libstdc++6
adduser
  Depends: passwd
 |Depends: debconf
  Depends: <debconf-2.0>
    cdebconf
    debconf
lsb-base
  Depends: sysvinit-utils
libgcc-s1
  PreDepends: gcc-14-base
  Depends: libc6
libstdc++6
  Depends: gcc-14-base
  Depends: libc6
  Depends: libgcc-s1
libzstd1
  Depends: libc6
zlib1g
  Depends: libc6
openssl-provider-legacy
  Depends: libc6
  Depends: libssl3t64
gcc-14-base
passwd
  Depends: libpam0g
sysvinit-utils
  Depends: libc6
libpam0g
  Depends: <debconf-2.0>
    cdebconf
    debconf
libfoo
 |Depends: libalt-a
  Depends: libalt-b
  Depends: <libvirt-x>
    libprovider-y
libalt-a
libalt-b
libprovider-y
<debconf-2.0>
<libvirt-x>
"""

EXPECTED = [
    "gcc-14-base", "haproxy", "libc6", "libcrypt1", "libgcc-s1", "liblua5.4-0", "libssl3t64",
    "libstdc++6", "libzstd1", "openssl-provider-legacy", "zlib1g",
]


def test_parse_groups_alternatives_and_virtuals() -> None:
    g = parse_depends(SAMPLE)
    assert g.deps["haproxy"][0] == ["init-system-helpers"]  # PreDepends counted like Depends
    # " |Depends: debconf" + "Depends: <debconf-2.0>" is one group: debconf | debconf-2.0
    assert g.deps["adduser"] == [["passwd"], ["debconf", "debconf-2.0"]]
    assert g.providers["debconf-2.0"] == ["cdebconf", "debconf"]
    assert "lsb-base" not in g.providers  # only <virtual> names get providers
    assert g.deps["libfoo"] == [["libalt-a", "libalt-b"], ["libvirt-x"]]


def test_closure_keeps_libc_and_libraries_drops_maintainer_helpers() -> None:
    closure = resolve_closure(parse_depends(SAMPLE), "haproxy")
    assert closure == EXPECTED
    for helper in ("adduser", "debconf", "cdebconf", "init-system-helpers", "lsb-base", "sysvinit-utils", "passwd", "libpam0g"):
        assert helper not in closure


def test_without_exclusions_the_helpers_come_in() -> None:
    closure = resolve_closure(parse_depends(SAMPLE), "haproxy", excluded=frozenset())
    assert {"adduser", "passwd", "lsb-base", "init-system-helpers"} <= set(closure)
    # <debconf-2.0> resolved to its first provider
    assert "cdebconf" in closure


def test_alternative_takes_first_and_virtual_takes_provider() -> None:
    closure = resolve_closure(parse_depends(SAMPLE), "libfoo")
    assert closure == ["libalt-a", "libfoo", "libprovider-y"]


def test_excluded_first_alternative_falls_to_next() -> None:
    closure = resolve_closure(parse_depends(SAMPLE), "libfoo", excluded=frozenset({"libalt-a", "libprovider-y"}))
    assert "libalt-b" in closure and "libalt-a" not in closure
    assert "libprovider-y" not in closure  # every provider excluded: the group is skipped


def test_unknown_root_raises() -> None:
    with pytest.raises(KeyError, match="nosuchpkg"):
        resolve_closure(parse_depends(SAMPLE), "nosuchpkg")


def test_libc_and_libraries_are_never_excluded() -> None:
    assert not {n for n in EXCLUDED if n.startswith(("libc6", "libssl", "zlib", "libgcc", "libstdc"))}
