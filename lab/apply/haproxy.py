"""Render an NLB node's HAProxy configuration from `templates/haproxy.cfg.j2`."""

from __future__ import annotations

from functools import lru_cache

import jinja2

from lab.plan.model import NlbNode
from lab.resources import data_dir

CONFIG_NAME = "haproxy.cfg"
ADMIN_PORT = 8405


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,  # a missing value is a bug, not an empty string in the config
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(node: NlbNode, *, boot: bool = False, threads: int = 1) -> str:
    """The node's config; `boot` gives the leg-less config a container starts with before wiring."""
    if boot:
        node = NlbNode(node.container, node.nlb, node.az, node.provider_ip, node.sysctls, (), ())
    return _env().get_template("haproxy.cfg.j2").render(node=node, threads=threads, admin_port=ADMIN_PORT)
