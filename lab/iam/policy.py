"""IAM identity policies in AWS's JSON grammar, checked and evaluated (pure).

Evaluation follows AWS's logic for one principal's identity policies: an explicit Deny in any
statement wins; otherwise an Allow that matches is needed; otherwise the request is implicitly
denied. A principal with no policies declared is the account root, which may do everything.

Supported grammar: Version, Statement (one or a list), Sid, Effect, Action / NotAction and
Resource / NotResource (a string or a list, `*` and `?` wildcards; actions case-insensitive),
Condition with the String operators (StringEquals, StringNotEquals, StringEqualsIgnoreCase,
StringLike, StringNotLike, each also ...IfExists) over the keys in CONDITION_KEYS.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

VERSIONS = ("2012-10-17", "2008-10-17")
OPERATORS = ("StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
             "StringLike", "StringNotLike")
# Condition keys the lab's EC2 API sets on a request (AWS's service authorization reference for EC2).
CONDITION_KEYS = ("ec2:VpceServiceName", "ec2:VpceServiceOwner", "ec2:Vpc", "ec2:Region", "ec2:ResourceTag/Name",
                  "aws:PrincipalAccount", "aws:RequestedRegion")
_ACTION_RE = re.compile(r"^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$")
_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}


class PolicyError(ValueError):
    """A policy that does not follow the grammar: `path` says where (relative to the document)."""

    def __init__(self, path: str, problem: str, fix: str):
        super().__init__(f"{path}: {problem}; fix: {fix}" if path else f"{problem}; fix: {fix}")
        self.path, self.problem, self.fix = path, problem, fix


@dataclass(frozen=True)
class Request:
    """One API call as IAM sees it: `ec2:CreateVpcEndpoint` on these ARNs, with these condition keys."""

    action: str
    resources: tuple[str, ...] = ("*",)
    context: dict[str, str] = field(default_factory=dict)


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def statements(doc: dict) -> list[dict]:
    return _as_list(doc.get("Statement", []))


# -- checking -------------------------------------------------------------------------------------

def check(doc) -> None:
    """Raise PolicyError at the first thing the grammar does not allow."""
    if not isinstance(doc, dict):
        raise PolicyError("", "a policy must be a JSON object", 'write {"Version": "2012-10-17", "Statement": [...]}')
    extra = set(doc) - {"Version", "Id", "Statement"}
    if extra:
        raise PolicyError(sorted(extra)[0], "unknown policy element", "use Version, Id and Statement only")
    if doc.get("Version", "2012-10-17") not in VERSIONS:
        raise PolicyError("Version", f"{doc.get('Version')!r} is not a policy language version",
                          'write "2012-10-17"')
    if "Statement" not in doc or not _as_list(doc["Statement"]):
        raise PolicyError("Statement", "a policy needs at least one statement", "add a Statement")
    for i, st in enumerate(statements(doc)):
        _check_statement(st, f"Statement[{i}]")


def _check_statement(st, path: str) -> None:
    if not isinstance(st, dict):
        raise PolicyError(path, "a statement must be an object", "write {Effect, Action, Resource}")
    extra = set(st) - _STATEMENT_KEYS
    if extra:
        raise PolicyError(f"{path}.{sorted(extra)[0]}", "unknown statement element",
                          f"use {', '.join(sorted(_STATEMENT_KEYS))}")
    if st.get("Effect") not in ("Allow", "Deny"):
        raise PolicyError(f"{path}.Effect", f"{st.get('Effect')!r} is not an effect", 'write "Allow" or "Deny"')
    for one, other in (("Action", "NotAction"), ("Resource", "NotResource")):
        if (one in st) == (other in st):
            raise PolicyError(f"{path}.{one}", f"a statement needs exactly one of {one} and {other}",
                              f"write {one} (e.g. \"*\")")
    for key in ("Action", "NotAction"):
        for j, action in enumerate(_as_list(st.get(key, []))):
            if not isinstance(action, str) or not _ACTION_RE.match(action):
                raise PolicyError(f"{path}.{key}[{j}]", f"{action!r} is not an action",
                                  'write service:Action, e.g. "ec2:CreateVpcEndpoint" or "ec2:Describe*"')
    for key in ("Resource", "NotResource"):
        for j, arn in enumerate(_as_list(st.get(key, []))):
            if not isinstance(arn, str) or not (arn == "*" or (arn.startswith("arn:") and arn.count(":") >= 5)):
                raise PolicyError(f"{path}.{key}[{j}]", f"{arn!r} is not a resource ARN",
                                  'write "*" or an ARN such as "arn:aws:ec2:us-east-1:222222222222:vpc-endpoint/*"')
    _check_condition(st.get("Condition", {}), f"{path}.Condition")


def _check_condition(cond, path: str) -> None:
    if not isinstance(cond, dict):
        raise PolicyError(path, "a condition must be an object", 'write {"StringEquals": {"key": "value"}}')
    for op, block in cond.items():
        if op.removesuffix("IfExists") not in OPERATORS:
            raise PolicyError(f"{path}.{op}", "unsupported condition operator", f"use one of {', '.join(OPERATORS)}")
        if not isinstance(block, dict) or not block:
            raise PolicyError(f"{path}.{op}", "an operator needs a map of condition keys to values",
                              'write {"ec2:VpceServiceOwner": "111111111111"}')
        for key, values in block.items():
            if key.lower() not in {k.lower() for k in CONDITION_KEYS}:
                raise PolicyError(f"{path}.{op}.{key}", "unknown condition key", f"use one of {', '.join(CONDITION_KEYS)}")
            if not all(isinstance(v, str) for v in _as_list(values)) or not _as_list(values):
                raise PolicyError(f"{path}.{op}.{key}", "condition values must be strings", 'write "value" or ["a", "b"]')


# -- evaluation -----------------------------------------------------------------------------------

def _glob(pattern: str, value: str, fold: bool = False) -> bool:
    if fold:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)  # '*' and '?' as IAM; '[' is not special in IAM...


def _literal_brackets(pattern: str) -> str:
    return pattern.replace("[", "[[]")  # ...so a bracket in a policy matches itself


def _matches_action(st: dict, action: str) -> bool:
    if "Action" in st:
        return any(_glob(_literal_brackets(a), action, fold=True) for a in _as_list(st["Action"]))
    return not any(_glob(_literal_brackets(a), action, fold=True) for a in _as_list(st["NotAction"]))


def _matches_resource(st: dict, arn: str) -> bool:
    if "Resource" in st:
        return any(_glob(_literal_brackets(r), arn) for r in _as_list(st["Resource"]))
    return not any(_glob(_literal_brackets(r), arn) for r in _as_list(st["NotResource"]))


def _condition_holds(cond: dict, context: dict[str, str]) -> bool:
    lower = {k.lower(): v for k, v in context.items()}
    for op, block in cond.items():
        base, if_exists = op.removesuffix("IfExists"), op.endswith("IfExists")
        for key, values in block.items():
            actual = lower.get(key.lower())
            if actual is None:
                if if_exists or base.startswith("StringNot"):
                    continue  # AWS: a negated operator, or ...IfExists, holds when the key is absent
                return False
            wanted = _as_list(values)
            if base in ("StringEquals", "StringNotEquals"):
                hit = actual in wanted
            elif base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
                hit = actual.lower() in {w.lower() for w in wanted}
            else:
                hit = any(_glob(_literal_brackets(w), actual) for w in wanted)
            if hit == base.startswith("StringNot"):
                return False
    return True


def decide(policies: list[dict] | None, request: Request) -> str:
    """"Allow", "ExplicitDeny" or "ImplicitDeny". `policies` None = the account root (Allow)."""
    if policies is None:
        return "Allow"
    allowed = {arn: False for arn in request.resources}
    for doc in policies:
        for st in statements(doc):
            if not _matches_action(st, request.action) or not _condition_holds(st.get("Condition", {}), request.context):
                continue
            for arn in request.resources:
                if _matches_resource(st, arn):
                    if st["Effect"] == "Deny":
                        return "ExplicitDeny"
                    allowed[arn] = True
    return "Allow" if all(allowed.values()) else "ImplicitDeny"
