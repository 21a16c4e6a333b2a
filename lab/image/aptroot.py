"""A private apt root: ask the host's Debian mirror for *trixie* packages without touching the host.

Everything apt reads or writes (sources list, lists, cache, dpkg status, config parts) lives under a
temp directory, pointed to by ``APT_CONFIG``. Adding trixie to the host's own sources would upgrade
the host on its next ``apt-get upgrade``; this way the host's apt never learns about trixie.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lab.image.errors import AptError

SUITE = "trixie"
HOST_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
# The user ID of trixie's archive signing keys reads "Debian Archive Automatic Signing Key (13/trixie)".
_TRIXIE_UID_MARK = b"/trixie)"


def keyring_has_suite(keyring: bytes, mark: bytes = _TRIXIE_UID_MARK) -> bool:
    """True if an OpenPGP keyring holds a key whose user ID names the suite.

    User ID packets are stored as plain UTF-8 inside the binary keyring, so a byte search is enough and
    needs no gpg. Older hosts (Debian 11) ship a keyring without trixie's keys.
    """
    return mark in keyring


@dataclass(frozen=True)
class TrustChoice:
    option: str  # what goes inside [...] of the sources line
    description: str  # said to the user through progress()


def choose_trust(keyring: Path = HOST_KEYRING) -> TrustChoice:
    try:
        data = keyring.read_bytes()
    except OSError:
        data = b""
    if keyring_has_suite(data):
        return TrustChoice(f"signed-by={keyring}", f"Release file checked against {keyring}")
    # Without the key apt refuses the index; trusted=yes skips the signature check (hashes of the
    # .debs are still checked against the unsigned index). Said loudly so the user can install the key.
    return TrustChoice(
        "trusted=yes",
        f"{keyring} lacks trixie's key: using [trusted=yes] (NO signature check; "
        f"install a newer debian-archive-keyring to get it)",
    )


def host_arch() -> str:
    try:
        return subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "amd64"


def host_proxy_lines() -> list[str]:
    """Acquire::*::Proxy settings of the host's apt, to copy into the private config.

    The private config does not read the host's apt.conf.d (it could pin releases or change dirs), but
    a machine that reaches its mirror only through a proxy must keep using it.
    """
    try:
        dump = subprocess.run(["apt-config", "dump"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [ln for ln in dump.splitlines() if ln.startswith("Acquire::") and "::Proxy" in ln]


class PrivateAptRoot:
    """An apt root under ``base``; ``run()`` runs apt tools against it."""

    def __init__(self, base: Path, mirror_uri: str, trust: TrustChoice, arch: str | None = None) -> None:
        self.base = base
        self.mirror_uri = mirror_uri
        self.trust = trust
        self.arch = arch or host_arch()
        self.conf = base / "apt.conf"

    def prepare(self) -> None:
        b = self.base
        for d in (
            "etc/apt/sources.list.d", "etc/apt/apt.conf.d", "etc/apt/preferences.d",
            "var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/lib/dpkg", "debs",
        ):
            (b / d).mkdir(parents=True, exist_ok=True)
        (b / "var/lib/dpkg/status").write_text("")  # empty: apt must treat every package as missing
        (b / "etc/apt/sources.list").write_text(
            f"deb [{self.trust.option}] {self.mirror_uri} {SUITE} main\n"
        )
        lines = [
            f'Dir "{b}/";',
            f'Dir::State "{b}/var/lib/apt";',
            f'Dir::State::status "{b}/var/lib/dpkg/status";',
            f'Dir::Cache "{b}/var/cache/apt";',
            f'Dir::Etc "{b}/etc/apt";',
            f'Dir::Etc::SourceList "{b}/etc/apt/sources.list";',
            f'Dir::Etc::SourceParts "{b}/etc/apt/sources.list.d";',
            f'Dir::Etc::Parts "{b}/etc/apt/apt.conf.d";',
            f'Dir::Etc::Preferences "{b}/etc/apt/preferences";',
            f'Dir::Etc::PreferencesParts "{b}/etc/apt/preferences.d";',
            f'Dir::Etc::Trusted "{b}/etc/apt/trusted.gpg";',
            f'Dir::Etc::TrustedParts "{b}/etc/apt/trusted.gpg.d";',
            f'APT::Architecture "{self.arch}";',
            'APT::Architectures "";',
            'Acquire::Languages "none";',
            'Acquire::Retries "2";',
            'Acquire::http::Timeout "20";',
            # As root apt drops to user _apt, which cannot write into our 0700 temp dir.
            'APT::Sandbox::User "root";',
            'Debug::NoLocking "true";',
        ]
        self.conf.write_text("\n".join(lines + host_proxy_lines()) + "\n")

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 180) -> str:
        env = dict(os.environ, APT_CONFIG=str(self.conf), LC_ALL="C", DEBIAN_FRONTEND="noninteractive")
        try:
            cp = subprocess.run(
                list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
            )
        except FileNotFoundError as e:
            raise AptError(f"{args[0]} is not installed: this is not a Debian-like host ({e})") from e
        except subprocess.TimeoutExpired as e:
            raise AptError(f"`{' '.join(args)}` timed out after {timeout:.0f} s (mirror {self.mirror_uri})") from e
        # apt-get update exits 0 even when a source failed; its "E:"/"Err:" lines tell the truth.
        failed = cp.returncode != 0 or any(
            ln.startswith(("E:", "Err:")) for ln in cp.stderr.splitlines() + cp.stdout.splitlines()
        )
        if failed:
            tail = "\n".join((cp.stderr or cp.stdout).strip().splitlines()[-6:])
            raise AptError(f"`{' '.join(args)}` failed (exit {cp.returncode}, mirror {self.mirror_uri}):\n{tail}")
        return cp.stdout

    def update(self) -> None:
        self.run("apt-get", "update", "-q")

    def depends_text(self, package: str) -> str:
        return self.run(
            "apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
            "--no-breaks", "--no-replaces", "--no-enhances", package,
        )

    def download(self, packages: list[str]) -> list[Path]:
        dest = self.base / "debs"
        self.run("apt-get", "download", "-q", *packages, cwd=dest)
        debs = sorted(dest.glob("*.deb"))
        if len(debs) != len(packages):
            raise AptError(f"asked apt for {len(packages)} packages, got {len(debs)} .deb files in {dest}")
        return debs
