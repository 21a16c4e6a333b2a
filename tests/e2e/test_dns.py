"""Each VPC's resolver end to end: real dnsmasq in the VPC router's namespace, asked with `dig` from the
consumer instances through `lab exec` (which mounts the VPC's resolv.conf), names that follow the
endpoint's state and the provider's domain verification, and nothing left after `lab down`.

Timings are measured with single DNS queries sent from inside the instance's namespace (a UDP
socket opened there; scapy builds and parses the messages), polled in bounded loops.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from scapy.layers.dns import DNS, DNSQR

from lab import api
from lab.apply import dns, netns, processes
from lab.apply.context import ApplyContext
from lab.plan.build import build_plan
from lab.state.store import LabState
from lab.topology.load import parse_topology

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
APPEAR_BUDGET_S = 2.0  # a name must appear or vanish within this (measured: tens of milliseconds)


def _topology() -> dict:
    data = yaml.safe_load((REPO / "topologies" / "basic.yaml").read_text())
    data["endpoint_services"][0]["private_dns_name"] = "api.example.com"
    ep = data["endpoints"][0]
    ep["private_dns_enabled"] = True
    ep["aliases"] = ["web.internal", {"name": "web-b.internal", "az": "us-east-1b"}]
    return data


@pytest.fixture(scope="module")
def lab(tmp_path_factory, lab_runner):
    with lab_runner(_topology(), "dns", tmp_path_factory.mktemp("dns")) as running:
        yield running


def lab_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "lab.cli.main", *args], capture_output=True, text=True, timeout=60)
    if check:
        assert out.returncode == 0, f"lab {' '.join(args)}: {out.returncode} {out.stderr}"
    return out


def dig(name: str, lab: str, client: str, qname: str) -> tuple[str, list[tuple[str, str, str]], str]:
    """(status, [(owner, type, data)], server) of `dig` run with `lab exec` in the client's namespace."""
    out = lab_cli("exec", "-n", lab, client, "--", "dig", "+noall", "+comments", "+answer", "+stats", "+tries=1",
                  "+time=2", qname).stdout
    status = next(line.split("status: ")[1].split(",")[0] for line in out.splitlines() if "status:" in line)
    server = next(line.split("SERVER: ")[1].split("(")[0] for line in out.splitlines() if "SERVER:" in line)
    answers = []
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 5 and not line.startswith(";") and f[2] == "IN":
            answers.append((f[0].rstrip("."), f[3], f[4].rstrip(".")))
    return status, answers, server


