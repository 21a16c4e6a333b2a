"""Notifications: the retry policy (pure, on a fake clock), consumer-side subscribers (validation,
delivery, the Delete of a deleted endpoint), and `lab events --deliveries`, on a temporary state
folder. Command subscribers are real processes; webhooks (which enter a lab namespace) are e2e."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lab.plan.build import build_plan
from lab.privatelink import edit, notify, retry, shapes
from lab.privatelink.records import DeliveryLog, EventLog, Record, timestamp
from lab.resources import data_dir
from lab.state.store import LabState
from lab.topology.errors import TopologyError
from lab.topology.load import parse_topology

LAB = "t-notify"


# -- the retry policy -----------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def attempts_that(results: list[bool], clock: FakeClock, each_s: float = 1.0):
    calls = []

    def attempt(n: int) -> dict:
        calls.append(n)
        clock.now += each_s
        return {"Ok": results[n - 1]}
    return attempt, calls


def test_pauses_double_from_a_quarter_second():
    policy = retry.RetryPolicy()
    assert [policy.pause_before(n) for n in (1, 2, 3, 4)] == [0.0, 0.25, 0.5, 1.0]


def test_a_success_on_the_second_attempt_stops_there():
    clock = FakeClock()
    attempt, calls = attempts_that([False, True, True], clock)
    recorded = []
    out = retry.run(attempt, retry.RetryPolicy(attempts=3), timeout_s=5, record=recorded.append,
                    clock=clock, sleep=clock.sleep)
    assert calls == [1, 2] and clock.slept == [0.25]
    assert [(o["Attempt"], o["Ok"], o["Final"]) for o in out] == [(1, False, False), (2, True, True)]
    assert out[0]["RetryIn"] == 0.25 and "RetryIn" not in out[1]
    assert recorded == out  # every attempt is recorded, in order, as decided


def test_failures_stop_after_the_allowed_attempts():
    clock = FakeClock()
    attempt, calls = attempts_that([False] * 5, clock)
    out = retry.run(attempt, retry.RetryPolicy(attempts=3), timeout_s=5, clock=clock, sleep=clock.sleep)
    assert calls == [1, 2, 3] and [o["Final"] for o in out] == [False, False, True]
    assert not out[-1]["Ok"]


def test_one_attempt_means_no_retry():
    clock = FakeClock()
    attempt, calls = attempts_that([False], clock)
    assert len(retry.run(attempt, retry.RetryPolicy(attempts=1), 5, clock=clock, sleep=clock.sleep)) == 1
    assert calls == [1] and clock.slept == []


def test_no_retry_starts_that_could_end_after_the_budget():
    # 30 s timeouts, 60 s budget: a slow first failure (25 s) leaves room for one retry (25+0.25+30 <= 60),
    # not for a third attempt (25+0.25+25+0.5+30 > 60).
    clock = FakeClock()
    attempt, calls = attempts_that([False] * 3, clock, each_s=25)
    out = retry.run(attempt, retry.RetryPolicy(attempts=3, budget_s=60), timeout_s=30, clock=clock, sleep=clock.sleep)
    assert calls == [1, 2] and out[-1]["Final"]
    assert clock.now <= 60


@pytest.mark.parametrize("timeout_s, attempts", [(1, 5), (30, 3), (60, 5), (300, 5)])
def test_total_time_is_bounded_by_the_budget_or_one_timeout(timeout_s, attempts):
    clock = FakeClock()
    attempt, _ = attempts_that([False] * attempts, clock, each_s=timeout_s)  # every attempt times out
    policy = retry.RetryPolicy(attempts=attempts)
    retry.run(attempt, policy, timeout_s=timeout_s, clock=clock, sleep=clock.sleep)
    assert clock.now <= max(timeout_s, policy.budget_s)


# -- consumer-side subscribers: validation ----------------------------------------------------------

@pytest.fixture
def raw():
    """multi-tenant.yaml without its service's subscribers (the auto-accept would run `lab`)."""
    data = edit.load((data_dir("topologies") / "multi-tenant.yaml").read_text())
    data["endpoint_services"][0]["notifications"] = []
    return data


def endpoint_subscribers(raw: dict, subscribers: list, index: int = 0) -> str:
    raw["endpoints"][index]["notifications"] = subscribers
    return edit.dump(raw)


