"""No VM can boot here, so CI checks what it can: the Vagrantfile parses (`vagrant validate`)
and provisions with the same setup script as the README."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_vagrantfile_provisions_with_the_readme_setup_script():
    text = (ROOT / "Vagrantfile").read_text()
    assert "./setup.sh install" in text
    assert "./setup.sh" in (ROOT / "README.md").read_text().split("\n\n", 2)[1]


@pytest.mark.skipif(shutil.which("vagrant") is None, reason="vagrant is not installed (setup.sh test installs it)")
def test_vagrant_validate_accepts_the_vagrantfile():
    out = subprocess.run(["vagrant", "validate"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "validated successfully" in out.stdout
