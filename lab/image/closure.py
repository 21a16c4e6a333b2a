"""The package closure for a shell-less HAProxy rootfs, resolved from ``apt-cache depends --recurse``.

We resolve it ourselves instead of asking apt to "install" haproxy because apt would pull in what the
*package* needs to be configured by dpkg (debconf, adduser, passwd, init-system helpers, perl, PAM...).
The image never runs maintainer scripts: it only needs the binary and the shared libraries it links
against. So we walk Depends/PreDepends and stop at the helpers listed in :data:`EXCLUDED`.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

# Packages that exist to run maintainer scripts or init systems, never needed by /usr/sbin/haproxy at
# run time. libc and every library haproxy links against are NOT here on purpose.
EXCLUDED = frozenset(
    {
        "adduser", "passwd", "base-passwd", "login.defs", "login",
        "debconf", "debconf-2.0", "cdebconf", "debconf-i18n",
        "init-system-helpers", "lsb-base", "sysvinit-utils", "systemd", "systemd-sysv",
        "dpkg", "perl-base", "debianutils", "coreutils", "bash", "dash", "sensible-utils",
        "libpam-modules", "libpam-modules-bin", "libpam-runtime", "libpam0g",
        "ca-certificates", "openssl",
    }
)

# "  Depends: x", or " |Depends: x" where the "|" (in place of the second space) means "or the next one".
_DEP_LINE = re.compile(r"^ (?: |(?P<alt>\|))(?P<kind>PreDepends|Depends): (?P<name>\S+)\s*$")
_PROVIDER_LINE = re.compile(r"^    (?P<name>\S+)\s*$")


@dataclass
class DepGraph:
    """Package -> list of dependency groups; a group is a list of alternatives (``a | b``)."""

    deps: dict[str, list[list[str]]] = field(default_factory=dict)
    # virtual package (as written, without <>) -> real packages providing it
    providers: dict[str, list[str]] = field(default_factory=dict)


def parse_depends(text: str) -> DepGraph:
    """Parse the text of ``apt-cache depends --recurse --no-recommends --no-suggests ... PKG``.

    Format: a package name at column 0, then its relations indented two spaces; a ``|`` in place of the
    second space marks "or the next one"; a ``<virtual>`` name is followed by its providers,
    indented four spaces.
    """
    g = DepGraph()
    current: str | None = None
    last_dep: str | None = None
    chain_open = False  # the previous dep line ended with "|": this one joins its group
    for raw in text.splitlines():
        if not raw.strip():
            continue
        if not raw.startswith(" "):
            current = raw.strip().strip("<>")
            g.deps.setdefault(current, [])
            chain_open, last_dep = False, None
            continue
        if current is None:
            continue
        m = _DEP_LINE.match(raw)
        if m:
            name = m.group("name").strip("<>")
            groups = g.deps[current]
            if chain_open and groups:
                groups[-1].append(name)
            else:
                groups.append([name])
            chain_open = bool(m.group("alt"))
            last_dep = m.group("name")
            continue
        p = _PROVIDER_LINE.match(raw)
        if p and last_dep and last_dep.startswith("<"):
            g.providers.setdefault(last_dep.strip("<>"), [])
            if p.group("name") not in g.providers[last_dep.strip("<>")]:
                g.providers[last_dep.strip("<>")].append(p.group("name"))
    return g


def resolve_closure(g: DepGraph, root: str, excluded: frozenset[str] = EXCLUDED) -> list[str]:
    """Real packages needed for ``root`` at run time, sorted, ``root`` included.

    For ``a | b`` the first alternative that is not excluded is taken; a virtual package resolves to
    its first non-excluded provider. A group whose every choice is excluded is skipped (that is the
    point of the exclusions). Raises ``KeyError`` when ``root`` is not in the graph.
    """
    if root not in g.deps:
        raise KeyError(f"package {root!r} is not in the dependency graph (is it in the archive?)")
    want: set[str] = set()
    queue: deque[str] = deque([root])
    while queue:
        pkg = queue.popleft()
        if pkg in want:
            continue
        want.add(pkg)
        for group in g.deps.get(pkg, []):
            choice = _choose(g, group, excluded)
            if choice and choice not in want:
                queue.append(choice)
    return sorted(want)


def _choose(g: DepGraph, group: list[str], excluded: frozenset[str]) -> str | None:
    for alt in group:
        if alt in excluded:
            continue
        if alt in g.providers:  # only <virtual> names get a provider list in parse_depends
            for prov in g.providers[alt]:
                if prov not in excluded:
                    return prov
            continue
        return alt
    return None