@pytest.mark.parametrize("subscriber, path, words", [
    ({"command": ["x"], "webhook": "http://10.0.1.20/"}, "notifications[0]", "exactly one of"),
    ({}, "notifications[0]", "exactly one of"),
    ({"command": []}, "notifications[0].command", "at least 1"),
    ({"command": ["x"], "from": "a-client"}, "notifications[0].from", "only applies to a webhook"),
    ({"webhook": "http://hooks.example/x", "from": "a-client"}, "notifications[0].webhook", "no host names"),
    ({"webhook": "http://10.0.1.20/x"}, "notifications[0].from", "needs from:"),
    ({"webhook": "http://10.0.1.20/x", "from": "nowhere"}, "notifications[0].from", "no instance or VPC"),
    ({"webhook": "http://192.168.1.20/x", "from": "a-client"}, "notifications[0].webhook", "never leave the lab"),
    ({"command": ["x"], "events": ["Create"]}, "notifications[0].events[0]", "not allowed"),
    ({"command": ["x"], "attempts": 0}, "notifications[0].attempts", "out of range"),
    ({"command": ["x"], "attempts": 6}, "notifications[0].attempts", "out of range"),
])
def test_bad_endpoint_subscribers_name_the_path_and_the_fix(raw, subscriber, path, words):
    with pytest.raises(TopologyError) as err:
        parse_topology(endpoint_subscribers(raw, [subscriber], index=1))
    assert err.value.path == f"endpoints[1].{path}", err.value
    assert words in str(err.value) and err.value.fix


def test_good_endpoint_subscribers_load_with_their_defaults(raw):
    client = raw["vpcs"][1]["instances"][0]["name"]
    topo = parse_topology(endpoint_subscribers(raw, [
        {"command": ["python3", "x.py"]},
        {"webhook": "http://10.0.1.10:9000/events", "from": client, "events": ["Accept"], "attempts": 1},
    ]))
    cmd, hook = topo.endpoints[0].notifications
    assert cmd.events == ["Connect", "Accept", "Reject", "Delete"] and cmd.attempts == 3 and cmd.timeout == 30
    assert hook.events == ["Accept"] and hook.attempts == 1
    assert topo.endpoints[1].notifications == []


# -- delivery ------------------------------------------------------------------------------------

@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVATELINK_LAB_STATE", str(tmp_path / "state"))
    st = LabState(LAB)
    st.create()
    return st


def view_of(state: LabState, raw: dict) -> shapes.LabView:
    topo = parse_topology(edit.dump(raw))
    plan = build_plan(topo, LAB).to_dict()
    state.save_plan(plan)
    return shapes.LabView(LAB, topo, plan, Record(state))


def an_event(view: shapes.LabView, name: str, endpoint: str) -> dict:
    ep = next(e for e in view.topo.endpoints if e.name == endpoint)
    return shapes.event(view, ep, name, "pendingAcceptance", "arn:aws:iam::222222222222:root", timestamp())


def recorder(path) -> list[str]:
    """A command subscriber that appends (event, endpoint, LAB_ACCOUNT, attempt) to a file."""
    code = ("import json, os, sys; e = json.load(sys.stdin); "
            f"open({str(path)!r}, 'a').write(json.dumps([e['ConnectionEvent'], e['Lab']['Endpoint'], "
            "os.environ['LAB_ACCOUNT'], os.environ['LAB_ATTEMPT']]) + '\\n')")
    return [sys.executable, "-c", code]


def flaky(counter) -> list[str]:
    """Fails its first call (exit 1), succeeds after: the count is kept in a file."""
    code = (f"import pathlib, sys; sys.stdin.read(); p = pathlib.Path({str(counter)!r}); "
            "n = int(p.read_text()) + 1 if p.exists() else 1; p.write_text(str(n)); sys.exit(0 if n >= 2 else 1)")
    return [sys.executable, "-c", code]


