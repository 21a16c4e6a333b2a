"""The NLB image for real: build (or cache), run HAProxy in it with no network, check the TLV config.

Needs root and a Docker engine; skipped with the reason otherwise. Every container created here is
named ``pltest-...``, labelled, and removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.root

TEST_LABEL = {"privatelink-lab.test": "e2e-image"}
TLV_SERVER = 'set-proxy-v2-tlv-fmt(0xEA) "\\x01vpce-0123456789abcdef0"'

TLV_CONFIG = f"""\
global
    log stderr format raw local0
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend vpce
    bind 127.0.0.1:9000
    default_backend targets
backend targets
    server t1 127.0.0.1:9001 send-proxy-v2 {TLV_SERVER}
"""


@pytest.fixture(scope="module")
def client() -> Any:
    if os.geteuid() != 0:
        pytest.skip("needs root (Docker socket, namespaces)")
    docker = pytest.importorskip("docker")
    try:
        c = docker.from_env()
        c.ping()
    except Exception as e:  # any failure to reach the engine is a skip, not an error -- except in CI,
        if os.environ.get("CI"):  # whose setup.sh starts the engine: there its absence must fail
            pytest.fail(f"no Docker engine reachable: {e}")
        pytest.skip(f"no Docker engine reachable: {e}")
    return c


@pytest.fixture(autouse=True)
def _test_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    # Throwaway check containers made by the library during these tests get the test prefix too.
    from lab.image import verify

    monkeypatch.setattr(verify, "THROWAWAY_PREFIX", "pltest-imgcheck-")


@pytest.fixture(scope="module")
def image(client: Any) -> Any:
    from lab.image import ensure_image

    lines: list[str] = []
    res = ensure_image(client, progress=lines.append)
    assert lines, "ensure_image reported no progress"
    return res


@pytest.fixture
def run_container(client: Any) -> Iterator[Any]:
    made: list[Any] = []

    def run(image: str, entrypoint: list[str]) -> tuple[int, str, Any]:
        c = client.containers.create(
            image, entrypoint=entrypoint, command=[], name=f"pltest-{secrets.token_hex(4)}",
            network_mode="none", labels=TEST_LABEL,
        )
        made.append(c)
        c.start()
        code = c.wait(timeout=60)["StatusCode"]
        return code, c.logs().decode(errors="replace"), c

    yield run
    for c in made:
        c.remove(force=True)


def _assert_no_test_containers(client: Any) -> None:
    left = client.containers.list(all=True, filters={"name": "pltest-imgcheck-"})
    assert not left, f"throwaway containers left behind: {[c.name for c in left]}"


def test_image_has_tag_labels_and_entrypoint(client: Any, image: Any) -> None:
    from lab.image import LABEL_HAPROXY, LABEL_IMAGE, LABEL_SOURCE, NLB_IMAGE_TAG

    assert image.tag == NLB_IMAGE_TAG
    img = client.images.get(NLB_IMAGE_TAG)
    assert img.labels[LABEL_IMAGE] == "nlb"
    assert img.labels[LABEL_SOURCE] in ("debian", "pull")
    assert img.labels[LABEL_HAPROXY] == image.haproxy_version
    assert img.attrs["Config"]["Entrypoint"] == ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/"]
    assert 0 < image.size_bytes < 150_000_000


def test_haproxy_vv_at_least_2_9_with_no_network(image: Any, run_container: Any) -> None:
    from lab.image import MIN_VERSION, parse_haproxy_version

    code, out, c = run_container(image.tag, ["haproxy", "-vv"])
    assert code == 0, out
    nums, full = parse_haproxy_version(out)
    assert nums[:2] >= MIN_VERSION, full
    assert c.attrs["HostConfig"]["NetworkMode"] == "none"
    assert "OPENSSL" in out.upper()  # built with TLS, as the lab's TLS listeners need


def test_tlv_config_passes_haproxy_check(client: Any, image: Any) -> None:
    from lab.image import check_config

    res = check_config(client, image.tag, TLV_CONFIG)
    assert res.ok, res.output
    bad = check_config(client, image.tag, TLV_CONFIG.replace("send-proxy-v2", "send-proxy-v9"))
    assert not bad.ok and "send-proxy-v9" in bad.output  # the check can fail, and says why
    _assert_no_test_containers(client)


def test_image_has_no_shell(client: Any, image: Any) -> None:
    from lab.image import describe_image

    info = describe_image(client, image.tag)
    assert info is not None
    if info.source == "debian":
        assert not info.has_shell
        assert "haproxy" in info.packages and "libc6" in info.packages
        assert not {"adduser", "debconf", "passwd", "bash", "dash"} & set(info.packages)
    _assert_no_test_containers(client)


@pytest.fixture
def scratch_tag(client: Any) -> Iterator[str]:
    # A forced rebuild under the lab's own tag would swap the image under other labs running on this
    # engine; a test tag is built the same way and removed afterwards.
    tag = f"pltest/nlb:{secrets.token_hex(4)}"
    yield tag
    with contextlib.suppress(Exception):
        client.images.remove(tag, force=True)


def test_fresh_build_is_fast_and_then_cached(client: Any, image: Any, scratch_tag: str) -> None:
    from lab.image import ensure_image

    lines: list[str] = []
    res = ensure_image(client, force=True, progress=lines.append, tag=scratch_tag)
    assert res.source in ("debian", "pull"), lines
    assert res.seconds <= 30, f"fresh build took {res.seconds} s (goal <= 30 s)"
    assert client.images.get(scratch_tag).id == res.image_id
    joined = "\n".join(lines)
    if res.source == "debian":  # progress names every long step
        for step in ("reading the Debian mirror", "downloading", "extracting", "importing", "verifying"):
            assert step in joined, joined
    again = ensure_image(client, progress=lambda m: None, tag=scratch_tag)
    assert again.source == "cache" and again.image_id == res.image_id and again.seconds < 2
    print(f"\nfresh NLB image build: {res.seconds:.2f} s, {res.size_bytes / 1e6:.1f} MB, source {res.source}")
    _assert_no_test_containers(client)


def test_without_a_mirror_the_pull_fallback_runs_and_is_reported(
    client: Any, scratch_tag: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docker

    from lab.image import ImageBuildError, ensure_image
    from lab.image import build as build_mod
    from lab.image.mirror import find_debian_mirrors

    # The host's apt configuration as if it named no Debian mirror (an empty /etc/apt).
    monkeypatch.setattr(build_mod, "find_debian_mirrors", lambda: find_debian_mirrors(tmp_path))
    had_official = bool(client.images.list(name="haproxy"))
    lines: list[str] = []
    try:
        res = ensure_image(client, force=True, progress=lines.append, tag=scratch_tag)
    except ImageBuildError as e:  # the usual case here: no registry reachable
        msg = str(e)
        assert len(e.attempts) == 2 and e.attempts[0].startswith("debian: no Debian archive mirror")
        assert e.attempts[1].startswith("pull: ")
        assert ("registry offline" in msg) or ("not found in the registry" in msg), msg
        assert "lab image build" in msg
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(scratch_tag)
    else:  # a machine with a registry: the official image, relabelled
        assert res.source == "pull"
        assert client.images.get(scratch_tag).labels["privatelink-lab.image.source"] == "pull"
        if not had_official:
            client.images.remove("haproxy:3.0", force=True)
    assert any("debian path failed" in ln for ln in lines), lines
    assert any("official image" in ln for ln in lines), lines
    _assert_no_test_containers(client)
