"""The one way configs are written: jinja2 templates from `templates/` (HAProxy, dnsmasq, nftables)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2

from lab.resources import data_dir


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,  # a missing value is a bug, not an empty string in a config
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **values: Any) -> str:
    return _env().get_template(template).render(**values)
