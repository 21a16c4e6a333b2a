"""`lab image build|show`: the NLB node image (HAProxy >= 2.9 from Debian packages, offline)."""

from __future__ import annotations

import click

from lab.cli.output import activity, emit_json, format_option, stdout


@click.group()
def image() -> None:
    """Build or inspect the NLB node image."""


@image.command()
@click.option("--force", is_flag=True, help="Rebuild even if the image is cached.")
@format_option
def build(force: bool, fmt: str) -> None:
    """Build the NLB image from Debian packages (mirror read from the host's apt config)."""
    from lab.apply.api import runtime
    from lab.image import ensure_image

    with activity("building the NLB image", fmt == "text") as report:
        result = ensure_image(runtime().client, force=force, progress=report)
    data = {"tag": result.tag, "source": result.source, "haproxy_version": result.haproxy_version,
            "seconds": round(result.seconds, 2), "size_bytes": result.size_bytes}
    if fmt == "json":
        emit_json(data)
    else:
        stdout.print(f"{result.tag}: HAProxy {result.haproxy_version}, from {result.source}, "
                     f"{result.size_bytes / 1e6:.0f} MB, {result.seconds:.1f} s")
