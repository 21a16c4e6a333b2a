"""The topology's building blocks: names, addresses and the strict base model every part of the file
uses. Its own module so that the parts defined elsewhere (lab.topology.onprem) and lab.topology.model
both build on it without importing each other."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from collections.abc import Iterable

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from lab.topology.errors import TopologyError

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
DNS_NAME_RE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# States an endpoint can be stored in. `failed` is set by the control plane (lab.privatelink) when
# its legs could not be made; `deleting`/`deleted` are transient and only appear in its event log.
ENDPOINT_STATES = ("pendingAcceptance", "available", "rejected", "failed")


def _name(value: str) -> str:
    if len(value) > 32:
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise ValueError(f"{shown!r} is {len(value)} characters long; fix: shorten it to at most 32 "
                         "(a-z, 0-9 and '-', starting with a letter)")
    if not NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid name; fix: use 1-32 characters of a-z, 0-9 and '-', starting with a letter"
        )
    return value


def _ipv4_network(value: str) -> str:
    if "/" not in value:  # ipaddress would read it as a /32 and blame "host bits"
        raise ValueError(f"{value} has no prefix length; fix: write address/prefix, e.g. {value}/24")
    try:
        net = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise ValueError(
            f"{value} is not a valid IPv4 network; fix: write an address and prefix length, e.g. 10.0.1.0/24"
        ) from None
    if str(net) != value:
        raise ValueError(f"{value} has host bits set; fix: write the network address, {net}")
    if not 16 <= net.prefixlen <= 28:
        # AWS allows VPC and subnet prefixes from /16 to /28; larger ones would also exhaust the lab's allocator.
        raise ValueError(f"{value}: prefix /{net.prefixlen} is outside AWS's range; fix: use a prefix from /16 to /28")
    return value


def _ipv4_address(value: str) -> str:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError(f"{value} is not a valid IPv4 address; fix: write four numbers 0-255, e.g. 10.0.1.10") from None
    return value


def _ipv4_cidr(value: str) -> str:
    """A security group rule's source: any prefix length, from 0.0.0.0/0 to a single /32."""
    try:
        net = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value} is not a valid IPv4 CIDR; fix: write an address and prefix length, e.g. 10.0.1.0/24") from None
    if str(net) != value:
        raise ValueError(f"{value} has host bits set; fix: write the network address, {net}")
    return value


def _dns_name(value: str) -> str:
    if len(value) > 253 or not DNS_NAME_RE.match(value):
        raise ValueError(f"{value!r} is not a DNS name the lab can serve; fix: write lower-case labels of a-z, 0-9 "
                         "and '-' joined by dots, at least two labels, e.g. api.example.com")
    return value


def _account_id(value: str) -> str:
    if not ACCOUNT_RE.match(value):
        raise ValueError(f"{value!r} is not an AWS account ID; fix: write 12 digits in quotes, e.g. '111111111111'")
    return value


Name = Annotated[str, AfterValidator(_name)]
IPv4Net = Annotated[str, AfterValidator(_ipv4_network)]
IPv4Addr = Annotated[str, AfterValidator(_ipv4_address)]
AccountId = Annotated[str, AfterValidator(_account_id)]
IPv4Cidr = Annotated[str, AfterValidator(_ipv4_cidr)]
DnsName = Annotated[str, AfterValidator(_dns_name)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)




def unique(items: Iterable[tuple[str, str]], what: str, fix: str = "give each one its own name") -> None:
    seen: dict[str, str] = {}
    for path, name in items:
        if name in seen:
            raise TopologyError(path, f"{what} {name!r} is already defined at {seen[name]}", fix)
        seen[name] = path


# AWS's Matcher HttpCode for NLB HTTP health checks: codes 200-599, one ("200"), a list ("200,202")
# or a range ("200-399").
HTTP_CODES_RE = re.compile(r"^[2-5][0-9]{2}(-[2-5][0-9]{2})?(,[2-5][0-9]{2}(-[2-5][0-9]{2})?)*$")


def http_codes(value: str) -> str:
    if not HTTP_CODES_RE.match(value):
        raise ValueError(f"{value!r} is not an HTTP code matcher; fix: use codes 200-599 as one (200), "
                         "a list (200,202) or a range (200-399)")
    for part in value.split(","):
        low, _, high = part.partition("-")
        if high and int(high) < int(low):
            raise ValueError(f"the range {part!r} is reversed; fix: write the lower code first, e.g. {high}-{low}")
    return value


def health_path(value: str) -> str:
    if not value.startswith("/") or len(value) > 1024 or any(c.isspace() or ord(c) < 33 for c in value):
        raise ValueError(f"{value!r} is not a health check path; fix: use an absolute path of up to 1024 "
                         "characters without spaces, e.g. /health")
    return value
