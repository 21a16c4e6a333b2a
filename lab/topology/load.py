"""Read a topology file: YAML -> schema check -> cross-reference rules -> a validated `Topology`.

Errors come out as one `TopologyError` naming the path, the problem and the fix. Only the first
problem is reported so the message stays short and deterministic (golden tests pin it).
"""

from __future__ import annotations

import difflib
import itertools
import re
import reprlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from lab.resources import data_dir
from lab.topology.bounded import MAX_FILE_BYTES, load_yaml, read_bounded
from lab.topology.errors import TopologyError, format_path
from lab.topology.model import Topology
from lab.topology.rules import check_rules

__all__ = ["MAX_FILE_BYTES", "builtin_topologies", "load_topology", "parse_topology", "read_topology_text",
           "resolve_topology_path"]

DEFAULT_TOPOLOGY = "basic"


def builtin_topologies() -> dict[str, Path]:
    """Topologies shipped with the tool: the repo's topologies/ or the wheel's packaged copy."""
    return {p.stem: p for p in sorted(data_dir("topologies").glob("*.yaml"))}


def resolve_topology_path(ref: str | None) -> Path:
    """A path, or the name of a built-in topology (`basic`, `leaky`); None means the default."""
    if ref is not None and not ref.strip():
        # `-t ""` (an unset shell variable) must not silently mean the default topology.
        raise TopologyError("--topology", "is empty", f"give a path to a YAML file or one of: {', '.join(builtin_topologies())}")
    ref = ref or DEFAULT_TOPOLOGY
    path = Path(ref)
    if path.exists():
        return path
    builtin = builtin_topologies()
    if ref in builtin:
        return builtin[ref]
    names = ", ".join(builtin) or "none"
    raise TopologyError(ref, "no such file or built-in topology", f"give a path to a YAML file or one of: {names}")


def load_topology(ref: str | Path | None = None) -> Topology:
    path = resolve_topology_path(str(ref) if ref is not None else None)
    return parse_topology(read_topology_text(path), source=str(path))


