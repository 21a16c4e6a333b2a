"""Event log, control record, AWS shapes and command-subscriber delivery, on a temporary state folder
(no root: webhooks, which enter a lab namespace, are covered end to end)."""

from __future__ import annotations

import json
import sys
import threading
import time

import pytest

from lab.plan.build import build_plan
from lab.privatelink import edit, notify, shapes
from lab.privatelink.records import DeliveryLog, EventLog, Record, timestamp
from lab.resources import data_dir
from lab.state.store import LabState
from lab.topology.load import parse_topology

LAB = "t-events"


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVATELINK_LAB_STATE", str(tmp_path))
    st = LabState(LAB)
    st.create()
    return st


def view_with(state: LabState, subscribers: list | None = None, states: dict | None = None) -> shapes.LabView:
    raw = edit.load((data_dir("topologies") / "multi-tenant.yaml").read_text())
    if subscribers is not None:
        raw["endpoint_services"][0]["notifications"] = subscribers
    raw = edit.set_states(raw, states or {})
    topo = parse_topology(edit.dump(raw))
    return shapes.LabView(LAB, topo, build_plan(topo, LAB).to_dict(), Record(state))


def an_event(view: shapes.LabView, name: str = "Connect", endpoint: str = "tenant-a-saas") -> dict:
    ep = next(e for e in view.topo.endpoints if e.name == endpoint)
    return shapes.event(view, ep, name, "pendingAcceptance", "arn:aws:iam::222222222222:root", timestamp())


def test_timestamps_are_aws_wire_format():
    assert timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert timestamp(1.2345) == "1970-01-01T00:00:01.234Z"


def test_events_are_numbered_in_order_and_read_back(state):
    log = EventLog(state)
    first = log.append([{"ConnectionEvent": "Connect"}, {"ConnectionEvent": "Accept"}])
    second = log.append([{"ConnectionEvent": "Delete"}])
    assert [e["EventId"] for e in first + second] == ["evt-000001", "evt-000002", "evt-000003"]
    assert [e["ConnectionEvent"] for e in log.read()] == ["Connect", "Accept", "Delete"]


def test_follow_sees_new_events_and_is_bounded_by_count_and_time(state):
    log = EventLog(state)
    log.append([{"ConnectionEvent": "Connect"}])
    writer = threading.Timer(0.2, lambda: log.append([{"ConnectionEvent": "Accept"}, {"ConnectionEvent": "Reject"}]))
    writer.start()
    t0 = time.monotonic()
    got = list(log.follow(skip=1, timeout=5, count=2, poll=0.02))
    assert [e["ConnectionEvent"] for e in got] == ["Accept", "Reject"] and time.monotonic() - t0 < 2
    t0 = time.monotonic()
    assert list(log.follow(skip=3, timeout=0.3, poll=0.02)) == []
    assert 0.3 <= time.monotonic() - t0 < 1.5


def test_record_keeps_history_and_never_reuses_a_deleted_name(state):
    rec = Record(state)
    rec.created("web", "vpce-01", "t0", "pendingAcceptance", "arn:c")
    rec.transition("web", "pending", "t1", "arn:p")
    rec.transition("web", "failed", "t2", "arn:p", "name taken")
    rec.save()
    again = Record(state)
    assert [h["State"] for h in again.endpoint("web")["History"]] == ["pendingAcceptance", "pending", "failed"]
    assert again.endpoint("web")["LastError"] == {"Code": "DataPlaneFailure", "Message": "name taken"}
    again.deleted("web", {"VpcEndpointId": "vpce-01", "State": "failed"}, "t3", "arn:c")
    assert again.name_used("web") == "vpce-01" and again.endpoint("web") == {}
    assert again.deleted_endpoints()[0]["State"] == "deleted"
    assert [h["State"] for h in again.deleted_endpoints()[0]["History"]][-2:] == ["deleting", "deleted"]


