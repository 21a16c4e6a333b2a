"""A user who installs the package (a wheel, into a fresh venv, far from any checkout) can bring up
every built-in topology and verify it: `multi-tenant`'s auto-accept "Lambda" must accept tenant-a and
tenant-b and leave tenant-c pending; `basic` verifies green and `leaky` red, on the peering link.

The wheel is built from this checkout, installed into a venv under a tmp dir, and run from another
tmp dir with a PATH like `sudo`'s (no venv bin/, no checkout): nothing of the checkout can leak in.
The red variant runs the old subscriber, `python3 examples/auto_accept.py`, from the same install:
it must fail there, which is what this test guards against.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.root

ROOT = Path(__file__).resolve().parents[2]
BARE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # sudo's secure_path
# What `lab verify` must say of each built-in topology; a new one must be added here (see below).
VERDICTS = {"basic": (0, "PASSED"), "leaky": (1, "peering/leak"), "multi-tenant": (0, "PASSED"),
            "multi-tenant-auth": (0, "PASSED"), "multi-tenant-ports": (0, "PASSED"),
            "direct-connect": (0, "PASSED"), "direct-connect-unadvertised": (1, "FAILED"),
            "internet-vs-private": (0, "PASSED"), "internet-vs-private-leaky": (1, "igw/consumer"),
            "cross-region": (0, "PASSED"), "cross-region-leaky": (1, "FAILED")}
ALLOWED = {"tenant-a-saas": "available", "tenant-b-saas": "available", "tenant-c-saas": "pendingAcceptance"}


def run(argv: list, cwd: Path, timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = BARE_PATH
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if check:
        assert done.returncode == 0, f"{' '.join(map(str, argv))}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a fresh venv outside the checkout with the wheel built from it installed."""
    base = tmp_path_factory.mktemp("wheel")
    assert not base.resolve().is_relative_to(ROOT)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", base / "dist", ROOT], base, timeout=300)
    (wheel,) = (base / "dist").glob("privatelink_lab-*.whl")
    run([sys.executable, "-m", "venv", base / "venv"], base)
    run([base / "venv" / "bin" / "python", "-m", "pip", "install", "-q", wheel], base, timeout=600)
    return base / "venv" / "bin"


@pytest.fixture
def workdir(tmp_path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def test_the_installed_package_is_the_wheels_and_finds_its_topologies(installed, workdir):
    code = ("import json, lab; from lab.topology.load import resolve_topology_path as r; "
            "print(json.dumps([lab.__file__, str(r('multi-tenant'))]))")
    package, topology = json.loads(run([installed / "python", "-c", code], workdir).stdout)
    site = installed.parent / "lib"
    assert Path(package).is_relative_to(site), package
    assert Path(topology).is_relative_to(site) and Path(topology).parts[-3:] == ("_data", "topologies",
                                                                                  "multi-tenant.yaml")


def up_and_read_states(installed: Path, workdir: Path, name: str, topology: str) -> tuple[dict, list]:
    """`lab up -t TOPOLOGY` from the install; the endpoints' states and the command deliveries; `lab down`."""
    lab = installed / "lab"
    try:
        run([lab, "up", "-t", topology, "--name", name], workdir, timeout=300)
        listed = json.loads(run([lab, "endpoint", "list", "--name", name, "--format", "json"], workdir).stdout)
        log = json.loads(run([lab, "events", "--name", name, "--format", "json"], workdir).stdout)["Events"]
    finally:
        run([lab, "down", "--name", name], workdir, timeout=300, check=False)
    states = {e["Lab"]["Name"]: e["State"] for e in listed["VpcEndpoints"]}
    commands = [d for e in log if e["ConnectionEvent"] == "Connect" for d in e["Deliveries"] if d["Type"] == "command"]
    return states, commands


def test_multi_tenant_from_the_wheel_accepts_the_two_allowed_tenants(installed, workdir, lab_name):
    states, commands = up_and_read_states(installed, workdir, lab_name("wheel"), "multi-tenant")
    assert states == ALLOWED
    assert len(commands) == 3 and all(d["Ok"] for d in commands), commands


def test_red_the_old_checkout_path_subscriber_fails_from_the_wheel(installed, workdir, lab_name):
    """What the built-in topology did before: a script path that exists only in a checkout."""
    site_topology = next((installed.parent / "lib").glob("python3*/site-packages/lab/_data/topologies/"
                                                        "multi-tenant.yaml"))
    raw = yaml.safe_load(site_topology.read_text())
    command = raw["endpoint_services"][0]["notifications"][0]
    command["command"] = ["python3", "examples/auto_accept.py", *command["command"][3:]]
    command["attempts"] = 1
    path = workdir / "old-multi-tenant.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    states, commands = up_and_read_states(installed, workdir, lab_name("wheelred"), str(path))
    assert states == dict.fromkeys(ALLOWED, "pendingAcceptance")
    assert commands and not any(d["Ok"] for d in commands), commands


@pytest.mark.parametrize("topology", sorted(VERDICTS))
def test_every_builtin_topology_comes_up_and_verifies_from_the_wheel(installed, workdir, lab_name, topology):
    assert sorted(p.stem for p in (ROOT / "topologies").glob("*.yaml")) == sorted(VERDICTS), \
        "a built-in topology was added or removed: give VERDICTS its expected `lab verify` result"
    lab, name = installed / "lab", lab_name("wheel")
    try:
        run([lab, "up", "-t", topology, "--name", name], workdir, timeout=300)
        done = run([lab, "verify", "--name", name], workdir, timeout=300, check=False)
    finally:
        run([lab, "down", "--name", name], workdir, timeout=300, check=False)
    code, words = VERDICTS[topology]
    assert (done.returncode, words in done.stdout) == (code, True), done.stdout[-3000:] + done.stderr
