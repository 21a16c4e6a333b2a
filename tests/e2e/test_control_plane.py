"""The control plane end to end on the multi-tenant lab: every workflow transition and its event,
the principals, notifications (the auto-accept "Lambda" and a webhook inside the lab), three
consumers with one address told apart by endpoint ID, a failed accept rolled back, and `lab down`
removing legs added after bring-up. Everything goes through the real `lab` CLI; checks read the
kernel, HAProxy's config, the target's answers and the receiver's log independently.

One lab for the module (tests run in file order and build on each other's state).
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab import api
from lab.apply import netns
from lab.state.store import LabState

pytestmark = pytest.mark.root

LAB = f"t-cp-{secrets.token_hex(2)}"
CLI = [sys.executable, "-m", "lab.cli.main"]
CLIENT_IP = "10.0.1.10"  # every tenant's client has it, and so does target-a


def lab(*args: str, code: int = 0) -> dict | str:
    """Run `lab ARGS --name LAB`; check the exit code; JSON output parsed, else the stderr text."""
    done = subprocess.run([*CLI, *args, "--name", LAB], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == code, f"lab {' '.join(args)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    if code == 0 and "--format" in args:
        return json.loads(done.stdout)
    return done.stderr


@pytest.fixture(scope="module")
def plan():
    result = api.up("multi-tenant", LAB)
    try:
        yield result.plan
    finally:
        api.down(LAB)


def state_dir() -> Path:
    return LabState(LAB).dir


def endpoints() -> dict[str, dict]:
    return {e["Lab"]["Name"]: e for e in lab("endpoint", "list", "--format", "json")["VpcEndpoints"]}


def events() -> list[dict]:
    return lab("events", "--format", "json")["Events"]


def netns_of(plan, instance: str) -> str:
    return next(i["Netns"] for i in plan.inventory["instances"] if i["Name"] == instance)


def request(plan, client: str, ip: str, timeout: float = 2.0) -> dict:
    """One HTTP request from inside a client's namespace (the socket is created there)."""
    with netns.entered(netns.netns_path(netns_of(plan, client))):
        sock = socket.socket()
    with sock:
        sock.settimeout(timeout)
        sock.connect((ip, 80))
        sock.sendall(b"GET / HTTP/1.0\r\nHost: saas\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


def refused(plan, client: str, ip: str) -> bool:
    try:
        request(plan, client, ip, timeout=1.0)
    except OSError:
        return True
    return False


def resolve(client: str, name: str) -> set[str]:
    """What the client's VPC resolver answers for a name (lab.apply.dns keeps it in step with the plan)."""
    out = subprocess.run([*CLI, "exec", "--name", LAB, client, "--", "dig", "+short", "+time=1", "+tries=2", name],
                         capture_output=True, text=True, timeout=30, check=True)
    return set(out.stdout.split())


def node_links(container: str) -> set[str]:
    pid = api.runtime().pid(container)
    return {line.split(":")[0].strip() for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]}


def node_config(container: str) -> str:
    return (state_dir() / "nodes" / container / "etc" / "haproxy.cfg").read_text()


def unchanged_files() -> dict[str, bytes]:
    return {name: (state_dir() / name).read_bytes() for name in ("topology.yaml", "plan.json", "events.jsonl")}


# -- lab up: Connect for all, the auto-accept accepts the allowed tenants ---------------------------

