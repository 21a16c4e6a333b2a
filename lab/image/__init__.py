"""The NLB node image: HAProxy >= 2.9 built offline from Debian trixie packages, cached by tag.

Public API: :func:`ensure_image`, :class:`ImageResult`, :data:`NLB_IMAGE_TAG`, the label keys,
:func:`check_config`, :func:`describe_image`, and the errors. See docs/image.md.

May import: lab.apply.runtime (the one runtime factory gives it the engine's client) and the pure
libraries; nothing above lab.apply.
"""

from __future__ import annotations

from lab.image.build import (
    ENTRYPOINT,
    LABEL_HAPROXY,
    LABEL_IMAGE,
    LABEL_PACKAGES,
    LABEL_RECIPE,
    LABEL_SOURCE,
    NLB_IMAGE_TAG,
    ImageResult,
    cached_image,
    ensure_image,
)
from lab.image.errors import (
    AptError,
    ImageBuildError,
    ImageVerifyError,
    NoMirrorError,
    RegistryOffline,
    RemoteImageNotFound,
)
from lab.image.info import ImageInfo, describe_image
from lab.image.rootfs import CONFIG_DIR
from lab.image.verify import MIN_VERSION, ConfigCheck, check_config, parse_haproxy_version, verify_image

__all__ = [
    "CONFIG_DIR", "ENTRYPOINT", "LABEL_HAPROXY", "LABEL_IMAGE", "LABEL_PACKAGES", "LABEL_RECIPE",
    "LABEL_SOURCE", "MIN_VERSION", "NLB_IMAGE_TAG", "AptError", "ConfigCheck", "ImageBuildError",
    "ImageInfo", "ImageResult", "ImageVerifyError", "NoMirrorError", "RegistryOffline",
    "RemoteImageNotFound", "cached_image", "check_config", "describe_image", "ensure_image",
    "parse_haproxy_version", "verify_image",
]
