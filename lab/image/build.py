"""``ensure_image``: make sure the NLB node image exists, building it offline from Debian packages.

Order of sources: the local cache (an image with our tag and labels), then a build from Debian trixie
packages fetched through the host's own mirror (works on machines that reach only package
registries), then a pull of the official ``haproxy:3.0`` image (machines with a registry).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.image.aptroot import SUITE, PrivateAptRoot, choose_trust
from lab.image.closure import parse_depends, resolve_closure
from lab.image.errors import AptError, ImageBuildError, RegistryOffline, RemoteImageNotFound
from lab.image.mirror import find_debian_mirrors
from lab.image.rootfs import CONFIG_DIR, add_system_files, extract_debs, has_shell, merge_usr, prune, write_tar
from lab.image.verify import parse_haproxy_version, verify_image

NLB_IMAGE_REPO = "privatelink-lab/nlb"
NLB_IMAGE_VERSION_TAG = "haproxy-3.0"
NLB_IMAGE_TAG = f"{NLB_IMAGE_REPO}:{NLB_IMAGE_VERSION_TAG}"

LABEL_IMAGE = "privatelink-lab.image"  # = "nlb"
LABEL_SOURCE = "privatelink-lab.image.source"  # "debian" | "pull"
LABEL_RECIPE = "privatelink-lab.image.recipe"  # bumped when the build changes: old caches rebuild
LABEL_HAPROXY = "privatelink-lab.haproxy.version"
LABEL_PACKAGES = "privatelink-lab.image.packages"  # Debian packages inside (debian source only)
RECIPE = "1"

PULL_REPO, PULL_TAG = "haproxy", "3.0"  # the official image, on machines that reach a registry
ENV_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Master-worker (-W) so SIGUSR2 reloads; -db keeps it in the foreground as PID 1; -f on a DIRECTORY so
# a config file rewritten (or replaced by rename) in the bind-mounted dir is read again on reload.
ENTRYPOINT = ["haproxy", "-W", "-db", "-f", f"{CONFIG_DIR}/"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ImageResult:
    tag: str
    source: str  # "cache" | "debian" | "pull"
    haproxy_version: str
    seconds: float
    size_bytes: int
    image_id: str = ""


def docker_client() -> Any:
    """The engine's client, from the lab's one runtime factory (imported late: unit tests of the pure
    parts must not need an engine)."""
    from lab.apply.runtime import RuntimeUnavailable, get_runtime

    try:
        return get_runtime().client
    except RuntimeUnavailable as e:
        raise ImageBuildError(
            f"Docker engine not reachable ({e.__cause__ or e}). Fix: start it with `dockerd &` (or `systemctl start docker`)."
        ) from e


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    # Two `lab up` at once must not both build: the second waits, then finds the cache.
    lock_dir = Path("/run/lock") if Path("/run/lock").is_dir() else Path(tempfile.gettempdir())
    with open(lock_dir / "privatelink-lab-image.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def cached_image(client: Any, tag: str = NLB_IMAGE_TAG) -> Any | None:
    """The image under ``tag`` if it carries our labels and the current recipe, else None."""
    import docker

    try:
        img = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    labels = img.labels or {}
    if labels.get(LABEL_IMAGE) != "nlb" or labels.get(LABEL_RECIPE) != RECIPE or not labels.get(LABEL_HAPROXY):
        return None
    return img


def _result(img: Any, source: str, t0: float, tag: str) -> ImageResult:
    return ImageResult(
        tag=tag,
        source=source,
        haproxy_version=(img.labels or {}).get(LABEL_HAPROXY, ""),
        seconds=round(time.monotonic() - t0, 2),
        size_bytes=int(img.attrs.get("Size", 0)),
        image_id=img.id,
    )


def ensure_image(
    client: Any = None, *, force: bool = False, progress: Progress = print, tag: str = NLB_IMAGE_TAG
) -> ImageResult:
    """Return the NLB image, from cache unless ``force``; build or pull it otherwise.

    Raises :class:`ImageBuildError` naming every source tried and how to fix it. A failed forced
    rebuild leaves the previous image in place (the tag moves only after verification). ``tag`` is
    for tests that must not replace the image other labs are using.
    """
    t0 = time.monotonic()
    client = client or docker_client()
    with _build_lock():
        if not force and (img := cached_image(client, tag)) is not None:
            progress(f"image: {tag} found in cache (HAProxy {img.labels.get(LABEL_HAPROXY)})")
            return _result(img, "cache", t0, tag)
        attempts: list[str] = []
        for source, step in (("debian", _build_from_debian), ("pull", _pull_official)):
            try:
                img = step(client, progress, tag)
            except ImageBuildError as e:
                attempts.append(f"{source}: {e}")
                progress(f"image: {source} path failed: {str(e).splitlines()[0]}")
                continue
            prune_old_builds(client, progress)
            res = _result(img, source, t0, tag)
            progress(
                f"image: {tag} ready from {source}, HAProxy {res.haproxy_version}, "
                f"{res.size_bytes / 1e6:.1f} MB, {res.seconds:.1f} s"
            )
            return res
    offline = any(a.startswith("pull:") and "offline" in a for a in attempts)
    raise ImageBuildError(
        f"could not make the NLB image {tag}. Tried:\n"
        + "\n".join(f"  - {a}" for a in attempts)
        + "\nFix: give this host a reachable Debian mirror in /etc/apt/sources.list or "
        "/etc/apt/sources.list.d/*.sources (the build reads it and fetches trixie packages in a private "
        "apt root)"
        + (", or network access for Docker to a registry" if offline else ", or a registry holding haproxy:3.0")
        + ", then run `lab image build`.",
        attempts=attempts,
    )


def prune_old_builds(client: Any, progress: Progress = print) -> None:
    """Remove earlier builds left untagged by a rebuild: only images with OUR label, never in use.

    A rebuild moves the tag; the old image stays as <none>:<none>, or stays busy while a running node
    still uses it. Pruning by label on every build collects it once it is free.
    """
    old = client.images.list(filters={"label": f"{LABEL_IMAGE}=nlb", "dangling": True})
    for img in old:
        with contextlib.suppress(Exception):  # still used by a container: collected next time
            client.images.remove(img.id, noprune=False)
            progress(f"image: removed earlier build {img.id[:19]}")


def _deb_field(deb: Path, fld: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), fld], capture_output=True, text=True, check=True).stdout.strip()


def _numbers(version: str) -> tuple[int, int, int]:
    return parse_haproxy_version(f"HAProxy version {version}")[0]


def _build_from_debian(client: Any, progress: Progress, tag: str) -> Any:
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise AptError(f"{tool} not found: the Debian build needs a Debian-like host")
    progress("image: reading the Debian mirror from the host's apt configuration (/etc/apt)")
    mirrors = find_debian_mirrors()
    trust = choose_trust()
    tmp = Path(tempfile.mkdtemp(prefix="privatelink-lab-image-"))
    try:
        root, errors = None, []
        for m in mirrors:
            progress(
                f"image: private apt root for Debian {SUITE} from {m.uri} (listed in {m.origin}); "
                f"{trust.description}"
            )
            candidate = PrivateAptRoot(tmp / f"apt{len(errors)}", m.uri, trust)
            candidate.prepare()
            try:
                candidate.update()
                root = candidate
                break
            except AptError as e:
                errors.append(str(e))
        if root is None:
            raise AptError("no Debian mirror answered for trixie:\n" + "\n".join(errors))
        closure = resolve_closure(parse_depends(root.depends_text("haproxy")), "haproxy")
        progress(f"image: downloading {len(closure)} packages: {' '.join(closure)}")
        debs = root.download(closure)
        rootfs = tmp / "rootfs"
        progress(f"image: extracting {len(debs)} packages (dpkg-deb -x) into a rootfs")
        extract_debs(debs, rootfs)
        merge_usr(rootfs)
        add_system_files(rootfs)
        prune(rootfs)
        if has_shell(rootfs):  # would mean the closure grew a shell: worth knowing, not fatal
            progress("image: note: a shell ended up in the rootfs")
        haproxy_deb = next(d for d in debs if d.name.startswith("haproxy_"))
        deb_version = _deb_field(haproxy_deb, "Version")
        tar = tmp / "rootfs.tar"
        n = write_tar(rootfs, tar)
        progress(f"image: importing rootfs ({n} entries, {tar.stat().st_size / 1e6:.1f} MB tar) with docker import")
        labels = {
            LABEL_IMAGE: "nlb", LABEL_SOURCE: "debian", LABEL_RECIPE: RECIPE,
            LABEL_HAPROXY: deb_version, LABEL_PACKAGES: " ".join(closure),
        }
        changes = [f"ENV PATH={ENV_PATH}", f"ENTRYPOINT {json.dumps(ENTRYPOINT)}", "CMD []", "WORKDIR /"]
        changes += [f"LABEL {k}={json.dumps(v)}" for k, v in labels.items()]
        image_id = _import(client, tar, changes)
        progress("image: verifying with `haproxy -vv` in a network-less container")
        try:
            seen = verify_image(client, image_id)
            if _numbers(seen) != _numbers(deb_version):
                raise ImageBuildError(f"haproxy -vv says {seen}, the package says {deb_version}")
        except Exception:
            with contextlib.suppress(Exception):
                client.images.remove(image_id, force=True)
            raise
        repo, _, version_tag = tag.rpartition(":")
        client.images.get(image_id).tag(repo, version_tag)
        return client.images.get(tag)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _import(client: Any, tar: Path, changes: list[str]) -> str:
    """``docker import`` without a tag (the tag moves only after verification); returns the image id."""
    import docker

    try:
        raw = client.api.import_image(src=str(tar), changes=changes)
    except docker.errors.APIError as e:
        raise ImageBuildError(f"docker import failed: {e.explanation or e}") from e
    text = raw if isinstance(raw, str) else json.dumps(raw)
    for line in reversed(text.strip().splitlines()):
        with contextlib.suppress(ValueError):
            status = json.loads(line).get("status", "")
            if status.startswith("sha256:"):
                return status
    raise ImageBuildError(f"docker import gave no image id: {text[:300]!r}")


def classify_pull_error(err: Exception) -> ImageBuildError:
    """Registry unreachable (offline) vs. the registry has no such image: different fixes."""
    import docker

    text = str(getattr(err, "explanation", "") or err)
    low = text.lower()
    if isinstance(err, (docker.errors.ImageNotFound, docker.errors.NotFound)) or any(
        s in low for s in ("manifest unknown", "not found", "pull access denied", "repository does not exist")
    ):
        return RemoteImageNotFound(f"image {PULL_REPO}:{PULL_TAG} not found in the registry: {text}")
    offline_marks = (
        "dial tcp", "no such host", "lookup ", "i/o timeout", "timeout", "connection refused",
        "network is unreachable", "tls handshake", "temporary failure in name resolution",
    )
    # APIError subclasses OSError (via requests): only a non-API OSError is a transport failure.
    transport = isinstance(err, OSError) and not isinstance(err, docker.errors.APIError)
    if transport or any(s in low for s in offline_marks):
        return RegistryOffline(f"registry offline (unreachable) while pulling {PULL_REPO}:{PULL_TAG}: {text}")
    return ImageBuildError(f"pull of {PULL_REPO}:{PULL_TAG} failed: {text}")


def _pull_official(client: Any, progress: Progress, tag: str) -> Any:
    import docker

    progress(f"image: trying the official image {PULL_REPO}:{PULL_TAG} (needs a reachable registry)")
    try:
        base = client.images.pull(PULL_REPO, PULL_TAG)
    except docker.errors.DockerException as e:
        raise classify_pull_error(e) from e
    progress("image: verifying with `haproxy -vv` in a network-less container")
    version = verify_image(client, base.id)
    # A tiny local build (works offline: FROM a local image) gives the pulled image our labels and the
    # same entrypoint as the Debian build, and runs as root like it (the official one drops to haproxy,
    # which could not bind the NLB's listener ports below 1024 without extra capabilities).
    labels = {LABEL_IMAGE: "nlb", LABEL_SOURCE: "pull", LABEL_RECIPE: RECIPE, LABEL_HAPROXY: version}
    dockerfile = "\n".join(
        [f"FROM {base.id}", "USER root", f"ENV PATH={ENV_PATH}", f"ENTRYPOINT {json.dumps(ENTRYPOINT)}", "CMD []"]
        + [f"LABEL {k}={json.dumps(v)}" for k, v in labels.items()]
    )
    try:
        img, _ = client.images.build(
            fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, forcerm=True, pull=False
        )
    except docker.errors.DockerException as e:
        raise ImageBuildError(f"local build on top of {PULL_REPO}:{PULL_TAG} failed: {e}") from e
    return img
