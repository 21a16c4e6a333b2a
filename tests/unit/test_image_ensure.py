"""ensure_image's decisions (cache, Debian, pull, typed failure) with a fake engine: no Docker needed."""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest

from lab.image import build
from lab.image.build import (
    LABEL_HAPROXY, LABEL_IMAGE, LABEL_RECIPE, LABEL_SOURCE, NLB_IMAGE_TAG, RECIPE, ensure_image,
)
from lab.image.errors import ImageBuildError, NoMirrorError, RegistryOffline, RemoteImageNotFound


class FakeImage:
    def __init__(self, labels: dict[str, str], image_id: str = "sha256:feed", size: int = 31_000_000) -> None:
        self.labels = labels
        self.id = image_id
        self.attrs = {"Size": size}


class FakeImages:
    def __init__(self, by_tag: dict[str, FakeImage]) -> None:
        self.by_tag = by_tag
        self.removed: list[str] = []

    def get(self, ref: str) -> FakeImage:
        if ref not in self.by_tag:
            raise docker.errors.ImageNotFound(f"no {ref}")
        return self.by_tag[ref]

    def remove(self, ref: str, **_: Any) -> None:
        self.removed.append(ref)

    def list(self, filters: dict[str, Any]) -> list[FakeImage]:
        self.list_filters = filters
        return [FakeImage({LABEL_IMAGE: "nlb"}, image_id="sha256:old")]


class FakeClient:
    def __init__(self, by_tag: dict[str, FakeImage] | None = None) -> None:
        self.images = FakeImages(by_tag or {})


GOOD = {LABEL_IMAGE: "nlb", LABEL_RECIPE: RECIPE, LABEL_HAPROXY: "3.0.11-1+deb13u4", LABEL_SOURCE: "debian"}


def _no_build(*_: Any) -> Any:
    raise AssertionError("must not build")


def test_cache_hit_returns_quickly_without_building(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "_build_from_debian", _no_build)
    monkeypatch.setattr(build, "_pull_official", _no_build)
    lines: list[str] = []
    res = ensure_image(FakeClient({NLB_IMAGE_TAG: FakeImage(GOOD)}), progress=lines.append)
    assert (res.source, res.tag, res.haproxy_version, res.size_bytes) == ("cache", NLB_IMAGE_TAG, "3.0.11-1+deb13u4", 31_000_000)
    assert res.seconds < 1
    assert any("cache" in ln for ln in lines)


@pytest.mark.parametrize("labels", [{}, {**GOOD, LABEL_RECIPE: "0"}, {**GOOD, LABEL_IMAGE: "other"}])
def test_tag_without_our_labels_is_not_a_cache_hit(monkeypatch: pytest.MonkeyPatch, labels: dict[str, str]) -> None:
    built = FakeImage({**GOOD}, image_id="sha256:new")
    monkeypatch.setattr(build, "_build_from_debian", lambda c, p, t: built)
    monkeypatch.setattr(build, "_pull_official", _no_build)
    res = ensure_image(FakeClient({NLB_IMAGE_TAG: FakeImage(labels)}), progress=lambda m: None)
    assert res.source == "debian" and res.image_id == "sha256:new"


def test_force_rebuilds_even_with_cache_and_prunes_only_our_label(monkeypatch: pytest.MonkeyPatch) -> None:
    built = FakeImage(GOOD, image_id="sha256:new")
    monkeypatch.setattr(build, "_build_from_debian", lambda c, p, t: built)
    client = FakeClient({NLB_IMAGE_TAG: FakeImage(GOOD)})
    res = ensure_image(client, force=True, progress=lambda m: None)
    assert res.source == "debian"
    assert client.images.list_filters == {"label": f"{LABEL_IMAGE}=nlb", "dangling": True}
    assert client.images.removed == ["sha256:old"]


def test_other_tag_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    monkeypatch.setattr(build, "_build_from_debian", lambda c, p, t: seen.append(t) or FakeImage(GOOD))
    res = ensure_image(FakeClient(), tag="pltest/nlb:x", progress=lambda m: None)
    assert seen == ["pltest/nlb:x"] and res.tag == "pltest/nlb:x"


def test_falls_back_to_pull_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_mirror(c: Any, p: Any, t: str) -> Any:
        raise NoMirrorError("no Debian archive mirror found in the host's apt configuration")

    monkeypatch.setattr(build, "_build_from_debian", no_mirror)
    monkeypatch.setattr(build, "_pull_official", lambda c, p, t: FakeImage({**GOOD, LABEL_SOURCE: "pull"}))
    lines: list[str] = []
    res = ensure_image(FakeClient(), progress=lines.append)
    assert res.source == "pull"
    assert any("debian path failed" in ln for ln in lines)
    assert any("ready from pull" in ln for ln in lines)


@pytest.mark.parametrize(
    ("pull_error", "hint"),
    [
        (RegistryOffline("registry offline (unreachable) while pulling haproxy:3.0: dial tcp"), "network access for Docker"),
        (RemoteImageNotFound("image haproxy:3.0 not found in the registry"), "a registry holding haproxy:3.0"),
    ],
)
def test_both_paths_fail_typed_error_lists_attempts_and_fix(
    monkeypatch: pytest.MonkeyPatch, pull_error: ImageBuildError, hint: str
) -> None:
    def no_mirror(c: Any, p: Any, t: str) -> Any:
        raise NoMirrorError("no Debian archive mirror found in /etc/apt/sources.list")

    def pull(c: Any, p: Any, t: str) -> Any:
        raise pull_error

    monkeypatch.setattr(build, "_build_from_debian", no_mirror)
    monkeypatch.setattr(build, "_pull_official", pull)
    with pytest.raises(ImageBuildError) as ei:
        ensure_image(FakeClient(), progress=lambda m: None)
    msg = str(ei.value)
    assert "Tried:" in msg and "debian: no Debian archive mirror" in msg
    assert f"pull: {pull_error}" in msg
    assert hint in msg and "lab image build" in msg
    assert len(ei.value.attempts) == 2
