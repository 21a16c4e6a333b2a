"""Find the host's Debian archive mirror by reading its own apt configuration.

The image build asks that mirror for *trixie* packages in a private apt root. The URL is never written
into the project: every machine (a laptop behind a local mirror, CI, a cloud VM) already knows the
mirror it may reach, so we read it at run time from ``/etc/apt/sources.list.d/*.sources`` (deb822) and
``/etc/apt/sources.list`` plus ``sources.list.d/*.list`` (one-line format).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from lab.image.errors import NoMirrorError

APT_ETC = Path("/etc/apt")

# Debian suite names (codenames and aliases). A third-party repository (vendor tools, language
# runtimes) uses its own suite names, so "one of these suites" is what marks the Debian archive.
DEBIAN_SUITES = frozenset(
    {
        "buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
        "oldoldstable", "oldstable", "stable", "testing", "unstable", "experimental",
    }
)


@dataclass(frozen=True)
class SourceEntry:
    """One apt source: the deb822 stanza or one-line entry, with where it came from."""

    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    options: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    origin: str = ""


@dataclass(frozen=True)
class Mirror:
    """The chosen Debian archive base URI (e.g. ``http://mirror.example/debian``) and its source file."""

    uri: str
    origin: str


def _strip_comment(line: str) -> str:
    return line.split("#", 1)[0].rstrip()


def parse_deb822(text: str, origin: str = "") -> list[SourceEntry]:
    """Parse a deb822 ``.sources`` text. Comment lines are dropped; blank lines separate stanzas."""
    entries: list[SourceEntry] = []
    stanza: dict[str, str] = {}
    last_key: str | None = None

    def flush() -> None:
        nonlocal stanza, last_key
        if stanza and stanza.get("enabled", "yes").lower() not in ("no", "false", "0"):
            opts = {k: v for k, v in stanza.items() if k not in ("types", "uris", "suites", "components")}
            entries.append(
                SourceEntry(
                    types=tuple(stanza.get("types", "").split()),
                    uris=tuple(stanza.get("uris", "").split()),
                    suites=tuple(stanza.get("suites", "").split()),
                    components=tuple(stanza.get("components", "").split()),
                    options=opts,
                    origin=origin,
                )
            )
        stanza, last_key = {}, None

    for raw in text.splitlines():
        if raw.lstrip().startswith("#"):
            continue  # a comment never ends a stanza in apt's deb822 reader
        if not raw.strip():
            flush()
            continue
        if raw[0] in " \t" and last_key is not None:
            # continuation line (e.g. an inline Signed-By key)
            stanza[last_key] = f"{stanza[last_key]} {raw.strip()}".strip()
            continue
        key, sep, value = raw.partition(":")
        if not sep:
            continue  # not a field: ignore rather than fail, apt would report it itself
        last_key = key.strip().lower()
        stanza[last_key] = value.strip()
    flush()
    return entries


_ONE_LINE = re.compile(r"^(?P<type>deb(?:-src)?)\s+(?:\[(?P<opts>[^\]]*)\]\s+)?(?P<rest>.+)$")


def parse_one_line(text: str, origin: str = "") -> list[SourceEntry]:
    """Parse the one-line ``sources.list`` format: ``deb [opt=v ...] URI SUITE COMPONENT...``."""
    entries: list[SourceEntry] = []
    for raw in text.splitlines():
        line = _strip_comment(raw).strip()
        m = _ONE_LINE.match(line)
        if not m:
            continue
        opts: dict[str, str] = {}
        for item in (m.group("opts") or "").split():
            k, _, v = item.partition("=")
            opts[k.lower()] = v
        words = m.group("rest").split()
        if len(words) < 2:
            continue
        entries.append(
            SourceEntry(
                types=(m.group("type"),),
                uris=(words[0],),
                suites=(words[1],),
                components=tuple(words[2:]),
                options=opts,
                origin=origin,
            )
        )
    return entries


def _base_suite(suite: str) -> str:
    return suite.split("/", 1)[0].split("-", 1)[0]


def _is_security(uri: str, suite: str) -> bool:
    # The security archive is a different tree (and serves only security updates): never the mirror.
    return suite.endswith("-security") or suite.endswith("/updates") or "debian-security" in uri


def rank_mirrors(entries: list[SourceEntry]) -> list[Mirror]:
    """Debian archive URIs from ``entries``, best first, without duplicates.

    Best = a ``deb`` entry of a plain Debian release suite (not -updates/-backports) with ``main`` and
    an http(s) URI whose path ends in ``/debian``. Security and third-party entries never qualify.
    """
    scored: list[tuple[int, int, Mirror]] = []
    for order, e in enumerate(entries):
        if "deb" not in e.types:
            continue
        for uri in e.uris:
            parts = urlsplit(uri)
            if parts.scheme not in ("http", "https"):
                continue  # cdrom:, file:, mirror+... cannot be handed to a private root reliably
            for suite in e.suites:
                if _is_security(uri, suite) or _base_suite(suite) not in DEBIAN_SUITES:
                    continue
                score = 0
                score += 0 if "main" in e.components else 4
                score += 0 if "-" not in suite else 1
                score += 0 if parts.path.rstrip("/").endswith("/debian") else 2
                scored.append((score, order, Mirror(uri.rstrip("/"), e.origin)))
    scored.sort(key=lambda t: (t[0], t[1]))
    seen: set[str] = set()
    out: list[Mirror] = []
    for _, _, m in scored:
        if m.uri not in seen:
            seen.add(m.uri)
            out.append(m)
    return out


def read_host_sources(apt_etc: Path = APT_ETC) -> list[SourceEntry]:
    """Every source entry the host's apt reads (only ``*.sources`` and ``*.list``, as apt does)."""
    entries: list[SourceEntry] = []
    main = apt_etc / "sources.list"
    if main.is_file():
        entries += parse_one_line(main.read_text(errors="replace"), str(main))
    parts = apt_etc / "sources.list.d"
    if parts.is_dir():
        for p in sorted(parts.iterdir()):
            if p.suffix == ".sources" and p.is_file():
                entries += parse_deb822(p.read_text(errors="replace"), str(p))
            elif p.suffix == ".list" and p.is_file():
                entries += parse_one_line(p.read_text(errors="replace"), str(p))
    return entries


def find_debian_mirrors(apt_etc: Path = APT_ETC) -> list[Mirror]:
    """The host's Debian archive mirrors, best first. Raises :class:`NoMirrorError` when there is none."""
    entries = read_host_sources(apt_etc)
    mirrors = rank_mirrors(entries)
    if not mirrors:
        looked = f"{apt_etc}/sources.list, {apt_etc}/sources.list.d/*.sources and *.list"
        seen = ", ".join(sorted({u for e in entries for u in e.uris})) or "no entries at all"
        raise NoMirrorError(
            f"no Debian archive mirror found in the host's apt configuration (read {looked}; "
            f"saw: {seen}). Fix: add the Debian archive your machine may use, e.g. a deb822 stanza "
            f"'Types: deb / URIs: <your mirror>/debian / Suites: <release> / Components: main' in "
            f"{apt_etc}/sources.list.d/debian.sources, then run `lab image build`.",
            attempts=[f"read {looked}"],
        )
    return mirrors
