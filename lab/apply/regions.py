"""The backbone's one-way delay on cross-region ENI legs (lab.plan.regions), with netem where it exists.

Unlike a topology's `impairments:` (refused without netem, since the user asked for exactly that),
a backbone delay is realism, not the point of the lab: without netem `lab up` says so once and
carries on with an undelayed backbone (issue 12). Both ends of each leg get the delay, as
lab.plan.impair does, so it is the one-way figure the topology gives.
"""

from __future__ import annotations

from lab.apply import impair
from lab.apply.context import ApplyContext
from lab.plan.impair import End, LinkImpairment
from lab.topology import units


def backbone_impairments(plan) -> list[LinkImpairment]:
    """One LinkImpairment per backbone leg that has a delay; the ends are the ENI leg's two ends."""
    out = []
    legs = {leg: b for b in plan.inventory.get("backbone", []) for leg in b["Legs"]}
    for veth in plan.veths:
        entry = legs.get(veth.a.ifname) if veth.role == "endpoint-eni" else None
        if not entry or not entry.get("Delay"):
            continue
        ends = (End(veth.a.place, veth.a.ifname), End(veth.b.place, veth.b.ifname))
        out.append(LinkImpairment(f"backbone/{entry['Name']}:{veth.a.ifname}", ends,
                                  delay_us=units.duration_us(entry["Delay"])))
    return out


def apply_backbone(ctx: ApplyContext) -> str | None:
    """Delay the backbone legs; returns the one line to tell the user when netem is missing."""
    wanted = backbone_impairments(ctx.plan)
    if not wanted:
        return None
    why = impair.netem_missing()
    if why is not None:
        line = (f"backbone delay ({wanted[0].settings()['Delay']} one way) not applied: {why}; "
                "the backbone links carry traffic undelayed")
        ctx.progress(line)
        return line
    for imp in wanted:
        impair.apply(imp, ctx.ns_path)
    return None


__all__ = ["apply_backbone", "backbone_impairments"]
