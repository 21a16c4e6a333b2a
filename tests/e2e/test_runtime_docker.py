"""DockerRuntime against the real engine: isolated NLB nodes, reload, kill, idempotent removal.

Needs root and a Docker engine (skipped with the reason otherwise). Every container is named
``pltest-<random>``, labelled with this run's id, and removed in teardown.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.apply.runtime import CONFIG_MOUNT, NodeNotFound, NodeSpec, NodeStartError, RuntimeUnavailable

RUN_ID = secrets.token_hex(4)
LABEL_KEY = "privatelink-lab.test"
LABELS = {LABEL_KEY: f"e2e-runtime-{RUN_ID}"}

BASE_CFG = """\
global
    log stderr format raw local0
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
"""


def frontend(name: str, addr: str) -> str:
    return f"frontend {name}\n    bind {addr}\n    default_backend be_{name}\nbackend be_{name}\n    server s 127.0.0.1:1\n"


def listening_ports(pid: int) -> set[tuple[str, int]]:
    """(hex IPv4, port) of LISTEN sockets in the netns of ``pid`` (its /proc view, no setns needed)."""
    out: set[tuple[str, int]] = set()
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A":
            ip, port = local.split(":")
            out.add((ip, int(port, 16)))
    return out


def hex_ip(ip: str) -> str:
    """An IPv4 address as /proc/net/tcp prints it (host byte order, little-endian here)."""
    return socket.inet_aton(ip)[::-1].hex().upper()


LOOPBACK_HEX = hex_ip("127.0.0.1")


def wait_for(pred: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


@pytest.fixture(scope="module")
def runtime() -> Any:
    if os.geteuid() != 0:
        pytest.skip("needs root (Docker socket, /proc/<pid>/ns)")
    from lab.apply.runtime.docker import DockerRuntime

    rt = DockerRuntime()
    try:
        rt.check()
    except RuntimeUnavailable as e:
        if os.environ.get("CI"):  # CI's setup.sh starts the engine: its absence is a failure, never a skip
            pytest.fail(str(e))
        pytest.skip(str(e))
    return rt


@pytest.fixture(scope="module")
def image(runtime: Any) -> str:
    from lab.image import ensure_image

    return ensure_image(runtime.client, progress=lambda m: None).tag


@pytest.fixture
def names(runtime: Any) -> Iterator[Callable[[], str]]:
    made: list[str] = []

    def new() -> str:
        made.append(f"pltest-{secrets.token_hex(5)}")
        return made[-1]

    yield new
    for n in made:
        runtime.remove(n)
    assert not [n for n in made if runtime.exists(n)]


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    (tmp_path / "haproxy.cfg").write_text(BASE_CFG + frontend("fe", "127.0.0.1:9000"))
    return tmp_path


pytestmark = pytest.mark.root


def test_node_is_isolated_loopback_only_and_listening(runtime: Any, image: str, names: Any, cfg: Path) -> None:
    name = names()
    h = runtime.start_nlb_node(name, image=image, labels=LABELS, config_dir=cfg, sysctls={})
    assert h.name == name and h.pid > 0 and runtime.pid(name) == h.pid
    assert os.readlink(h.netns_path) != os.readlink("/proc/self/ns/net")
    devs = [ln.split(":")[0].strip() for ln in Path(f"/proc/{h.pid}/net/dev").read_text().splitlines()[2:]]
    assert devs == ["lo"]
    assert (LOOPBACK_HEX, 9000) in listening_ports(h.pid)
    attrs = runtime.client.containers.get(name).attrs
    assert attrs["HostConfig"]["NetworkMode"] == "none"
    assert attrs["HostConfig"]["RestartPolicy"]["Name"] in ("no", "")
    (mount,) = attrs["Mounts"]
    assert mount["Destination"] == CONFIG_MOUNT and mount["RW"] is False
    assert attrs["Config"]["Labels"][LABEL_KEY] == LABELS[LABEL_KEY]
    assert name in runtime.list_by_label(LABEL_KEY, LABELS[LABEL_KEY])
    assert "Loading success" in runtime.logs(name)


def test_reload_rereads_the_config_directory(runtime: Any, image: str, names: Any, cfg: Path) -> None:
    name = names()
    h = runtime.start_nlb_node(name, image=image, labels=LABELS, config_dir=cfg)
    assert (LOOPBACK_HEX, 9001) not in listening_ports(h.pid)
    # A SIGUSR2 that arrives before the master has loaded its first config is lost: wait for that load.
    assert wait_for(lambda: "Loading success" in runtime.logs(name)), runtime.logs(name)
    # Replace the file by rename, as an atomic config writer does: only a mounted DIRECTORY sees it.
    new = cfg / ".haproxy.cfg.new"
    new.write_text(BASE_CFG + frontend("fe", "127.0.0.1:9000") + frontend("fe2", "127.0.0.1:9001"))
    new.rename(cfg / "haproxy.cfg")
    runtime.reload(name)
    assert wait_for(lambda: (LOOPBACK_HEX, 9001) in listening_ports(h.pid)), runtime.logs(name)
    assert runtime.pid(name) == h.pid  # same master: a reload, not a restart
    assert runtime.logs(name).count("Loading success") >= 2


def test_remove_twice_is_fine_and_gone_means_gone(runtime: Any, image: str, names: Any, cfg: Path) -> None:
    name = names()
    runtime.start_nlb_node(name, image=image, labels=LABELS, config_dir=cfg)
    runtime.remove(name)
    runtime.remove(name)
    assert not runtime.exists(name)
    assert runtime.pid(name) is None and runtime.logs(name) == ""
    with pytest.raises(NodeNotFound):
        runtime.kill(name)


def test_kill_stops_the_node_but_keeps_it_for_inspection(runtime: Any, image: str, names: Any, cfg: Path) -> None:
    name = names()
    runtime.start_nlb_node(name, image=image, labels=LABELS, config_dir=cfg)
    runtime.kill(name)
    assert wait_for(lambda: runtime.pid(name) is None)
    assert runtime.exists(name)  # not restarted (policy none), not removed


def test_nonlocal_bind_sysctl_lets_haproxy_bind_before_wiring(runtime: Any, image: str, names: Any, tmp_path: Path) -> None:
    # A documentation-range address not present in the node: it only binds, nothing is sent anywhere.
    (tmp_path / "haproxy.cfg").write_text(BASE_CFG + frontend("fe", "203.0.113.7:8080"))
    refused = names()
    with pytest.raises(NodeStartError, match="exited at once"):
        runtime.start_nlb_node(refused, image=image, labels=LABELS, config_dir=tmp_path)
    assert not runtime.exists(refused)  # a failed start leaves nothing behind
    name = names()
    h = runtime.start_nlb_node(
        name, image=image, labels=LABELS, config_dir=tmp_path, sysctls={"net.ipv4.ip_nonlocal_bind": "1"}
    )
    assert (hex_ip("203.0.113.7"), 8080) in listening_ports(h.pid)


def test_name_conflict_does_not_touch_the_existing_container(runtime: Any, image: str, names: Any, cfg: Path) -> None:
    name = names()
    h = runtime.start_nlb_node(name, image=image, labels=LABELS, config_dir=cfg)
    with pytest.raises(NodeStartError, match="already exists"):
        runtime.start_nlb_node(name, image=image, labels=LABELS, config_dir=cfg)
    assert runtime.pid(name) == h.pid


def test_missing_config_dir_is_refused(runtime: Any, image: str, names: Any, tmp_path: Path) -> None:
    name = names()
    with pytest.raises(NodeStartError, match="does not exist"):
        runtime.start_nlb_node(name, image=image, labels=LABELS, config_dir=tmp_path / "nope")
    assert not runtime.exists(name)


def test_start_many_in_parallel(runtime: Any, image: str, names: Any, cfg: Path) -> None:
    specs = [NodeSpec(names(), image, cfg, LABELS) for _ in range(3)]
    t0 = time.monotonic()
    handles = runtime.start_many(specs)
    took = time.monotonic() - t0
    assert [h.name for h in handles] == [s.name for s in specs]
    netns = {os.readlink(h.netns_path) for h in handles}
    assert len(netns) == 3 and os.readlink("/proc/self/ns/net") not in netns
    assert {s.name for s in specs} <= set(runtime.list_by_label(LABEL_KEY, LABELS[LABEL_KEY]))
    assert took < 10, took


def test_start_many_is_all_or_nothing(runtime: Any, image: str, names: Any, cfg: Path, tmp_path: Path) -> None:
    label = {LABEL_KEY: f"e2e-runtime-aon-{RUN_ID}"}
    specs = [NodeSpec(names(), image, cfg, label), NodeSpec(names(), image, tmp_path / "missing", label)]
    with pytest.raises(NodeStartError):
        runtime.start_many(specs)
    assert runtime.list_by_label(LABEL_KEY, label[LABEL_KEY]) == []


def test_unreachable_engine_gives_fix_hint(tmp_path: Path) -> None:
    docker = pytest.importorskip("docker")
    from lab.apply.runtime.docker import DockerRuntime

    # An explicit API version: otherwise the client asks the (absent) engine for it in its constructor.
    rt = DockerRuntime(docker.DockerClient(base_url=f"unix://{tmp_path}/no.sock", version="1.41", timeout=2))
    with pytest.raises(RuntimeUnavailable, match=r"dockerd &"):
        rt.check()
