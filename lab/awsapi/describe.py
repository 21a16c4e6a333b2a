"""What every Describe call shares: Filter.N.Name/Value.M, MaxResults/NextToken, IDs, tags."""

from __future__ import annotations

import base64
import binascii
import fnmatch
from collections.abc import Callable

from lab.awsapi.errors import Ec2Error

Getter = Callable[[dict], list]


def tag_values(item: dict, key: str) -> list[str]:
    return [t["Value"] for t in item.get("Tags", []) if t["Key"] == key]


def filtered(items: list[dict], filters: list[dict] | None, getters: dict[str, Getter]) -> list[dict]:
    """EC2's filters: AND across filters, OR across one filter's values, `*` and `?` wildcards."""
    for f in filters or []:
        name, values = f.get("Name"), f.get("Values") or []
        if not name:
            raise Ec2Error("InvalidParameterValue", "A filter must have a Name")
        if name.startswith("tag:"):
            key = name[4:]
            get = (lambda item, key=key: tag_values(item, key))  # noqa: E731
        elif name == "tag-key":
            get = (lambda item: [t["Key"] for t in item.get("Tags", [])])  # noqa: E731
        elif name in getters:
            get = getters[name]
        else:
            raise Ec2Error("InvalidParameterValue", f"The filter '{name[:128]}' is invalid")
        if not values:
            raise Ec2Error("InvalidParameterValue", f"The filter '{name[:128]}' needs at least one value")
        items = [i for i in items if any(fnmatch.fnmatchcase(str(v), pat.replace("[", "[[]"))
                                         for v in get(i) for pat in values)]
    return items


def by_ids(items: list[dict], ids: list[str] | None, key: str, code: str, what: str, prefix: str) -> list[dict]:
    if not ids:
        return items
    for rid in ids:
        if not rid.startswith(prefix):
            raise Ec2Error(code.replace(".NotFound", ".Malformed"), f"Invalid id: \"{rid[:128]}\" (expecting \"{prefix}...\")")
    known = {i[key]: i for i in items}
    missing = [r for r in ids if r not in known]
    if missing:
        raise Ec2Error(code, f"The {what} '{missing[0][:128]}' does not exist")
    return [known[r] for r in dict.fromkeys(ids)]


def page(items: list[dict], params: dict, ids_key: str | None = None, low: int = 1, high: int = 1000) -> tuple[list[dict], str | None]:
    """One page and the NextToken for the rest (None on the last page)."""
    limit = params.get("MaxResults")
    if limit is not None:
        if ids_key and params.get(ids_key):
            raise Ec2Error("InvalidParameterCombination",
                           f"The parameter {ids_key} cannot be used with the parameter MaxResults")
        if not low <= limit <= high:
            raise Ec2Error("InvalidParameterValue", f"Value ( {limit} ) for parameter maxResults is invalid. "
                           f"Expecting a value between {low} and {high}.")
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:"))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise Ec2Error("InvalidPaginationToken", f"Invalid pagination token: {token[:64]}") from None
        if not 0 <= start <= len(items):
            raise Ec2Error("InvalidPaginationToken", f"Invalid pagination token: {token[:64]}")
    end = len(items) if limit is None else min(len(items), start + limit)
    nxt = base64.urlsafe_b64encode(f"offset:{end}".encode()).decode() if end < len(items) else None
    return items[start:end], nxt
