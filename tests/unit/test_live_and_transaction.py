"""The one live-lab locator (lab.apply.live) and the transaction that owns its state
(lab.privatelink.control.transaction, lab.state.store.LabState.save), on a temporary state folder.

The stale-PID rule is checked against real processes: a process that is HAProxy by its command line
(`exec -a haproxy`) and carries a node's hostname passes, anything else fails, whatever its PID.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from lab.apply.live import LIVE_FILE, LiveLab, NodeNotRunning, is_node_process
from lab.plan.build import build_plan
from lab.privatelink import control, edit
from lab.resources import data_dir
from lab.state.store import LabState
from lab.topology.load import parse_topology

LAB = "t-live"
NODE = f"pl-{LAB}.web-nlb.us-east-1a"


@pytest.fixture
def state(tmp_path, monkeypatch):
    """A lab as `lab up` saves it (stored topology + plan), without a kernel."""
    monkeypatch.setenv("PRIVATELINK_LAB_STATE", str(tmp_path))
    st = LabState(LAB)
    st.create()
    text = (data_dir("topologies") / "basic.yaml").read_text()
    st.save(build_plan(parse_topology(text, "basic.yaml"), LAB).to_dict(), text)
    return st


@pytest.fixture
def fake_node():
    """A real process that looks like NODE's HAProxy master: its command is haproxy, its HOSTNAME the node's."""
    proc = subprocess.Popen(["bash", "-c", "exec -a haproxy sleep 30"], env={**os.environ, "HOSTNAME": NODE})
    deadline = time.monotonic() + 5
    while not open(f"/proc/{proc.pid}/cmdline", "rb").read().startswith(b"haproxy\0"):
        assert time.monotonic() < deadline, "the stand-in process did not exec"
        time.sleep(0.01)
    yield proc.pid
    proc.kill()
    proc.wait()


class Engine:
    """A container engine that knows one node (what LiveLab asks when a recorded PID fails the rule)."""

    def __init__(self, pids: dict[str, int]):
        self.pids, self.asked = pids, []

    def pid(self, name: str) -> int | None:
        self.asked.append(name)
        return self.pids.get(name)


def test_the_rule_takes_only_the_node_itself(fake_node):
    assert is_node_process(fake_node, NODE)
    assert not is_node_process(fake_node, f"pl-{LAB}.web-nlb.us-east-1b")  # another node's hostname
    assert not is_node_process(os.getpid(), NODE)  # a PID that is not HAProxy (a recycled one, say)
    assert not is_node_process(2 ** 22 + 1, NODE)  # no such process


def test_a_recorded_pid_that_passes_needs_no_engine(state, fake_node):
    (state.dir / LIVE_FILE).write_text(json.dumps({"node_pids": {NODE: fake_node}}))
    engine = Engine({})
    live = LiveLab(state, runtime=engine)
    assert str(live.ns_path("container", NODE)) == f"/proc/{fake_node}/ns/net"
    assert engine.asked == []


def test_a_stale_pid_is_not_trusted_and_the_engine_is_asked(state, fake_node):
    (state.dir / LIVE_FILE).write_text(json.dumps({"node_pids": {NODE: os.getpid()}}))  # alive, but not HAProxy
    engine = Engine({NODE: fake_node})
    live = LiveLab(state, runtime=engine)
    assert live.node_pid(NODE) == fake_node
    assert engine.asked == [NODE]
    live.save()
    assert json.loads((state.dir / LIVE_FILE).read_text())["node_pids"][NODE] == fake_node


def test_a_node_nobody_runs_is_reported(state):
    live = LiveLab(state, runtime=Engine({}))
    assert live.node_pid(NODE) is None and live.node_ns_path(NODE) is None
    with pytest.raises(NodeNotRunning, match="is not running"):
        live.ns_path("container", NODE)
    assert str(live.ns_path("netns", f"pl-{LAB}.consumer")) == f"/run/netns/pl-{LAB}.consumer"


def test_an_older_plan_with_pids_inside_is_still_read(state, fake_node):
    state.save_plan({**state.load_plan(), "container_pids": {NODE: fake_node}})  # as lab up wrote it before
    assert not (state.dir / LIVE_FILE).exists()
    assert LiveLab(state, runtime=Engine({})).known_pids() == {NODE: fake_node}


def test_pids_live_beside_the_plan_not_in_it(state, fake_node):
    live = LiveLab(state, runtime=Engine({}))
    live.started(NODE, fake_node)
    live.save()
    assert "container_pids" not in state.load_plan()
    assert LiveLab(state, runtime=Engine({})).known_pids() == {NODE: fake_node}


def test_exec_finds_an_instance_or_a_vpc_router(state):
    live = LiveLab(state)
    assert live.namespace_of("consumer-client") == f"pl-{LAB}.consumer.consumer-client"
    assert live.namespace_of("consumer") == f"pl-{LAB}.consumer"
    with pytest.raises(Exception, match="no instance or VPC named 'nope'"):
        live.namespace_of("nope")


# -- the transaction ---------------------------------------------------------------------------------

def test_a_transaction_reads_the_stored_topology_once(state, monkeypatch):
    calls = []
    real = edit.load
    monkeypatch.setattr(edit, "load", lambda text: calls.append(1) or real(text))
    with control.transaction(LAB) as txn:
        assert txn.state.lab == LAB and txn.view.topo.endpoints
    assert len(calls) == 1


def test_topology_and_plan_are_saved_together_or_not_at_all(state):
    before = (state.topology_file.read_text(), state.plan_file.read_text())
    state.plan_file.with_suffix(".tmp").mkdir()  # the plan cannot be written
    with pytest.raises(OSError):
        state.save({"lab": LAB}, "# a new topology\n")
    assert (state.topology_file.read_text(), state.plan_file.read_text()) == before
    state.plan_file.with_suffix(".tmp").rmdir()
    state.save({"lab": LAB}, "# a new topology\n")
    assert state.topology_file.read_text() == "# a new topology\n" and state.load_plan() == {"lab": LAB}
    assert not list(state.dir.glob("*.tmp"))


def test_a_transaction_saves_through_the_lab_state(state, monkeypatch):
    saved = []
    monkeypatch.setattr(LabState, "save", lambda self, plan, text=None: saved.append((plan["lab"], text)))
    with control.transaction(LAB) as txn:
        raw = edit.set_service_key(txn.raw, "web-service", "acceptance_required", True)
        topo, plan = txn.validate(raw, "test")
        txn.save(raw, topo, plan)
    assert saved == [(LAB, edit.dump(raw))]
    assert txn.view.topo.endpoint_services[0].acceptance_required is True
