"""Typed errors of the NLB image builder.

Callers (``lab up``, ``lab doctor``) branch on the type, and users read the message: every message says
what was tried and how to fix it.
"""

from __future__ import annotations

from lab.topology.errors import LabSystemError


class ImageBuildError(LabSystemError, RuntimeError):
    """The NLB image could not be made or found. The message lists what was tried and the fix."""

    def __init__(self, message: str, *, attempts: list[str] | None = None) -> None:
        super().__init__(message)
        self.attempts: list[str] = attempts or []


class NoMirrorError(ImageBuildError):
    """The host's apt configuration names no usable Debian archive mirror."""


class AptError(ImageBuildError):
    """apt-get in the private apt root failed (mirror unreachable, package missing, ...)."""


class RegistryOffline(ImageBuildError):
    """The container registry could not be reached at all (no network, DNS failure, timeout)."""


class RemoteImageNotFound(ImageBuildError):
    """The registry answered, but it has no such image or tag."""


class ImageVerifyError(ImageBuildError):
    """An image was made but ``haproxy -vv`` failed in it or reported a version below the minimum."""
