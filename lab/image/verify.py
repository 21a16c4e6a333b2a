"""Check an NLB image by running HAProxy in throwaway, network-less containers.

Every throwaway container runs with ``network_mode="none"`` (it needs no network, and must never land
on Docker's bridge), carries the lab's label, and is removed whatever happens.
"""

from __future__ import annotations

import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.image.errors import ImageVerifyError

MIN_VERSION = (2, 9)  # set-proxy-v2-tlv-fmt (the AWS VPC endpoint ID TLV) appeared in HAProxy 2.9
CONFIG_DIR = "/usr/local/etc/haproxy"
# Name prefix of throwaway check containers; tests set it to their own prefix so that everything a
# test run creates is recognisable (and removable) by name.
THROWAWAY_PREFIX = "privatelink-lab-imgcheck-"
_VERSION = re.compile(r"HAProxy version (\d+)\.(\d+)(?:\.(\d+))?(\S*)")


def parse_haproxy_version(text: str) -> tuple[tuple[int, int, int], str]:
    """``(major, minor, patch)`` and the full version string from ``haproxy -vv`` output."""
    m = _VERSION.search(text)
    if not m:
        raise ValueError(f"no 'HAProxy version X.Y' line in: {text[:200]!r}")
    nums = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
    full = f"{m.group(1)}.{m.group(2)}" + (f".{m.group(3)}" if m.group(3) else "") + m.group(4)
    return nums, full


def _run_throwaway(client: Any, image: str, args: list[str], volumes: dict | None = None) -> tuple[int, str]:
    """Run ``args`` as the container's entrypoint; return (exit code, stdout+stderr). Always removed."""
    name = f"{THROWAWAY_PREFIX}{secrets.token_hex(4)}"
    container = client.containers.create(
        image,
        entrypoint=args,
        command=[],
        name=name,
        network_mode="none",
        labels={"privatelink-lab.role": "image-check"},
        volumes=volumes or {},
    )
    try:
        container.start()
        status = container.wait(timeout=60)
        out = container.logs(stdout=True, stderr=True).decode(errors="replace")
        return int(status.get("StatusCode", -1)), out
    finally:
        container.remove(force=True)


def verify_image(client: Any, image: str) -> str:
    """Run ``haproxy -vv`` in ``image``; return the version string. Raises :class:`ImageVerifyError`."""
    try:
        code, out = _run_throwaway(client, image, ["haproxy", "-vv"])
    except Exception as e:  # docker APIError/ContainerError: the binary or a library is missing
        raise ImageVerifyError(f"`haproxy -vv` could not run in {image}: {e}") from e
    if code != 0:
        raise ImageVerifyError(f"`haproxy -vv` exited {code} in {image}:\n{out[-800:]}")
    try:
        nums, full = parse_haproxy_version(out)
    except ValueError as e:
        raise ImageVerifyError(f"{image}: {e}") from e
    if nums[:2] < MIN_VERSION:
        raise ImageVerifyError(
            f"{image} has HAProxy {full}; the lab needs >= {MIN_VERSION[0]}.{MIN_VERSION[1]} "
            f"(set-proxy-v2-tlv-fmt). Rebuild with `lab image build`."
        )
    return full


@dataclass(frozen=True)
class ConfigCheck:
    ok: bool
    output: str


def check_config(client: Any, image: str, config: str | Path) -> ConfigCheck:
    """``haproxy -c`` on a config text or a config directory, inside the image (no network).

    Useful before a reload: a config the master rejects on SIGUSR2 leaves the old workers running and
    the change silently not applied.
    """
    with tempfile.TemporaryDirectory(prefix="privatelink-lab-cfgcheck-") as tmp:
        if isinstance(config, Path):
            cfg_dir = config.resolve()
        else:
            cfg_dir = Path(tmp)
            (cfg_dir / "haproxy.cfg").write_text(config)
        code, out = _run_throwaway(
            client, image, ["haproxy", "-c", "-f", f"{CONFIG_DIR}/"],
            volumes={str(cfg_dir): {"bind": CONFIG_DIR, "mode": "ro"}},
        )
    return ConfigCheck(ok=code == 0, output=out)


def probe_shell(client: Any, image: str) -> bool:
    """True if ``/bin/sh`` runs in the image. The NLB image has none: the demo shows it is HAProxy only."""
    try:
        code, _ = _run_throwaway(client, image, ["/bin/sh", "-c", "exit 0"])
    except Exception:  # the engine refuses to start a missing executable
        return False
    return code == 0
