"""No VM can boot here, so CI checks what it can: the Vagrantfile parses and its settings are known
to Vagrant (`vagrant validate`), and it provisions with the same setup script as the README.

`vagrant validate` alone fails on a host without VirtualBox or libvirt ("No usable default provider
could be found"), which is a fresh Debian 12 machine. `--ignore-provider` checks everything but the
provider blocks, on any host. What it cannot see: a misspelled key INSIDE a provider block
(`vb.foo = 3` passes), since those are exactly what it ignores; checking them needs the provider
itself installed. The red variants below show what it does catch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VAGRANTFILE = ROOT / "Vagrantfile"

# Skipped only outside CI: in CI (`setup.sh test` installs vagrant) a missing vagrant must fail, not hide.
needs_vagrant = pytest.mark.skipif(shutil.which("vagrant") is None and not os.environ.get("CI"),
                                   reason="vagrant is not installed (setup.sh test installs it)")


def test_vagrantfile_provisions_with_the_readme_setup_script():
    text = VAGRANTFILE.read_text()
    assert "./setup.sh install" in text
    assert "./setup.sh" in (ROOT / "README.md").read_text().split("\n\n", 2)[1]


def validate(folder: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """`vagrant validate --ignore-provider` of folder's Vagrantfile; its `.vagrant/` goes to tmp_path,
    so validating the checkout's own file leaves nothing in the checkout."""
    env = {**os.environ, "VAGRANT_CWD": str(folder), "VAGRANT_DOTFILE_PATH": str(tmp_path / "dot-vagrant")}
    return subprocess.run(["vagrant", "validate", "--ignore-provider"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@needs_vagrant
def test_vagrant_validate_accepts_the_vagrantfile(tmp_path):
    had_dotdir = (ROOT / ".vagrant").exists()
    out = validate(ROOT, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "validated successfully" in out.stdout
    assert had_dotdir or not (ROOT / ".vagrant").exists(), "validating wrote .vagrant/ into the checkout"


def broken(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the Vagrantfile, in a folder of its own, with one line changed."""
    text = VAGRANTFILE.read_text()
    assert old in text, f"the Vagrantfile no longer has {old!r}: update this test"
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "Vagrantfile").write_text(text.replace(old, new, 1))
    return folder


HOSTNAME = 'config.vm.hostname = "privatelink-lab"'


@needs_vagrant
@pytest.mark.parametrize("old, new, says", [
    # A Ruby syntax error: the closing `end` of the configure block is gone.
    ("\nend", "\n", "syntax error"),
    # An unknown key of a known section (config.vm).
    (HOSTNAME, HOSTNAME + '\n  config.vm.hostnam = "typo"', "The following settings shouldn't exist: hostnam"),
    # An unknown section.
    (HOSTNAME, HOSTNAME + "\n  config.vmm.box = 1", "Unknown configuration section 'vmm'"),
], ids=["ruby-syntax-error", "unknown-vm-key", "unknown-section"])
def test_vagrant_validate_rejects_a_broken_vagrantfile(tmp_path, old, new, says):
    out = validate(broken(tmp_path, old, new), tmp_path)
    assert out.returncode != 0, out.stdout + out.stderr
    assert says in out.stdout + out.stderr
