"""An independent audit of what a lab left on the machine, for the end-to-end tests.

It does not use the lab's journal, plan or code paths: it asks the system itself (`ip -j`,
`ip -n NS`, the Docker API, /proc/self/mountinfo, /proc/*/cmdline, the file system) for
anything that carries the lab's name or ownership marks:

- network namespaces named `pl-<lab>.*` (`ip -j netns list`) and their bind mounts under /run/netns;
- links whose alias is `privatelink-lab:<lab>:*`, in the root namespace and in every named namespace;
- containers labelled `privatelink-lab.lab=<lab>` (running or not);
- processes whose command line carries the lab's owner token `privatelink-lab:<lab>:`;
- files under the lab's state folder and `/etc/netns/pl-<lab>.*`.

`residue(lab)` returns what it found, by kind; `assert_clean(lab)` fails with that list.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

NETNS_DIR = "/run/netns"
ALIAS_PREFIX = "privatelink-lab:"
LABEL_LAB = "privatelink-lab.lab"


def _ip_json(*args: str) -> list[dict]:
    out = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, timeout=20)
    if out.returncode != 0 or not out.stdout.strip():
        return []
    return json.loads(out.stdout)


def namespaces() -> list[str]:
    return sorted(ns["name"] for ns in _ip_json("netns", "list"))


def _links_marked(lab: str, netns: str | None) -> list[str]:
    args = ("-n", netns, "-d", "link", "show") if netns else ("-d", "link", "show")
    mark = f"{ALIAS_PREFIX}{lab}:"
    where = netns or "root"
    return [f"{where}/{link['ifname']}" for link in _ip_json(*args) if str(link.get("ifalias", "")).startswith(mark)]


def _mounts(lab: str) -> list[str]:
    prefix = f"{NETNS_DIR}/pl-{lab}."
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mount_point = line.split()[4]
            if mount_point.startswith(prefix):
                found.append(mount_point)
    return found


def processes_with(needle: str) -> list[int]:
    """PIDs whose command line contains `needle` (this process and its parent excluded)."""
    mine = {os.getpid(), os.getppid()}
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                if needle.encode() in f.read():
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def containers(label_value: str, key: str = LABEL_LAB) -> list[str]:
    import docker

    client = docker.from_env()
    try:
        return sorted(c.name for c in client.containers.list(all=True, filters={"label": f"{key}={label_value}"}))
    finally:
        client.close()


def state_root() -> Path:
    return Path(os.environ.get("PRIVATELINK_LAB_STATE", "/var/lib/privatelink-lab"))


SQLITE_TRANSIENT = ("-journal", "-wal", "-shm")


def residue(lab: str) -> dict[str, list[str]]:
    ns_all = namespaces()
    ours = [n for n in ns_all if n.startswith(f"pl-{lab}.")]
    links = _links_marked(lab, None)
    for ns in ns_all:  # every namespace, not only ours: a link may have been moved anywhere
        links += _links_marked(lab, ns)
    state = state_root() / lab
    # SQLite's companions of the metrics store come and go with each write of the lab's sampler.
    files = [str(p) for p in state.rglob("*") if not p.name.endswith(SQLITE_TRANSIENT)] + \
        ([str(state)] if state.exists() else [])
    etc = [str(p) for p in Path("/etc/netns").glob(f"pl-{lab}.*")]
    found = {
        "namespaces": ours,
        "links": links,
        "containers": containers(lab),
        "mounts": _mounts(lab),
        "processes": [str(p) for p in processes_with(f"{ALIAS_PREFIX}{lab}:")],
        "files": files + etc,
    }
    return {kind: items for kind, items in found.items() if items}


def assert_clean(lab: str) -> None:
    left = residue(lab)
    assert not left, f"lab {lab!r} left residue: {json.dumps(left, indent=1)}"


def lab_command() -> list[str]:
    """How to run the `lab` CLI as a separate process: the venv's console script."""
    script = Path(sys.executable).parent / "lab"
    return [str(script)] if script.exists() else [sys.executable, "-c", "import sys; from lab.cli.main import main; sys.exit(main())"]


def run_lab(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*lab_command(), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
