"""`sudo ./setup.sh test` on a fresh machine must install everything the tests use: the Debian
package of every tool they run, and the PyPI distribution of every module lab/ and tests/ import.
A test that passes only because this machine happens to have something is a test CI cannot trust."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUP = (ROOT / "setup.sh").read_text()

# Every tool the tests or the lab run (directly, or in a lab namespace through `lab exec`), and the
# Debian package that brings it. Add a line here when a test starts running a new tool.
TOOL_PACKAGES = {
    "ip": "iproute2", "bridge": "iproute2", "nft": "nftables", "dnsmasq": "dnsmasq-base",
    "curl": "curl", "ping": "iputils-ping", "dig": "dnsutils", "tcpdump": "tcpdump", "tshark": "tshark",
    "iperf3": "iperf3", "ethtool": "ethtool", "vagrant": "vagrant", "python3 -m venv": "python3-venv",
}
# What pip's distribution is called when the module is not.
DISTRIBUTIONS = {"yaml": "pyyaml", "google_crc32c": "google-crc32c"}
LOCAL = {"lab", "audit", "labs"} | {p.stem for p in (Path(__file__).resolve().parents[1]).rglob("test_*.py")}  # ours: tests/audit.py, tests/labs.py, test modules


def apt_packages(job: str) -> set[str]:
    """The packages setup.sh installs for a job, read from its APT_PACKAGES lines."""
    base = re.search(r"^APT_PACKAGES=\((.*?)\)", SETUP, re.S | re.M).group(1)
    packages = set(base.split())
    for condition, extra in re.findall(r'^if (.*?); then APT_PACKAGES\+=\((.*?)\); fi', SETUP, re.M):
        if f'"$JOB" = {job}' in condition or "$JOB" not in condition:
            packages |= set(extra.split())
    return packages


def test_the_test_job_installs_the_package_of_every_tool_the_tests_run():
    packages = apt_packages("test")
    missing = {tool: pkg for tool, pkg in TOOL_PACKAGES.items() if pkg not in packages}
    assert not missing, f"setup.sh test does not install: {missing}"
    # The engine: Debian's package unless an engine is already there (see setup.sh).
    assert '"$DOCKER_PKG"' in packages and "command -v dockerd" in SETUP


def test_vagrant_only_for_the_test_job():
    assert "vagrant" in apt_packages("test") and "vagrant" not in apt_packages("demo")


def test_every_module_lab_and_the_tests_import_is_a_declared_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower()
                for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    imported: dict[str, str] = {}
    for folder in ("lab", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
                for name in names:
                    imported.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    third_party = {m: where for m, where in imported.items() if m not in sys.stdlib_module_names and m not in LOCAL}
    undeclared = {m: where for m, where in third_party.items() if DISTRIBUTIONS.get(m, m).lower() not in declared}
    assert not undeclared, f"imported but not in pyproject's dependencies or [test] extra: {undeclared}"
    assert {"hypothesis", "scapy", "docker"} <= set(third_party)  # the scan really sees the imports