def test_shapes_use_aws_field_names(state):
    view = view_with(state, states={"tenant-a-saas": "available"})
    ep, pending = view.topo.endpoints[0], view.topo.endpoints[1]
    out = shapes.endpoint(view, ep)
    for key in ("VpcEndpointId", "VpcEndpointType", "VpcId", "ServiceName", "State", "SubnetIds",
                "NetworkInterfaceIds", "DnsEntries", "OwnerId", "CreationTimestamp", "PrivateDnsEnabled"):
        assert key in out
    assert out["VpcEndpointType"] == "Interface" and out["State"] == "available" and out["OwnerId"] == "222222222222"
    assert len(out["NetworkInterfaceIds"]) == 2 and all(i.startswith("eni-") for i in out["NetworkInterfaceIds"])
    assert all(set(d) == {"DnsName", "HostedZoneId"} for d in out["DnsEntries"])
    assert out["DnsEntries"][0]["DnsName"].startswith(out["VpcEndpointId"] + "-")
    assert shapes.endpoint(view, pending)["NetworkInterfaceIds"] == []  # no ENI before acceptance
    svc = shapes.service(view, view.topo.endpoint_services[0])
    assert svc["ServiceType"] == [{"ServiceType": "Interface"}] and svc["AcceptanceRequired"] is True
    assert svc["ServiceName"] == f"com.amazonaws.vpce.us-east-1.{svc['ServiceId']}"
    assert svc["NetworkLoadBalancerArns"][0].startswith("arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/saas-nlb/")
    assert svc["AvailabilityZones"] == ["us-east-1a", "us-east-1b"]
    conn = shapes.connection(view, ep)
    assert (conn["VpcEndpointId"], conn["VpcEndpointOwner"], conn["VpcEndpointState"]) == \
        (out["VpcEndpointId"], "222222222222", "available")
    perms = shapes.permissions(view, view.topo.endpoint_services[0])
    assert [(p["PrincipalType"], p["Principal"]) for p in perms][0] == ("Account", "arn:aws:iam::222222222222:root")
    assert shapes.hosted_zone_id("vpce", "us-east-1") == shapes.hosted_zone_id("vpce", "us-east-1")
    assert len(shapes.hosted_zone_id("x")) == 14


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_command_subscriber_gets_the_event_on_stdin_and_its_environment(state, tmp_path):
    out = tmp_path / "seen.json"
    code = ("import json, os, sys; e = json.load(sys.stdin); "
            f"open({str(out)!r}, 'w').write(json.dumps([e, os.environ['LAB_NAME'], os.environ['LAB_ACCOUNT'], "
            "os.environ['LAB_CLI'], os.getcwd()])); print('handled', e['EventId'])")
    view = view_with(state, [{"command": _py(code)}])
    event = EventLog(state).append([an_event(view)])[0]
    (result,) = notify.deliver(state, view, [event], progress=lambda m: None)
    assert result["Ok"] and result["ExitCode"] == 0 and result["Type"] == "command"
    seen, lab, account, cli, cwd = json.loads(out.read_text())
    assert seen == event and lab == LAB and account == "111111111111"
    assert cli.endswith("-m lab.cli.main") and cwd == str(notify.PROJECT_ROOT)
    assert "handled evt-000001" in open(result["Log"]).read()
    assert DeliveryLog(state).read() == [result]


def test_subscribers_only_get_the_events_they_asked_for(state, tmp_path):
    view = view_with(state, [{"command": _py("import sys; sys.stdin.read()"), "events": ["Accept"]}])
    events = EventLog(state).append([an_event(view, "Connect"), an_event(view, "Accept")])
    results = notify.deliver(state, view, events, progress=lambda m: None)
    assert [r["ConnectionEvent"] for r in results] == ["Accept"]


def test_a_failing_a_hanging_and_a_missing_subscriber_are_reported_not_raised(state):
    view = view_with(state, [
        {"command": _py("import sys; sys.exit(3)")},
        {"command": _py("import time; time.sleep(30)"), "timeout": 1},
        {"command": ["/nonexistent/program"]},
    ])
    messages = []
    t0 = time.monotonic()
    results = notify.deliver(state, view, EventLog(state).append([an_event(view)]), progress=messages.append)
    assert time.monotonic() - t0 < 10
    assert [r["Ok"] for r in results] == [False, False, False]
    assert results[0]["ExitCode"] == 3
    assert "timed out after 1 s" in results[1]["Detail"]
    assert "could not run" in results[2]["Detail"]
    assert len(messages) == 3 and all("failed" in m for m in messages)


def test_webhooks_are_queued_before_commands_so_their_order_stays(state):
    view = view_with(state, [{"command": ["true"]}, {"webhook": "http://10.0.1.20:9000/x", "from": "provider"}])
    events = EventLog(state).append([an_event(view, "Connect", "tenant-a-saas"), an_event(view, "Connect", "tenant-b-saas")])
    queue = notify._queue(events, {s.name: s for s in view.topo.endpoint_services})
    assert [(e["EventId"], i) for e, _, i, _ in queue] == \
        [("evt-000001", 1), ("evt-000002", 1), ("evt-000001", 0), ("evt-000002", 0)]
