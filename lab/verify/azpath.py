"""Which AZ each hop of a flow was in: client, ENI, NLB node, target. The talk's tip is that zonal
names keep latency low: a client using its own AZ's zonal name stays in its AZ, unless cross-zone
load balancing sends it on to a target elsewhere. `lab verify` reports this for every flow (an
informational check: crossing is allowed, and with cross-zone on it is what the setting does).
Pure: no root.
"""

from __future__ import annotations


def az_path(run, hit_targets: list[str]) -> dict:
    spec = run.spec
    by_link = {t.link: t for t in spec.targets}
    answered = (run.json() or {}).get("az")  # the demo target says where it runs
    target_azs = sorted({by_link[n].az for n in hit_targets if n in by_link}) or ([answered] if answered else [])
    path = {"client": spec.client_az, "eni": spec.az, "node": spec.node_az, "target": ",".join(target_azs)}
    hops = [("client", "eni"), ("eni", "node"), ("node", "target")]
    path["crossings"] = [f"{a}->{b}" for a, b in hops if path[a] and path[b] and path[a] != path[b]]
    return path


def az_check(run, hit_targets: list[str]):
    from lab.verify.checks import PASS, Check

    path = az_path(run, hit_targets)
    run.az_path = path
    route = f"client {path['client']} -> ENI {path['eni']} -> node {path['node']} -> target {path['target'] or '?'}"
    if not path["crossings"]:
        return Check("az", run.spec.name, PASS, f"{route}: stayed in {path['client']}")
    return Check("az", run.spec.name, PASS, f"{route}: crossed AZs at {', '.join(path['crossings'])}")
