"""`lab verify` flows by DNS name on the default lab (basic.yaml), for real.

One lab for the module (the plugin's `lab` fixture, torn down after). Each consumer instance asks
its VPC's resolver (dnsmasq at 10.0.0.2, inside the lab) for the endpoint's regional and zonal
names and sends its request to the answer: every such flow must pass path, PPv2 (destination = the
ENI the name resolved to) and SNAT. Then a bogus A record, dropped into that resolver's hosts folder
next to the lab's own files and read on SIGHUP, makes a zonal name also answer with a consumer instance's address: the
verdict must turn red on that name, and no request may go to the stray address.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from lab.apply import dns
from lab.state.store import LabState
from lab.verify.spec import DnsSpec
from lab.verify.traffic import dns_query

pytestmark = [pytest.mark.root, pytest.mark.lab_topology("basic")]

STRAY = "10.0.1.10"  # consumer-client itself: an address inside the lab, and not an ENI
WAIT_ATTEMPTS, WAIT_STEP_S = 30, 0.1  # dnsmasq re-reads its hosts folder on SIGHUP, within milliseconds


def _hosts_dir(lab_name: str, vpc: str):
    # dns.folder only needs the lab's state (ctx.state.dir); this is the folder its dnsmasq watches.
    return dns.folder(SimpleNamespace(state=LabState(lab_name)), vpc) / "hosts.d"


def _reread(lab_name: str, vpc: str) -> None:
    """What lab's own DNS sync does after it changes the folder: SIGHUP the VPC's dnsmasq processes."""
    import os
    import signal

    live = dns.running(LabState(lab_name).dir, vpc)
    assert live["resolver"], f"no resolver runs for VPC {vpc}"
    for pid in live["resolver"] + live["cname"]:
        os.kill(pid, signal.SIGHUP)


def _answers(lab, qname: str) -> tuple[str, ...]:
    inst = lab.instance("consumer-client")
    resolver = next(r["ip"] for r in lab.plan["resolvers"] if r["vpc"] == "consumer")
    spec = DnsSpec("consumer-client", inst["PrivateIpAddress"], inst["Netns"], "", resolver, qname, "zonal",
                   "web-endpoint", ())
    return dns_query(spec).answers


def _wait_for(lab, qname: str, present: bool) -> tuple[str, ...]:
    answers: tuple[str, ...] = ()
    for _ in range(WAIT_ATTEMPTS):  # bounded in count and (by the step and the query timeout) in time
        answers = _answers(lab, qname)
        if (STRAY in answers) == present:
            return answers
        time.sleep(WAIT_STEP_S)
    raise AssertionError(f"{qname}: the resolver still answers {answers} (stray record present={not present})")


def test_flows_by_name_pass_on_the_default_lab(lab) -> None:
    report = lab.verify(wait_health_checks=False, probes=False)
    text = report.text(ledger=False)
    assert report.ok, text
    enis = sorted(e["PrivateIpAddress"] for e in lab.endpoint("web-endpoint")["Lab"]["Enis"])
    runs = report.names
    assert sorted((r.spec.client, r.spec.origin) for r in runs) == [
        ("consumer-client", "regional"), ("consumer-client", "zonal"), ("consumer-client", "zonal"),
        ("consumer-client-b", "regional"), ("consumer-client-b", "zonal"), ("consumer-client-b", "zonal")]
    for run in runs:
        assert run.spec.resolver == "10.0.0.2" and not run.spec.skip
        assert run.chosen in run.spec.expected and run.flow is not None and run.flow.status == 200, run.problem
        if run.spec.origin == "regional":
            assert sorted(run.answers) == enis
        else:
            assert len(run.answers) == 1
        mine = {c.category: c for c in report.checks if c.subject == run.spec.name}
        assert {k: c.status for k, c in mine.items()} == {"name": "pass", "path": "pass", "ppv2": "pass",
                                                          "snat": "pass", "az": "pass"}, text
        # The PROXY header names the very ENI the name resolved to.
        assert f"-> {run.chosen}:80, TLV 0xEA {lab.endpoint('web-endpoint')['VpcEndpointId']}" in mine["ppv2"].message
        assert mine["path"].message.startswith(f"consumer-subnet/{run.spec.client} -> endpoint-eni/web-endpoint@")
    assert "Flows by DNS name, resolved inside the client by its VPC's resolver (6)" in text
    row = report.to_dict()["name_flows"][0]
    assert row["verdict"] == "pass" and row["chosen"] in enis and row["status"] == 200


def test_a_name_that_answers_a_non_eni_address_turns_the_verdict_red(lab) -> None:
    zonal = next(e["DnsName"] for e in lab.endpoint("web-endpoint")["DnsEntries"] if "-us-east-1a." in e["DnsName"])
    bogus = _hosts_dir(lab.name, "consumer") / "zz-verify-bogus"
    assert bogus.parent.is_dir(), f"no hosts folder at {bogus.parent}"
    try:
        bogus.write_text(f"{STRAY} {zonal}\n")
        _reread(lab.name, "consumer")
        assert sorted(_wait_for(lab, zonal, present=True)) == sorted(["10.0.1.253", STRAY])
        report = lab.verify(wait_health_checks=False, probes=False)
    finally:
        bogus.unlink(missing_ok=True)
        _reread(lab.name, "consumer")
    _wait_for(lab, zonal, present=False)
    text = report.text(ledger=False)
    assert not report.ok, text
    bad = [r for r in report.names if r.spec.qname == zonal]
    assert len(bad) == 2  # both consumer instances asked
    for run in bad:
        name = next(c for c in report.checks if c.category == "name" and c.subject == run.spec.name)
        assert name.status == "fail" and STRAY in name.message, name.message
        assert run.chosen != STRAY  # never sent to an address that is not an ENI
    # The other names are untouched and still pass.
    assert all(c.status == "pass" for c in report.checks
               if c.category == "name" and zonal not in c.subject)
    assert "FAIL name" in text


def test_http_by_name_refuses_an_answer_outside_the_clients_vpc(lab) -> None:
    """lab.http(dns_name=...) sends nothing to an address the lab's plan does not name for the VPC."""
    name, outside = "stray.example.test", "192.0.2.77"  # RFC 5737: no such address anywhere in the lab
    bogus = _hosts_dir(lab.name, "consumer") / "zz-http-stray"
    try:
        bogus.write_text(f"{outside} {name}\n")
        _reread(lab.name, "consumer")
        for _ in range(WAIT_ATTEMPTS):  # bounded: until dnsmasq has read the folder again
            if _answers(lab, name):
                break
            time.sleep(WAIT_STEP_S)
        with lab.capture(["consumer-subnet/consumer-client"]) as cap:
            with pytest.raises(LookupError, match=rf"{name} resolved from consumer-client to {outside}, which is no "
                                                  "address of VPC consumer"):
                lab.http("consumer-client", dns_name=name)
    finally:
        bogus.unlink(missing_ok=True)
        _reread(lab.name, "consumer")
    seen = cap.ledger.by_link["consumer-subnet/consumer-client"].packets
    assert [p for p in seen if p.dport == 53] and not [p for p in seen if p.dst == outside]