def test_lab_up_publishes_connect_and_the_auto_accept_accepts_the_allowed_tenants(plan):
    eps = endpoints()
    assert {n: e["State"] for n, e in eps.items()} == {
        "tenant-a-saas": "available", "tenant-b-saas": "available", "tenant-c-saas": "pendingAcceptance"}
    log = events()
    connects = [e for e in log if e["ConnectionEvent"] == "Connect"]
    assert [e["Lab"]["Endpoint"] for e in connects] == ["tenant-a-saas", "tenant-b-saas", "tenant-c-saas"]
    assert all(e["VpcEndpointState"] == "pendingAcceptance" for e in connects)
    accepts = [e for e in log if e["ConnectionEvent"] == "Accept"]
    assert sorted(e["Lab"]["Endpoint"] for e in accepts) == ["tenant-a-saas", "tenant-b-saas"]
    assert all(e["Actor"] == "arn:aws:iam::111111111111:root" for e in accepts)
    for connect in connects:  # the command subscriber ran once per Connect, and succeeded
        (command,) = [d for d in connect["Deliveries"] if d["Type"] == "command"]
        assert command["Ok"], command
        decision = json.loads(Path(command["Log"]).read_text().splitlines()[-1])
        assert decision["accept"] is (connect["VpcEndpointOwner"] in ("222222222222", "333333333333"))


def test_the_webhook_got_every_event_from_inside_the_lab_in_order(plan):
    log = events()
    received = [json.loads(line) for line in (state_dir() / "logs" / "ops-hooks.log").read_text().splitlines()]
    bodies = [r["body"] for r in received if r["event"] == "webhook"]
    assert sorted(b["EventId"] for b in bodies) == sorted(e["EventId"] for e in log)
    assert all(r["peer"] == "10.0.1.1" for r in received if r["event"] == "webhook")  # the provider router
    for endpoint in ("tenant-a-saas", "tenant-b-saas"):
        seen = [b["ConnectionEvent"] for b in bodies if b["Lab"]["Endpoint"] == endpoint]
        assert seen == ["Connect", "Accept"], seen


def test_a_pending_endpoint_has_no_data_plane(plan):
    c = endpoints()["tenant-c-saas"]
    assert c["NetworkInterfaceIds"] == []
    for eni in c["Lab"]["Enis"]:
        assert eni["Leg"] not in node_links(eni["NlbNode"])
        assert eni["PrivateIpAddress"] not in node_config(eni["NlbNode"])
    assert refused(plan, "c-client", c["Lab"]["Enis"][0]["PrivateIpAddress"])


# -- accept: three tenants, one address, told apart by endpoint ID -----------------------------------

def test_accept_makes_the_data_plane_and_three_tenants_are_told_apart(plan):
    c = endpoints()["tenant-c-saas"]
    regional = c["DnsEntries"][0]["DnsName"]
    assert resolve("c-client", regional) == set()  # no name before acceptance
    out = lab("endpoint", "accept", "--account", "provider", c["VpcEndpointId"], "--format", "json")
    assert out["VpcEndpoints"][0]["State"] == "available"
    assert [e["ConnectionEvent"] for e in out["Events"]] == ["Accept"]
    eps = endpoints()
    assert len({e["VpcEndpointId"] for e in eps.values()}) == 3
    for tenant in ("a", "b", "c"):
        ep = eps[f"tenant-{tenant}-saas"]
        assert len(ep["NetworkInterfaceIds"]) == 2
        for eni in ep["Lab"]["Enis"]:
            answer = request(plan, f"{tenant}-client", eni["PrivateIpAddress"])
            assert answer["vpce_id"] == ep["VpcEndpointId"]  # from TLV 0xEA: the only thing that differs
            assert answer["client"].split(":")[0] == CLIENT_IP
            assert answer["eni"] == f"{eni['PrivateIpAddress']}:80" and answer["az"] == eni["AvailabilityZone"]
    assert resolve("c-client", regional) == {e["PrivateIpAddress"] for e in eps["tenant-c-saas"]["Lab"]["Enis"]}


# -- create, principals, reject, delete: one transition and one event each ---------------------------