def read_topology_text(path: Path) -> str:
    """The file's text, read once: at most 1 MiB + 1 byte, also from a device or a pipe (which
    cannot be read twice, so `lab up` keeps this text rather than reading the path again)."""
    raw = read_bounded(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TopologyError(str(path), f"not UTF-8 text (byte {err.start})", "save the file as UTF-8 YAML") from None


def parse_topology(text: str, source: str = "<topology>") -> Topology:
    try:
        return _parse(text, source)
    except TopologyError as err:
        raise _one_short_line(err) from None


def _parse(text: str, source: str) -> Topology:
    data = load_yaml(text, source)  # bounded in depth, values and alias expansion (lab.topology.bounded)
    if not isinstance(data, dict):
        kind = "empty" if data is None else {"str": "a string", "list": "a list"}.get(type(data).__name__, "a value")
        raise TopologyError(source, f"the file is {kind}, not a mapping", "start with keys such as azs:, accounts:, vpcs:")
    try:
        topo = Topology.model_validate(data)
    except ValidationError as err:
        raise _first_error(err) from None
    check_rules(topo)
    return topo


_LONG_WORD = re.compile(r"\S{81,}")
MAX_PART_CHARS = 400


def _one_short_line(err: TopologyError) -> TopologyError:
    """Whatever the input held, the message stays one readable line: a 1 MiB value or key in it is cut
    to its start, and a list of every name in a huge file ("use one of: ...") to its first entries."""
    def bound(text: str | None) -> str | None:
        if text is None:
            return None
        text = _LONG_WORD.sub(lambda m: m[0][:77] + "...", " ".join(text.split()))
        if len(text) > MAX_PART_CHARS:
            cut = text.rfind(", ", 0, MAX_PART_CHARS)
            text = text[: cut if cut > 0 else MAX_PART_CHARS] + ", ..."
        return text

    parts = (bound(err.path), bound(err.problem), bound(err.fix))
    return err if parts == (err.path, err.problem, err.fix) else TopologyError(*parts)


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The model class that holds the last key of `loc`, found by walking the schema."""
    model: Any = Topology
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _inner_model(field.annotation)
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


# Examples for the patterns in the schema: a regular expression alone is a poor fix hint.
PATTERN_EXAMPLES = {r"^[a-z]{2}-[a-z]+-[0-9]$": "us-east-1", r"^[a-z]{2}-[a-z]+-[0-9][a-z]$": "us-east-1a",
                    r"^[a-z0-9]+-az[0-9]+$": "use1-az1",
                    r"^[A-Za-z0-9._~+/=-]{8,128}$": "tok-a-7Qx2mN4p"}  # tenancy tokens: 8-128 characters


def _first_error(err: ValidationError) -> TopologyError:
    errors = err.errors(include_url=False)
    e = errors[0]
    if e["type"] == "missing":
        # A misspelt key shows up twice: the right key "missing" and the typo "unknown". The typo is the news.
        e = next((x for x in errors if x["type"] == "extra_forbidden" and x["loc"][:-1] == e["loc"][:-1]), e)
    loc = tuple(e["loc"])
    path = format_path(loc)
    kind, value = e["type"], e.get("input")
    if kind == "extra_forbidden":
        model = _model_at(loc)
        allowed = list(model.model_fields) if model else []
        missing = [x["loc"][-1] for x in errors if x["type"] == "missing" and x["loc"][:-1] == loc[:-1]]
        guess = missing if len(missing) == 1 else difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        # With a likely intended key, name just that one: the full list grows with the schema.
        fix = f"did you mean {guess[0]!r}?" if guess else \
            f"remove it; keys allowed here: {', '.join(allowed) or 'see `lab schema`'}"
        return TopologyError(path, f"unknown key {loc[-1]!r}", fix)
    if kind == "missing":
        return TopologyError(path, "required key is missing", f"add {loc[-1]}: (see `lab schema`)")
    if kind == "value_error":
        problem, _, fix = e["msg"].removeprefix("Value error, ").partition("; fix: ")
        return TopologyError(path, problem, fix or None)
    ctx = e.get("ctx", {})
    if kind == "too_short":
        return TopologyError(path, f"needs at least {ctx.get('min_length')} item(s), got {ctx.get('actual_length')}",
                             "add the missing entries")
    if kind == "too_long":
        return TopologyError(path, f"has {ctx.get('actual_length')} items, over the limit of {ctx.get('max_length')}",
                             "remove some entries")
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = f">= {ctx.get('ge')}" if kind == "greater_than_equal" else f"<= {ctx.get('le')}"
        return TopologyError(path, f"{_short(value)} is out of range", f"use a number {bound}")
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern")
        example = PATTERN_EXAMPLES.get(pattern)
        fix = f"write it like {example} (pattern {pattern})" if example else f"match the pattern {pattern}"
        return TopologyError(path, f"{value!r} is not in the expected form", fix)
    if kind == "literal_error":
        return TopologyError(path, f"{_short(value)} is not allowed", f"use {ctx.get('expected')}")
    expected = {
        "string_type": "a string",
        "int_type": "a whole number",
        "bool_type": "true or false",
        "list_type": "a list",
        "dict_type": "a mapping",
        "model_type": "a mapping",
    }.get(kind)
    if expected:
        shown = _short(value)
        if kind == "string_type" and isinstance(value, (int, float)) and not isinstance(value, bool):
            # YAML reads 111111111111 as a number; account IDs and the like must be quoted.
            return TopologyError(path, f"expected {expected}, got {shown}", f"put it in quotes: \"{value}\"")
        return TopologyError(path, f"expected {expected}, got {shown}", f"write {expected} here")
    return TopologyError(path, f"{e['msg']} (got {_short(value)})", "see `lab schema` for what this key accepts")


class _ShortRepr(reprlib.Repr):
    def repr_dict(self, x: dict, level: int) -> str:  # in the file's order (reprlib sorts the keys)
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        pieces = [f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}"
                  for k, v in itertools.islice(x.items(), self.maxdict)]
        return "{" + ", ".join(pieces + ["..."] * (len(x) > self.maxdict)) + "}"


_SHORT = _ShortRepr()  # (keyword arguments need Python 3.12)
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring, _SHORT.maxother = 4, 8, 8, 80, 80


def _short(value: Any) -> str:
    try:
        # Bounded for containers (aliases can make a list of 10**9 items); plain for a scalar.
        text = _SHORT.repr(value) if isinstance(value, (list, dict, tuple, set)) else repr(value)
    except ValueError:  # an int too long for str() (over 4,300 digits)
        text = "(a very long number)"
    kind = type(value).__name__
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}"
