"""Values an exercise names instead of typing them: `{endpoint.NAME.id}`, `{endpoint.NAME.regional}`,
`{endpoint.NAME.zonal.AZ}`, `{service.NAME.id}`, `{instance.NAME.ip}`, `{node.NLB.AZ.ip}` and
`{answer.KEY}`, read from the live lab (its saved plan, which every change rewrites) and the
participant's answers. IDs and names differ per lab, so an expected answer is never a constant.
"""

from __future__ import annotations

import re

from lab.topology.errors import LabInputError

REF = re.compile(r"\{([a-z]+(?:\.[A-Za-z0-9_.:-]+)+)\}")


class Unknown(LabInputError):
    """A reference to something the lab does not have (now): the criterion fails, saying which (judge
    catches it; were one to escape, `lab` would print it as one line of bad input)."""

    def __init__(self, problem: str):
        super().__init__("exercise", problem)
        self.problem = problem

    def __str__(self) -> str:
        return self.problem


def _endpoint(plan: dict, name: str) -> dict:
    for ep in plan.get("endpoints", []):
        if name in (ep["name"], ep["id"]):
            return ep
    raise Unknown(f"the lab has no endpoint {name!r}")


def _lookup(plan: dict, answers: dict, ref: str) -> str:
    kind, _, rest = ref.partition(".")
    if kind == "answer":
        if rest not in answers or answers[rest] in (None, ""):
            raise Unknown(f"answers.yaml has no {rest!r} yet")
        return str(answers[rest]).strip()
    if kind == "endpoint":
        parts = rest.split(".")
        if len(parts) >= 3 and parts[-2] == "zonal":
            ep, az = _endpoint(plan, ".".join(parts[:-2])), parts[-1]
            for entry in ep.get("dns_entries", []):
                if entry.get("Scope") == "zonal" and entry.get("AvailabilityZone") == az:
                    return entry["DnsName"]
            raise Unknown(f"endpoint {ep['name']!r} has no ENI in {az}")
        ep = _endpoint(plan, ".".join(parts[:-1]))
        if parts[-1] == "id":
            return ep["id"]
        if parts[-1] == "regional":
            return next(e["DnsName"] for e in ep["dns_entries"] if e.get("Scope") == "regional")
    if kind == "service":
        name, _, what = rest.rpartition(".")
        for svc in plan["inventory"].get("services", []):
            if name in (svc["Name"], svc["ServiceId"]) and what == "id":
                return svc["ServiceId"]
        raise Unknown(f"the lab has no service {name!r}")
    if kind == "instance":
        name, _, what = rest.rpartition(".")
        for inst in plan["inventory"]["instances"]:
            if inst["Name"] == name and what == "ip":
                return inst["PrivateIpAddress"]
        raise Unknown(f"the lab has no instance {name!r}")
    if kind == "node":
        parts = rest.split(".")
        if len(parts) == 3 and parts[2] == "ip":
            for node in plan["inventory"]["nlb_nodes"]:
                if (node["LoadBalancer"], node["AvailabilityZone"]) == (parts[0], parts[1]):
                    return node["PrivateIpAddress"]
        raise Unknown(f"the lab has no NLB node {'.'.join(parts[:2])!r}")
    raise Unknown(f"{{{ref}}} names nothing this tool knows")


def expand(text: str, plan: dict, answers: dict) -> str:
    """`text` with every {reference} replaced, inner ones first (`{endpoint.{answer.id}.regional}`);
    raises Unknown for one the lab cannot answer."""
    for _ in range(3):
        expanded = REF.sub(lambda m: _lookup(plan, answers, m.group(1)), text)
        if expanded == text:
            break
        text = expanded
    return text
