"""``describe_image``: what the demo shows about the NLB image (and `lab image info` can print)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab.image.build import (
    LABEL_HAPROXY,
    LABEL_PACKAGES,
    LABEL_SOURCE,
    NLB_IMAGE_TAG,
    cached_image,
    docker_client,
)
from lab.image.verify import probe_shell


@dataclass(frozen=True)
class ImageInfo:
    tag: str
    image_id: str
    source: str
    haproxy_version: str
    size_bytes: int
    packages: tuple[str, ...]  # the Debian packages inside (empty for a pulled image)
    entrypoint: tuple[str, ...]
    has_shell: bool  # False for the Debian build: HAProxy and its libraries only


def describe_image(client: Any = None, tag: str = NLB_IMAGE_TAG, *, probe: bool = True) -> ImageInfo | None:
    """Facts about the built image, or None if it is not there. ``probe`` runs /bin/sh to prove absence."""
    client = client or docker_client()
    img = cached_image(client, tag)
    if img is None:
        return None
    labels = img.labels or {}
    return ImageInfo(
        tag=tag,
        image_id=img.id,
        source=labels.get(LABEL_SOURCE, ""),
        haproxy_version=labels.get(LABEL_HAPROXY, ""),
        size_bytes=int(img.attrs.get("Size", 0)),
        packages=tuple(labels.get(LABEL_PACKAGES, "").split()),
        entrypoint=tuple(img.attrs.get("Config", {}).get("Entrypoint") or ()),
        has_shell=probe_shell(client, img.id) if probe else False,
    )
