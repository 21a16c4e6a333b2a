"""Render an NLB node's HAProxy configuration from `templates/haproxy.cfg.j2`."""

from __future__ import annotations

from lab.apply import templates
from lab.apply.idle import HAPROXY_GRACE_S
from lab.plan.model import NlbNode

CONFIG_NAME = "haproxy.cfg"
ADMIN_PORT = 8405
# Check-only twins of PPv2 backends (see the template): their rows are not targets of their own.
CHECK_PREFIX = "checks-"


def render(node: NlbNode, *, boot: bool = False, threads: int = 1) -> str:
    """The node's config; `boot` gives the leg-less config a container starts with before wiring."""
    if boot:
        node = NlbNode(node.container, node.nlb, node.az, node.provider_ip, node.sysctls, (), ())
    return templates.render("haproxy.cfg.j2", node=node, threads=threads, admin_port=ADMIN_PORT,
                            check_prefix=CHECK_PREFIX, idle_grace_s=HAPROXY_GRACE_S)