def test_create_publishes_connect_and_waits_for_the_provider(plan):
    out = lab("endpoint", "create", "--account", "tenant-c", "--vpc", "tenant-c", "--service", "saas",
              "--endpoint-name", "c-extra", "--format", "json")
    ep = out["VpcEndpoint"]
    assert ep["State"] == "pendingAcceptance" and ep["OwnerId"] == "444444444444"
    assert ep["VpcEndpointType"] == "Interface" and ep["ServiceName"].startswith("com.amazonaws.vpce.us-east-1.vpce-svc-")
    assert [(e["ConnectionEvent"], e["VpcEndpointState"]) for e in out["Events"]] == [("Connect", "pendingAcceptance")]
    command = next(d for d in out["Deliveries"] if d["Type"] == "command")
    assert "not on the allow-list" in Path(command["Log"]).read_text()  # tenant-c is left to the provider
    assert endpoints()["c-extra"]["State"] == "pendingAcceptance"


def test_create_by_an_allowed_tenant_is_accepted_by_the_auto_accept(plan):
    out = lab("endpoint", "create", "--account", "tenant-a", "--vpc", "tenant-a", "--service", "saas",
              "--endpoint-name", "a-second", "--format", "json")
    assert out["VpcEndpoint"]["State"] == "pendingAcceptance"  # as created; the subscriber ran after
    second = endpoints()["a-second"]
    assert second["State"] == "available"
    kinds = [(e["ConnectionEvent"], e["Lab"]["Endpoint"]) for e in events()][-2:]
    assert kinds == [("Connect", "a-second"), ("Accept", "a-second")]
    for eni in second["Lab"]["Enis"]:
        assert request(plan, "a-client", eni["PrivateIpAddress"])["vpce_id"] == second["VpcEndpointId"]


def test_a_consumer_cannot_accept_its_own_endpoint(plan):
    before = unchanged_files()
    err = lab("endpoint", "accept", "--account", "tenant-c", "c-extra", code=2)
    assert "only its owner provider (111111111111) can" in err and "fix: act as provider" in err
    assert unchanged_files() == before


def test_only_the_owner_deletes(plan):
    before = unchanged_files()
    err = lab("endpoint", "delete", "--account", "provider", "c-extra", code=2)
    assert "only its owner tenant-c (444444444444) can" in err
    assert unchanged_files() == before


def test_a_consumer_creates_only_in_its_own_vpc(plan):
    err = lab("endpoint", "create", "--account", "tenant-a", "--vpc", "tenant-b", "--service", "saas", code=2)
    assert "which belongs to tenant-b" in err


def test_an_account_not_allowed_cannot_create_and_revoking_keeps_existing_endpoints(plan):
    out = lab("service", "revoke", "saas", "--account", "provider", "--principal", "tenant-c", "--format", "json")
    assert "arn:aws:iam::444444444444:root" not in [p["Principal"] for p in out["AllowedPrincipals"]]
    before = unchanged_files()
    err = lab("endpoint", "create", "--account", "tenant-c", "--vpc", "tenant-c", "--service", "saas", code=2)
    assert "not an allowed principal of service 'saas'" in err and "lab service allow saas" in err
    assert unchanged_files() == before
    c = endpoints()["tenant-c-saas"]  # on AWS, revoking leaves existing connections alone
    assert c["State"] == "available"
    assert request(plan, "c-client", c["Lab"]["Enis"][0]["PrivateIpAddress"])["vpce_id"] == c["VpcEndpointId"]
    assert lab("service", "allow", "saas", "--account", "tenant-a", "--principal", "tenant-c", code=2)
    out = lab("service", "allow", "saas", "--account", "provider", "--principal", "444444444444", "--format", "json")
    assert "arn:aws:iam::444444444444:root" in [p["Principal"] for p in out["AllowedPrincipals"]]


def test_reject_of_a_pending_connection_publishes_reject(plan):
    out = lab("endpoint", "reject", "--account", "provider", "c-extra", "--format", "json")
    assert out["VpcEndpoints"][0]["State"] == "rejected"
    assert [(e["ConnectionEvent"], e["VpcEndpointState"]) for e in out["Events"]] == [("Reject", "rejected")]
    assert lab("endpoint", "accept", "--account", "provider", "c-extra", code=2)  # no way back from rejected