def seen(path) -> list[list[str]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_an_endpoint_subscriber_hears_its_own_endpoint_only_and_acts_for_its_owner(state, raw, tmp_path):
    provider_log, consumer_log = tmp_path / "provider.jsonl", tmp_path / "consumer.jsonl"
    raw["endpoint_services"][0]["notifications"] = [{"command": recorder(provider_log)}]
    raw["endpoints"][0]["notifications"] = [{"command": recorder(consumer_log), "events": ["Connect", "Accept"]}]
    view = view_of(state, raw)
    a, b = view.topo.endpoints[0].name, view.topo.endpoints[1].name
    events = EventLog(state).append([an_event(view, "Connect", a), an_event(view, "Connect", b),
                                     an_event(view, "Accept", a), an_event(view, "Reject", a)])
    results = notify.deliver(state, view, events, progress=lambda m: None)
    assert all(r["Ok"] and r["Attempt"] == 1 and r["Final"] for r in results)
    owner = events[0]["VpcEndpointOwner"]
    assert seen(consumer_log) == [["Connect", a, owner, "1"], ["Accept", a, owner, "1"]]
    assert [row[0:3] for row in seen(provider_log)] == [["Connect", a, "111111111111"], ["Connect", b, "111111111111"],
                                                        ["Accept", a, "111111111111"], ["Reject", a, "111111111111"]]
    consumer = [r for r in results if r["Side"] == "endpoint"]
    assert [(r["Endpoint"], r["Subscriber"]) for r in consumer] == [(a, 0), (a, 0)]
    assert all(r["Log"].endswith("-endpoint-0.log") for r in consumer)


def test_a_flaky_subscriber_is_delivered_on_retry_and_every_attempt_is_logged(state, raw, tmp_path):
    raw["endpoints"][0]["notifications"] = [{"command": flaky(tmp_path / "count")}]
    view = view_of(state, raw)
    events = EventLog(state).append([an_event(view, "Connect", view.topo.endpoints[0].name)])
    messages: list[str] = []
    (result,) = notify.deliver(state, view, events, progress=messages.append)
    assert result["Ok"] and result["Attempt"] == 2 and result["Final"]
    attempts = DeliveryLog(state).read()
    assert [(d["Attempt"], d["Ok"], d["Final"], d["MaxAttempts"]) for d in attempts] == \
        [(1, False, False, 3), (2, True, True, 3)]
    assert attempts[0]["ExitCode"] == 1 and attempts[0]["RetryIn"] == 0.25
    assert messages == []  # delivered in the end: nothing to report
    assert "--- attempt 2 ---" in Path(result["Log"]).read_text()


def test_a_subscriber_that_always_fails_gets_its_attempts_then_is_reported(state, raw):
    raw["endpoints"][0]["notifications"] = [{"command": [sys.executable, "-c", "import sys; sys.exit(4)"],
                                             "attempts": 2}]
    view = view_of(state, raw)
    events = EventLog(state).append([an_event(view, "Connect", view.topo.endpoints[0].name)])
    messages: list[str] = []
    (result,) = notify.deliver(state, view, events, progress=messages.append)
    assert not result["Ok"] and result["Attempt"] == 2 and result["ExitCode"] == 4
    assert [d["Ok"] for d in DeliveryLog(state).read()] == [False, False]
    assert len(messages) == 1 and "after 2 attempt(s)" in messages[0] and "endpoint" in messages[0]


def test_a_deleted_endpoints_subscribers_still_hear_its_delete(state, raw, tmp_path):
    heard = tmp_path / "heard.jsonl"
    raw["endpoint_services"][0]["notifications"] = [{"command": recorder(tmp_path / "provider.jsonl")}]
    raw["endpoints"][0]["notifications"] = [{"command": recorder(heard)}]
    before = view_of(state, raw)
    name = before.topo.endpoints[0].name
    event = an_event(before, "Delete", name)
    kept = [s.model_dump(by_alias=True) for s in before.topo.endpoints[0].notifications]
    del raw["endpoints"][0]  # the lab after the delete: the topology no longer has the endpoint
    after = view_of(state, raw)
    assert notify.deliver(state, after, EventLog(state).append([event]), progress=lambda m: None)[0]["Side"] == "service"
    assert seen(heard) == []  # without the kept subscribers, nobody on the consumer's side hears it
    after.record.keep_subscribers(name, kept)
    after.record.save()
    results = notify.deliver(state, after, EventLog(state).append([event]), progress=lambda m: None)
    assert [r["Side"] for r in results] == ["service", "endpoint"]
    assert [row[:2] for row in seen(heard)] == [["Delete", name]]
    assert Record(state).kept_subscribers() == {name: kept}


# -- lab events --deliveries -----------------------------------------------------------------------

def test_lab_events_deliveries_lists_every_attempt(state, raw, tmp_path, capsys):
    from lab.cli.main import cli

    raw["endpoints"][0]["notifications"] = [{"command": flaky(tmp_path / "count")}]
    view = view_of(state, raw)
    notify.deliver(state, view, EventLog(state).append([an_event(view, "Connect", view.topo.endpoints[0].name)]),
                   progress=lambda m: None)
    runner = CliRunner()
    out = runner.invoke(cli, ["events", "--name", LAB, "--deliveries", "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)["Deliveries"]
    assert [(r["EventId"], r["Side"], r["Attempt"], r["Ok"]) for r in rows] == \
        [("evt-000001", "endpoint", 1, False), ("evt-000001", "endpoint", 2, True)]
    text = runner.invoke(cli, ["events", "--name", LAB, "--deliveries"])
    assert text.exit_code == 0 and "retry in 0.25 s" in text.output and "1/3" in text.output
    events = runner.invoke(cli, ["events", "--name", LAB, "--format", "json"])
    assert len(json.loads(events.output)["Events"][0]["Deliveries"]) == 2
    table = runner.invoke(cli, ["events", "--name", LAB])
    assert " 1/1" in table.output  # one subscriber, reached (on its second attempt)
    from lab.cli.main import main

    capsys.readouterr()
    assert main(["events", "--name", LAB, "--deliveries", "--follow"]) == 2  # bad input: exit 2, one line
    assert capsys.readouterr().err.strip() == \
        "error: --deliveries: cannot be combined with --follow; fix: drop one of the two"
