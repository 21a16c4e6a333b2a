"""Each criterion kind, judged on the participant's live lab: -> (passed, one-line reason).

A criterion reads the lab as a participant could (lab verify on packets, DescribeVpcEndpoints, one
request from an instance, the AZ state, a capture file): never the exercise's own expectation of it.
"""

from __future__ import annotations

from pathlib import Path

from lab import api
from lab.workshop import model
from lab.workshop.values import Unknown, expand


def judge(crit, lab: str, answers: dict, workdir: Path) -> tuple[bool, str]:
    try:
        return _JUDGES[type(crit)](crit, lab, answers, workdir)
    except Unknown as why:
        return False, str(why)


def _verify(crit: model.VerifyCriterion, lab: str, answers: dict, workdir: Path) -> tuple[bool, str]:
    report = api.verify(lab)
    flows = len(report.flows) + len(report.names) + len(report.internet)
    if flows < crit.flows_at_least:
        return False, f"lab verify had {flows} flow(s) to prove; at least {crit.flows_at_least} needed"
    if not report.ok:
        first = report.failures[0]
        links = f" (at {', '.join(report.leaking_links()[:2])})" if report.leaking_links() else ""
        return False, f"lab verify failed {len(report.failures)} check(s){links}: {first.subject}: {first.message}"
    for category, least in crit.passing_at_least.items():
        passed = sum(1 for c in report.checks if c.category == category and c.status == "pass")
        if passed < least:
            return False, f"lab verify passed only {passed} {category} check(s); at least {least} needed"
    return True, f"lab verify passed on packets: {report.verdict()}"


def _endpoints(crit: model.EndpointsCriterion, lab: str, answers: dict, workdir: Path) -> tuple[bool, str]:
    plan = api.load_plan(lab)
    services = {s["Name"]: s for s in plan["inventory"].get("services", [])}
    matching = []
    for ep in api.describe_endpoints(lab):
        meta = ep.get("Lab", {})
        region = ep.get("ServiceRegion") or plan.get("region")
        if crit.vpc and meta.get("Vpc") != crit.vpc:
            continue
        if crit.service and crit.service not in (meta.get("Service"), services.get(meta.get("Service"), {}).get("ServiceId")):
            continue
        if crit.state and ep["State"] != crit.state:
            continue
        if crit.private_dns is not None and ep["PrivateDnsEnabled"] != crit.private_dns:
            continue
        if crit.service_region and region != crit.service_region:
            continue
        if crit.service_region_not and region == crit.service_region_not:
            continue
        matching.append(f"{meta.get('Name', ep['VpcEndpointId'])} ({ep['State']})")
    n = len(matching)
    listed = f": {', '.join(matching[:4])}" if matching else ""
    if crit.at_least is not None and n < crit.at_least:
        return False, f"{n} matching endpoint(s){listed}; at least {crit.at_least} needed"
    if crit.at_most is not None and n > crit.at_most:
        return False, f"{n} matching endpoint(s){listed}; at most {crit.at_most} allowed"
    return True, f"{n} matching endpoint(s){listed}"


def _request(crit: model.RequestCriterion, lab: str, answers: dict, workdir: Path) -> tuple[bool, str]:
    plan = api.load_plan(lab)
    host = expand(crit.host, plan, answers)
    got = api.probe_request(lab, crit.from_, host, crit.port)
    where = f"{crit.from_} -> {host}:{crit.port}" + (f" ({got['Address']})" if got["Address"] and got["Address"] != host else "")
    if got["Status"] is None:
        if crit.expect == "unanswered":
            return True, f"{where}: no answer, as required ({got['Error']})"
        return False, f"{where}: no answer ({got['Error']})"
    if crit.expect == "unanswered":
        return False, f"{where}: HTTP {got['Status']} from {got['AnsweredBy']}; it must not be answered"
    if got["Status"] != 200:
        return False, f"{where}: HTTP {got['Status']}"
    if crit.tenant is not None and got["Tenant"] != expand(crit.tenant, plan, answers):
        return False, f"{where}: answered as tenant {got['Tenant']!r}, not {crit.tenant!r}"
    if crit.answered_from_az is not None:
        az = next((i["AvailabilityZone"] for i in plan["inventory"]["instances"] if i["Name"] == got["AnsweredBy"]), None)
        if az != crit.answered_from_az:
            return False, f"{where}: answered by {got['AnsweredBy']} in {az}, not in {crit.answered_from_az}"
    return True, f"{where}: HTTP 200 from {got['AnsweredBy']} in {got['Milliseconds']:.0f} ms"


def _given(answers: dict, key: str) -> str:
    """The participant's answer for `key`; Unknown (the criterion fails, saying so) while it is blank."""
    value = answers.get(key)
    if value in (None, ""):
        raise Unknown(f"answers.yaml has no {key!r} yet")
    return str(value).strip()


def _answer(crit: model.AnswerCriterion, lab: str, answers: dict, workdir: Path) -> tuple[bool, str]:
    plan = api.load_plan(lab)
    given = _given(answers, crit.key)
    right = []
    for value in [crit.equals] if isinstance(crit.equals, str) else crit.equals:
        try:
            right.append(expand(value, plan, answers).strip().lower())
        except Unknown:
            continue  # one of several right answers may name what this lab does not have
    if given.lower() not in right:
        return False, f"{crit.key}: {given!r} is not it"
    return True, f"{crit.key}: {given!r} is right"


def _az(crit: model.AzCriterion, lab: str, answers: dict, workdir: Path) -> tuple[bool, str]:
    failed = api.failed_azs(lab)
    now = "failed" if crit.az in failed else "available"
    if now != crit.state:
        return False, f"{crit.az} is {now}, not {crit.state}"
    return True, f"{crit.az} is {now}"


def _pcap(crit: model.PcapCriterion, lab: str, answers: dict, workdir: Path) -> tuple[bool, str]:
    from scapy.error import Scapy_Exception

    from lab.ppv2.pcap import find_headers

    plan = api.load_plan(lab)
    path = Path(_given(answers, crit.key)).expanduser()
    path = path if path.is_absolute() else workdir / path
    if not path.is_file():
        return False, f"{path}: no such file"
    want_src = expand(crit.source, plan, answers) if crit.source else None
    want_id = expand(crit.endpoint_id, plan, answers) if crit.endpoint_id else None
    seen = 0
    try:
        for found in find_headers(path):
            if found.header is None or not found.header.has_addresses:
                continue
            seen += 1
            if (want_src is None or found.header.src_addr == want_src) and (
                    want_id is None or found.header.aws_vpce_id == want_id):
                return True, f"{path.name}: a PPv2 header from {found.header.src_addr} on {found.flow}"
    except (OSError, ValueError, Scapy_Exception) as err:  # a file that is not a capture
        return False, f"{path}: not a readable capture ({type(err).__name__}: {err})"
    wanted = " and ".join(x for x in (want_src and f"source {want_src}", want_id and f"endpoint {want_id}") if x)
    return False, f"{path.name}: {seen} PPv2 header(s), none with {wanted}"


_JUDGES = {model.VerifyCriterion: _verify, model.EndpointsCriterion: _endpoints, model.RequestCriterion: _request,
           model.AnswerCriterion: _answer, model.AzCriterion: _az, model.PcapCriterion: _pcap}
