"""`lab schema` publishes the topology file's JSON Schema (for editors and validators). It must be
a valid Draft 2020-12 schema, accept every shipped topology, and reject every golden bad case
whose fault is the schema's business (an unknown key, a wrong type, a missing key, a length,
range, pattern or choice). Cases it cannot tell are skipped by a stated rule, never silently:
YAML the loader refuses (syntax, a key twice, bounds), a check written in Python (a CIDR, a name), a rule across the file.
"""

from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from lab.topology.bounded import load_yaml
from lab.topology.errors import TopologyError
from lab.topology.model import Topology

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "golden" / "errors"
SHIPPED = sorted((REPO / "topologies").glob("*.yaml"))

# pydantic error types that come from the schema itself (so JSON Schema can see them too).
SCHEMA_ERRORS = {
    "extra_forbidden", "missing", "string_type", "int_type", "bool_type", "list_type", "dict_type", "model_type",
    "too_short", "too_long", "greater_than_equal", "less_than_equal", "string_pattern_mismatch", "literal_error",
    "model_attributes_type",
}


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    from lab.cli.main import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["schema"]) == 0
    schema = json.loads(out.getvalue())
    Draft202012Validator.check_schema(schema)  # itself a valid schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    return Draft202012Validator(schema)


def test_there_are_shipped_topologies():
    assert {p.stem for p in SHIPPED} >= {"basic", "leaky", "multi-tenant"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_schema_accepts_every_shipped_topology(path: Path, validator):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


def test_schema_accepts_what_the_loader_accepts_in_short_form(validator):
    """`aliases: [web.internal]` means [{name: web.internal}]; the schema once refused the short form."""
    from lab.topology.load import parse_topology

    text = (REPO / "topologies" / "basic.yaml").read_text().rstrip("\n") + "\n    aliases: [web.internal]\n"
    assert parse_topology(text).endpoints[0].aliases[0].name == "web.internal"
    assert [e.message for e in validator.iter_errors(yaml.safe_load(text))] == []


def what_decides(case: Path) -> tuple[str, object]:
    """('schema', data) when the first error `lab up` reports (lab.topology.load) is a schema
    error, else (the rule that decides instead, None)."""
    try:
        data = load_yaml(case.read_text(encoding="utf-8"), case.name)  # the loader lab up uses
    except (TopologyError, UnicodeDecodeError):
        return "the loader refuses it before any schema (YAML syntax, a key twice, nesting, size, numbers)", None
    try:
        Topology.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        if first["type"] in SCHEMA_ERRORS:
            return "schema", data
        return f"a check written in Python ({first['type']}: a CIDR, name, address), not in the schema", None
    return "a rule across the file (lab.topology.rules: references, overlaps, AZs)", None


CASES = sorted(CORPUS.glob("*.yaml"))


def test_the_schema_decides_a_good_share_of_the_corpus():
    decided = [c.stem for c in CASES if what_decides(c)[0] == "schema"]
    assert len(decided) >= 20, decided


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_schema_rejects_each_golden_case_it_can_tell(case: Path, validator):
    rule, data = what_decides(case)
    if rule != "schema":
        pytest.skip(f"the schema cannot tell: {rule}")
    assert not validator.is_valid(data), f"{case.name} is bad input ({case.with_suffix('.log').read_text().strip()}) " \
                                         "but `lab schema` accepts it"


if __name__ == "__main__":  # list which rule decides each case
    for c in CASES:
        print(f"{c.stem:40} {what_decides(c)[0]}", file=sys.stdout)
