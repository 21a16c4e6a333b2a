"""Data residency, judged on packets: the regions a flow's bytes reached, against the topology's rules.

A link is in its VPC's region; a backbone link (a cross-region endpoint's ENI leg, lab.plan.regions)
joins two regions, the consumer's and the service's. A flow reached every region of every link it
was captured on. A rule (`verify.residency`) names endpoints (none: every flow) and the regions their
flows may reach; a flow that reached any other region fails, naming the first link that took it there,
backbone links first (that is where bytes leave a region).
"""

from __future__ import annotations

from lab.plan.regions import backbone_legs, region_of_vpc
from lab.verify.checks import FAIL, PASS, Check


def link_regions(link, plan: dict) -> set[str]:
    vpc_regions = region_of_vpc(plan)
    own = vpc_regions.get(link.vpc, plan.get("region", "")) if link.vpc else None
    out = {own} if own else set()
    if link.kind == "backbone":
        entry = backbone_legs(plan).get(link.far_ifname)
        if entry:
            out |= {entry["Region"], entry["ServiceRegion"]}
    return out


def residency_checks(plan: dict, declared, flow_runs: list, ledger) -> list[Check]:
    rules = list(getattr(declared, "residency", []) or [])
    checks = []
    for i, rule in enumerate(rules):
        allowed = set(rule.regions)
        for run in flow_runs:
            if rule.endpoints and run.spec.endpoint not in rule.endpoints:
                continue
            checks.append(_judge(run, allowed, f"verify.residency[{i}]", plan, ledger))
    return checks


def _judge(run, allowed: set[str], rule: str, plan: dict, ledger) -> Check:
    subject = f"{run.spec.name} ({rule}: {', '.join(sorted(allowed))})"
    seen = sorted(run.trace.link_names if run.trace else set(), key=ledger.order)
    regions = {name: link_regions(ledger.links[name], plan) for name in seen if name in ledger.links}
    reached = set().union(*regions.values()) if regions else set()
    outside = reached - allowed
    if not outside:
        if not seen:
            return Check("residency", subject, FAIL, "the flow was never captured, so where its bytes went is "
                                                     "unknown", [run.spec.eni_link])
        return Check("residency", subject, PASS, f"the flow's bytes stayed in {', '.join(sorted(reached))} "
                                                 f"({len(seen)} links)")
    culprits = sorted((n for n, r in regions.items() if r & outside),
                      key=lambda n: (ledger.links[n].kind != "backbone", ledger.order(n)))
    first = culprits[0]
    return Check("residency", subject, FAIL,
                 f"the flow's bytes reached {', '.join(sorted(outside))} over {first} ({ledger.links[first].kind}), "
                 f"outside the allowed {', '.join(sorted(allowed))}", culprits, run.trace.text(ledger), leak=True)