def test_reject_of_an_available_connection_stops_its_traffic(plan):
    second = endpoints()["a-second"]
    regional = second["DnsEntries"][0]["DnsName"]
    assert resolve("a-client", regional) == {e["PrivateIpAddress"] for e in second["Lab"]["Enis"]}
    out = lab("endpoint", "reject", "--account", "provider", "a-second", "--format", "json")
    assert out["VpcEndpoints"][0]["State"] == "rejected" and out["VpcEndpoints"][0]["NetworkInterfaceIds"] == []
    for eni in second["Lab"]["Enis"]:
        assert refused(plan, "a-client", eni["PrivateIpAddress"])
        assert eni["Leg"] not in node_links(eni["NlbNode"])
    assert resolve("a-client", regional) == set()
    first = endpoints()["tenant-a-saas"]  # the tenant's other endpoint is untouched
    assert request(plan, "a-client", first["Lab"]["Enis"][0]["PrivateIpAddress"])["vpce_id"] == first["VpcEndpointId"]


def test_delete_publishes_delete_and_the_endpoint_shows_deleted(plan):
    vpce = endpoints()["c-extra"]["VpcEndpointId"]
    out = lab("endpoint", "delete", "--account", "tenant-c", vpce, "--format", "json")
    assert [(e["ConnectionEvent"], e["VpcEndpointState"], e["VpcEndpointId"]) for e in out["Events"]] == \
        [("Delete", "deleted", vpce)]
    assert "c-extra" not in endpoints()
    shown = lab("endpoint", "show", vpce, "--format", "json")
    assert shown["State"] == "deleted"
    assert [h["State"] for h in shown["History"]] == ["pendingAcceptance", "rejected", "deleting", "deleted"]
    err = lab("endpoint", "create", "--account", "tenant-c", "--vpc", "tenant-c", "--service", "saas",
              "--endpoint-name", "c-extra", code=2)
    assert "never reused" in err


def test_delete_of_a_pending_endpoint_publishes_delete(plan):
    created = lab("endpoint", "create", "--account", "tenant-c", "--vpc", "tenant-c", "--service", "saas",
                  "--endpoint-name", "c-pend", "--format", "json")["VpcEndpoint"]
    out = lab("endpoint", "delete", "--account", "tenant-c", "c-pend", "--format", "json")
    assert [(e["ConnectionEvent"], e["VpcEndpointId"]) for e in out["Events"]] == [("Delete", created["VpcEndpointId"])]
    assert lab("endpoint", "show", created["VpcEndpointId"], "--format", "json")["State"] == "deleted"


def test_a_service_without_acceptance_makes_new_endpoints_available_at_once(plan):
    assert lab("service", "modify", "saas", "--account", "tenant-b", "--no-acceptance-required", code=2)
    lab("service", "modify", "saas", "--account", "provider", "--no-acceptance-required", "--format", "json")
    try:
        out = lab("endpoint", "create", "--account", "tenant-b", "--vpc", "tenant-b", "--service", "saas",
                  "--endpoint-name", "b-auto", "--format", "json")
    finally:
        lab("service", "modify", "saas", "--account", "provider", "--acceptance-required", "--format", "json")
    ep = out["VpcEndpoint"]
    assert ep["State"] == "available" and len(ep["NetworkInterfaceIds"]) == 2
    assert [(e["ConnectionEvent"], e["VpcEndpointState"]) for e in out["Events"]] == \
        [("Connect", "available"), ("Accept", "available")]
    for eni in ep["Lab"]["Enis"]:
        assert request(plan, "b-client", eni["PrivateIpAddress"])["vpce_id"] == ep["VpcEndpointId"]
    # an available endpoint deleted by its owner: deleted, its traffic gone
    out = lab("endpoint", "delete", "--account", "tenant-b", "b-auto", "--format", "json")
    assert [e["ConnectionEvent"] for e in out["Events"]] == ["Delete"]
    assert all(refused(plan, "b-client", eni["PrivateIpAddress"]) for eni in ep["Lab"]["Enis"])