def query(ns: str, server: str, qname: str) -> tuple[int, set[str]]:
    """One A query from inside namespace `ns`: (rcode, {A addresses in the answer})."""
    with netns.entered(netns.netns_path(ns)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        sock.settimeout(1.0)
        sock.sendto(bytes(DNS(id=secrets.randbelow(65536), rd=1, qd=DNSQR(qname=qname))), (server, 53))
        reply = DNS(sock.recv(4096))
    addresses = {rr.rdata for rr in _records(reply) if rr.type == 1}
    return reply.rcode, {str(a) for a in addresses}


def _records(reply: DNS) -> list:
    an = reply.an
    if an is None:
        return []
    return list(an) if isinstance(an, list) else [an[i] for i in range(reply.ancount)]


def wait_for(ns: str, server: str, qname: str, want_present: bool) -> float:
    """Seconds until `qname` answers with addresses (or NXDOMAIN); bounded in time and count."""
    t0 = time.monotonic()
    for _ in range(400):
        try:
            rcode, addresses = query(ns, server, qname)
        except OSError:  # a query lost in a switch times out; ask again, as a client would
            continue
        if (rcode == 0 and bool(addresses)) == want_present:
            return time.monotonic() - t0
        if time.monotonic() - t0 > APPEAR_BUDGET_S:
            break
        time.sleep(0.005)
    raise AssertionError(f"{qname} did not {'appear' if want_present else 'vanish'} within {APPEAR_BUDGET_S} s")


def names(plan) -> dict[str, str]:
    ep = plan.endpoints[0]
    out = {"regional": next(e["DnsName"] for e in ep.dns_entries if e["Scope"] == "regional")}
    out.update({e["AvailabilityZone"]: e["DnsName"] for e in ep.dns_entries if e["Scope"] == "zonal"})
    return out


def ns_of(plan, instance: str) -> str:
    return next(i["Netns"] for i in plan.inventory["instances"] if i["Name"] == instance)


def resolver_pids(lab: str, vpc: str) -> list[int]:
    return dns.running(LabState(lab).dir, vpc)["resolver"]


# -- the names ----------------------------------------------------------------------------------

def test_clients_use_their_vpc_resolver_at_base_plus_two(lab):
    name, plan = lab
    for client in ("consumer-client", "consumer-client-b"):
        conf = Path("/etc/netns") / ns_of(plan, client) / "resolv.conf"
        assert "nameserver 10.0.0.2" in conf.read_text()
        status, answers, server = dig(name, name, client, names(plan)["regional"])
        assert server.startswith("10.0.0.2#53") and status == "NOERROR"
    assert len(resolver_pids(name, "consumer")) == 1 and len(resolver_pids(name, "provider")) == 1


def test_no_dnsmasq_of_the_lab_holds_an_inotify_instance(lab):
    """A host allows 128 inotify instances per user; one per dnsmasq capped labs at ~120 VPCs."""
    name, _plan = lab
    pids = [pid for vpc in ("consumer", "provider")
            for pid in dns.running(LabState(name).dir, vpc)["resolver"] + dns.running(LabState(name).dir, vpc)["cname"]]
    assert len(pids) >= 3  # two resolvers and at least one CNAME server (the topology has aliases)
    holding = {pid: [fd.name for fd in Path(f"/proc/{pid}/fd").iterdir()
                     if "inotify" in os.readlink(fd)] for pid in pids}
    assert not any(holding.values()), holding


def test_regional_name_answers_both_enis_and_zonal_names_one_each(lab):
    name, plan = lab
    enis = {e.az: e.ip for e in plan.endpoints[0].enis}
    _, answers, _ = dig(name, name, "consumer-client", names(plan)["regional"])
    assert sorted(a[2] for a in answers if a[1] == "A") == sorted(enis.values()) and len(enis) == 2
    for az, ip in enis.items():
        _, answers, _ = dig(name, name, "consumer-client-b", names(plan)[az])
        assert [a[2] for a in answers if a[1] == "A"] == [ip]


def test_aliases_are_cnames_to_the_regional_and_zonal_names(lab):
    name, plan = lab
    enis = {e.az: e.ip for e in plan.endpoints[0].enis}
    _, answers, _ = dig(name, name, "consumer-client", "web.internal")
    assert ("web.internal", "CNAME", names(plan)["regional"]) in answers
    assert sorted(a[2] for a in answers if a[1] == "A") == sorted(enis.values())
    _, answers, _ = dig(name, name, "consumer-client", "web-b.internal")
    assert answers == [("web-b.internal", "CNAME", names(plan)["us-east-1b"]), (names(plan)["us-east-1b"], "A",
                                                                                enis["us-east-1b"])]


def test_a_client_reaches_the_service_by_alias(lab):
    name, plan = lab
    out = lab_cli("exec", "-n", name, "consumer-client", "--", "curl", "-s", "-m", "5", "http://web-b.internal/")
    answer = json.loads(out.stdout)
    assert answer["vpce_id"] == plan.endpoints[0].id and answer["eni"].startswith(
        next(e.ip for e in plan.endpoints[0].enis if e.az == "us-east-1b") + ":")


def test_names_are_only_in_the_endpoints_own_vpc_and_nothing_is_forwarded(lab):
    name, plan = lab
    status, answers, server = dig(name, name, "target-a", names(plan)["regional"])
    assert server.startswith("10.0.0.2#53") and status == "NXDOMAIN" and answers == []
    status, _, _ = dig(name, name, "target-a", "ip-10-0-2-10.ec2.internal")
    assert status == "NOERROR"
    for outside in ("example.org", "api.example.com"):  # the second is not verified yet
        status, answers, _ = dig(name, name, "consumer-client", outside)
        assert (status, answers) == ("NXDOMAIN", [])
    conf = (LabState(name).dir / "dns" / "consumer" / "resolver.conf").read_text()
    assert "\nno-resolv\n" in conf and "\nlocal=/#/\n" in conf and "\nserver=" not in conf


# -- private DNS name and its verification ------------------------------------------------------

def test_private_name_appears_only_after_the_domain_is_verified(lab):
    name, plan = lab
    pid_before = resolver_pids(name, "consumer")
    domains = json.loads(lab_cli("dns", "domains", "-n", name, "--format", "json").stdout)
    (cfg,) = domains["PrivateDnsNameConfigurations"]
    assert cfg["State"] == "pendingVerification" and not cfg["Published"]

    failed = lab_cli("dns", "verify-domain", "-n", name, "web-service", check=False)
    assert failed.returncode == 1 and "failed" in failed.stdout
    lab_cli("dns", "publish", "-n", name, cfg["Name"], "vpce:not-the-token")
    assert json.loads(lab_cli("dns", "verify-domain", "-n", name, "web-service", "--format", "json",
                              check=False).stdout)["State"] == "failed"
    assert dig(name, name, "consumer-client", "api.example.com")[0] == "NXDOMAIN"

    lab_cli("dns", "publish", "-n", name, cfg["Name"], cfg["Value"])
    t0 = time.monotonic()
    result = json.loads(lab_cli("dns", "verify-domain", "-n", name, "web-service", "--format", "json").stdout)
    assert result["State"] == "verified"
    ns = ns_of(plan, "consumer-client")
    seconds = time.monotonic() - t0 + wait_for(ns, "10.0.0.2", "api.example.com", True)
    print(f"\nprivate DNS name answers {seconds * 1000:.0f} ms after `lab dns verify-domain` started")
    status, answers, _ = dig(name, name, "consumer-client", "api.example.com")
    enis = sorted(e.ip for e in plan.endpoints[0].enis)
    assert status == "NOERROR" and answers[0] == ("api.example.com", "CNAME", names(plan)["regional"])
    assert sorted(a[2] for a in answers if a[1] == "A") == enis
    assert "private_dns_state: verified" in LabState(name).topology_file.read_text()
    assert resolver_pids(name, "consumer") == pid_before  # no restart


# -- names follow the endpoint's state ----------------------------------------------------------

def _resync(name: str, edit) -> None:
    """Re-plan the stored topology after `edit(data)` and sync DNS (what the control plane does)."""
    lab_state = LabState(name)
    data = copy.deepcopy(yaml.safe_load(lab_state.topology_file.read_text()))
    edit(data)
    plan = build_plan(parse_topology(yaml.safe_dump(data)), name, previous=lab_state.load_plan())
    ctx = ApplyContext(plan=plan, state=lab_state, progress=lambda _m: None)
    try:
        dns.sync(ctx)
    finally:
        ctx.close()


def _sync_with_state(name: str, state: str | None) -> None:
    _resync(name, lambda d: d["endpoints"][0].update(state=state))


def test_names_vanish_when_the_endpoint_is_not_available_and_return_without_a_restart(lab):
    name, plan = lab
    ns = ns_of(plan, "consumer-client")
    pid_before = resolver_pids(name, "consumer")
    all_names = [names(plan)["regional"], names(plan)["us-east-1a"], "web.internal", "web-b.internal", "api.example.com"]
    for qname in all_names:
        assert query(ns, "10.0.0.2", qname)[0] == 0, qname
    t0 = time.monotonic()
    _sync_with_state(name, "rejected")
    gone = max(time.monotonic() - t0 + wait_for(ns, "10.0.0.2", q, False) for q in all_names)
    for qname in all_names:
        assert query(ns, "10.0.0.2", qname) == (3, set()), qname  # NXDOMAIN, nothing dangling
    t0 = time.monotonic()
    _sync_with_state(name, None)
    back = max(time.monotonic() - t0 + wait_for(ns, "10.0.0.2", q, True) for q in all_names)
    print(f"\nall names gone {gone * 1000:.0f} ms after the sync started; back {back * 1000:.0f} ms after")
    assert resolver_pids(name, "consumer") == pid_before
    assert dig(name, name, "consumer-client", "web.internal")[1][0] == ("web.internal", "CNAME", names(plan)["regional"])


class Asker:
    """A client asking one name over and over from a thread (bounded: `limit` queries or `seconds`).

    `retries=1` behaves like the lab's resolv.conf (timeout:1 attempts:2): a lost answer is asked again.
    """

    def __init__(self, ns: str, qname: str, want: int, retries: int = 0, limit: int = 4000, seconds: float = 15):
        self.ns, self.qname, self.want, self.retries = ns, qname, want, retries
        self.limit, self.seconds = limit, seconds
        self.answered, self.failed, self.retried = 0, 0, 0
        self.misses: list[str] = []  # what each unanswered attempt got, and when (for the failure message)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _ask_once(self) -> bool:
        t0 = time.monotonic()
        try:
            rcode, addresses = query(self.ns, "10.0.0.2", self.qname)
        except OSError as err:
            self.misses.append(f"{t0:.3f} {type(err).__name__}")
            return False
        if rcode == 0 and len(addresses) == self.want:
            return True
        self.misses.append(f"{t0:.3f} rcode {rcode} {sorted(addresses)}")
        return False

    def _run(self) -> None:
        t0 = time.monotonic()
        while not self._stop.is_set() and self.answered + self.failed < self.limit and time.monotonic() - t0 < self.seconds:
            ok = self._ask_once()
            for _ in range(self.retries):
                if ok:
                    break
                self.retried += 1
                ok = self._ask_once()
            self.answered, self.failed = self.answered + ok, self.failed + (not ok)

    def __enter__(self) -> Asker:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def test_verification_changes_touch_no_process_and_lose_no_answer(lab):
    """The CNAME server holds every CNAME the VPC could serve: verifying (or failing) a domain only
    re-routes a name in the resolver, so a client asking for another CNAME all along misses nothing."""
    name, plan = lab
    ns = ns_of(plan, "consumer-client")
    before = dns.running(LabState(name).dir, "consumer")
    with Asker(ns, "web.internal", want=2) as asker:
        for i in range(6):
            state = "failed" if i % 2 == 0 else "verified"
            _resync(name, lambda d, s=state: d["endpoint_services"][0].update(private_dns_state=s))
            wait_for(ns, "10.0.0.2", "api.example.com", state == "verified")
    assert asker.answered > 20 and asker.failed == 0, f"{asker.failed} of {asker.answered + asker.failed} failed"
    assert dns.running(LabState(name).dir, "consumer") == before  # same resolver, same CNAME server


def test_a_cname_new_to_the_vpc_gets_a_new_cname_server_and_no_answer_is_lost(lab):
    """A new alias needs a CNAME server holding it: a new one starts, only the new names go to it, and
    the names already answering stay where they are, so a client asking for one all along (no retry)
    misses nothing. When the new names go, their server has nothing left to serve and stops."""
    name, plan = lab
    ns = ns_of(plan, "consumer-client")
    lab_dir = LabState(name).dir
    before = dns.running(lab_dir, "consumer")
    steps = []
    with Asker(ns, "web.internal", want=2) as asker:
        for i in range(3):
            t0 = time.monotonic()
            _resync(name, lambda d, i=i: d["endpoints"][0]["aliases"].extend(f"extra{k}.internal" for k in range(i + 1)))
            steps.append(f"{t0:.3f}-{time.monotonic():.3f}")
            wait_for(ns, "10.0.0.2", f"extra{i}.internal", True)
    assert asker.answered > 20 and asker.failed == 0, (f"{asker.failed} of {asker.answered + asker.failed} failed: "
                                                       f"{asker.misses}; syncs {steps}")
    during = dns.running(lab_dir, "consumer")
    assert during["resolver"] == before["resolver"]
    assert set(before["cname_ports"]) < set(during["cname_ports"])  # the old server stays, with web.internal
    _resync(name, lambda d: None)  # back to the stored topology: the extra aliases go
    assert query(ns, "10.0.0.2", "extra0.internal") == (3, set())
    after = dns.running(lab_dir, "consumer")
    # The servers that held only extra names stop; the oldest keeps web.internal, the newest stays.
    assert before["cname_ports"][0] in after["cname_ports"] and len(after["cname_ports"]) <= 2
    assert query(ns, "10.0.0.2", "web.internal")[0] == 0


def test_sync_is_idempotent(lab):
    name, _ = lab
    live = LabState(name).dir / "dns" / "consumer" / "live.json"
    before = json.loads(live.read_text())
    journal_lines = len(LabState(name).journal.path.read_text().splitlines())
    _sync_with_state(name, None)
    assert json.loads(live.read_text()) == before
    assert len(LabState(name).journal.path.read_text().splitlines()) == journal_lines  # nothing new was made


def test_dns_records_command_lists_what_the_resolver_answers(lab):
    name, plan = lab
    out = json.loads(lab_cli("dns", "records", "-n", name, "--vpc", "consumer", "--format", "json").stdout)
    (res,) = out["Resolvers"]
    assert res["Address"] == "10.0.0.2" and res["ResolverPids"] and res["CnameServerPids"]
    assert {r["Name"] for r in res["Records"]} >= {names(plan)["regional"], "web.internal", "api.example.com"}
    bad = lab_cli("dns", "records", "-n", name, "--vpc", "nope", check=False)
    assert bad.returncode == 2 and "--vpc" in bad.stderr


# -- with the control plane (lab endpoint ...): last, it changes the lab for good -----------------

def test_control_plane_changes_carry_the_names(lab):
    """`lab endpoint reject` takes the endpoint's names away; a new endpoint created with private DNS
    brings its own (a CNAME new to the VPC: the CNAME server is switched). Asked from the VPC router's
    namespace (`lab exec consumer`), which uses the same resolver through its own resolv.conf."""
    name, plan = lab
    router_ns = f"pl-{name}.consumer"
    old = names(plan)
    lab_cli("endpoint", "reject", "-n", name, "-a", "provider", plan.endpoints[0].id)
    for qname in (old["regional"], old["us-east-1a"], "web.internal", "api.example.com"):
        wait_for(router_ns, "10.0.0.2", qname, False)
    assert dig(name, name, "consumer", "web.internal")[0] == "NXDOMAIN"

    lab_cli("endpoint", "delete", "-n", name, "-a", "consumer", plan.endpoints[0].id)
    created = json.loads(lab_cli("endpoint", "create", "-n", name, "-a", "consumer", "--vpc", "consumer",
                                 "--service", "web-service", "--endpoint-name", "web-new", "--private-dns",
                                 "--format", "json").stdout)
    new_plan = LabState(name).load_plan()
    ep = next(e for e in new_plan["endpoints"] if e["name"] == "web-new")
    assert ep["state"] == "available", created
    regional = next(e["DnsName"] for e in ep["dns_entries"] if e["Scope"] == "regional")
    wait_for(router_ns, "10.0.0.2", "api.example.com", True)
    status, answers, _ = dig(name, name, "consumer", "api.example.com")
    assert status == "NOERROR" and answers[0] == ("api.example.com", "CNAME", regional)
    assert sorted(a[2] for a in answers if a[1] == "A") == sorted(e["ip"] for e in ep["enis"])


# -- lab down -----------------------------------------------------------------------------------

def test_down_stops_the_resolvers_and_removes_their_files(lab):
    name, plan = lab
    tokens = [e["token"] for e in LabState(name).journal.entries() if e["kind"] == "process"
              and e.get("role", "").startswith("dns")]
    assert len(tokens) >= 3  # two resolvers, at least one CNAME server
    assert any(processes.pids_with_token(t) for t in tokens)
    etc = [Path("/etc/netns") / ns for ns in (ns_of(plan, "consumer-client"), ns_of(plan, "target-a"))]
    assert all(p.exists() for p in etc)
    api.down(name)
    assert not [t for t in tokens if processes.pids_with_token(t)]
    assert not [p for p in etc if p.exists()]
    assert not LabState(name).dir.exists()
