"""Names of kernel objects: namespaces, interfaces, containers.

Interface names must fit the kernel's 15 characters (IFNAMSIZ - 1). Long names are shortened
with a hash suffix so they stay unique; the plan records the mapping so `lab status` can show
which interface is which. Namespace and container names carry the lab's name so that two labs
coexist, and use '.' as a separator because object names may not contain one: `pl-a.b-c` and
`pl-a-b.c` can never collide.
"""

from __future__ import annotations

import re

from lab.plan.ids import digest
from lab.topology.errors import LabInputError

IFNAME_MAX = 15
PREFIX = "pl-"
# Short enough that every derived name fits its limit; no '.' so the separator stays unambiguous,
# and no '/' so a lab name can never become a path outside the state root.
LAB_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,15}$")


def check_lab_name(lab: str) -> None:
    if not LAB_NAME_RE.match(lab):
        raise LabInputError("--name", f"{lab!r} is not a valid lab name",
                            "use 1-16 characters of a-z, 0-9 and '-', starting with a letter")


def short_ifname(prefix: str, name: str) -> str:
    full = prefix + name
    if len(full) <= IFNAME_MAX:
        return full
    tag = digest(full)[:4]
    keep = IFNAME_MAX - len(prefix) - len(tag) - 1
    return f"{prefix}{name[:keep]}-{tag}"


def router_netns(lab: str, vpc: str) -> str:
    return f"{PREFIX}{lab}.{vpc}"


def instance_netns(lab: str, vpc: str, instance: str) -> str:
    return f"{PREFIX}{lab}.{vpc}.{instance}"


def node_container(lab: str, nlb: str, az: str) -> str:
    return f"{PREFIX}{lab}.{nlb}.{az}"


def temp_ifname(lab: str, key: str, side: str) -> str:
    """A root-namespace name for a veth end before it is moved: 'plt' + 12 hex, unique per lab and link."""
    return "plt" + digest(lab, key, side)[:12]


def ownership_alias(lab: str, key: str) -> str:
    """Written to IFLA_IFALIAS on both ends: proof that a link is ours before cleanup touches it."""
    return f"privatelink-lab:{lab}:{key}"


def gateway_mac(lab: str, vpc: str, subnet: str) -> str:
    """A stable, locally administered, unicast MAC for a subnet's gateway bridge."""
    raw = digest("mac", lab, vpc, subnet)[:10]
    return "02:" + ":".join(raw[i:i + 2] for i in range(0, 10, 2))