# -- failed: an accept whose legs cannot be made -----------------------------------------------------

def test_an_accept_whose_legs_cannot_be_made_is_failed_and_rolled_back(plan):
    lab("endpoint", "create", "--account", "tenant-c", "--vpc", "tenant-c", "--service", "saas",
        "--endpoint-name", "c-fail", "--format", "json")
    ep = endpoints()["c-fail"]
    eni_b = next(e for e in ep["Lab"]["Enis"] if e["AvailabilityZone"] == "us-east-1b")
    router = f"pl-{LAB}.tenant-c"
    # Take the name AZ b's leg needs in the consumer's router (a pair of our own, wholly inside it):
    # AZ a's leg gets made first, then AZ b's fails, and both must be gone afterwards.
    subprocess.run(["ip", "netns", "exec", router, "ip", "link", "add", eni_b["Leg"], "type", "veth", "peer", "name",
                    "squat-peer"], check=True, timeout=10)
    try:
        configs = {n: node_config(n) for n in {e["NlbNode"] for e in ep["Lab"]["Enis"]}}
        err = lab("endpoint", "accept", "--account", "provider", "c-fail", code=1)
        assert "marked failed" in err
        failed = endpoints()["c-fail"]
        assert failed["State"] == "failed" and failed["LastError"]["Code"] == "DataPlaneFailure"
        for eni in failed["Lab"]["Enis"]:
            assert eni["Leg"] not in node_links(eni["NlbNode"])
        assert {n: node_config(n) for n in configs} == configs
        assert not [e for e in events() if e["Lab"]["Endpoint"] == "c-fail" and e["ConnectionEvent"] == "Accept"]
        c = endpoints()["tenant-c-saas"]
        assert request(plan, "c-client", c["Lab"]["Enis"][0]["PrivateIpAddress"])["vpce_id"] == c["VpcEndpointId"]
    finally:
        subprocess.run(["ip", "netns", "exec", router, "ip", "link", "del", "squat-peer"], check=False, timeout=10)
    lab("endpoint", "delete", "--account", "tenant-c", "c-fail", "--format", "json")  # failed -> deleted
    assert "c-fail" not in endpoints()


# -- events CLI, then teardown ------------------------------------------------------------------------

def test_events_follow_is_bounded_and_sees_new_events(plan):
    follower = subprocess.Popen([*CLI, "events", "--name", LAB, "--follow", "--timeout", "20", "--count", "1",
                                 "--format", "json"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        lab("endpoint", "reject", "--account", "provider", "tenant-b-saas", "--format", "json")
        out, _ = follower.communicate(timeout=25)
    finally:
        if follower.poll() is None:
            follower.kill()
    (line,) = out.splitlines()
    assert json.loads(line)["ConnectionEvent"] == "Reject"
    t0 = time.monotonic()
    idle = subprocess.run([*CLI, "events", "--name", LAB, "--follow", "--timeout", "0.5"], capture_output=True,
                          text=True, timeout=30)
    assert idle.returncode == 0 and idle.stdout == "" and time.monotonic() - t0 < 10


def test_lab_down_removes_everything_including_legs_added_later(plan):
    journal = [json.loads(line) for line in (state_dir() / "journal.jsonl").read_text().splitlines()]
    later = [e for e in journal if e["kind"] == "veth" and e["key"].startswith("eni:a-second")]
    assert later, "the legs accepted after bring-up are in the journal"
    containers = [e["name"] for e in journal if e["kind"] == "container"]
    api.down(LAB)
    assert not [n for n in Path("/run/netns").iterdir() if n.name.startswith(f"pl-{LAB}.")]
    assert not [c for c in containers if api.runtime().exists(c)]
    root_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert not [t for e in journal if e["kind"] == "veth" for t in e["tmp"] if t in root_links]
    assert not state_dir().exists()
