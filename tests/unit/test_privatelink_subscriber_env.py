"""Where a command subscriber runs: `python3` on its PATH is the lab's own interpreter (the one with
the `lab` package, e.g. the venv's, whatever the caller's PATH says), and its working directory is
the checkout's root, or, installed from a wheel, where `lab` was run. This is what lets the built-in
multi-tenant topology run `python3 -m lab.apps.auto_accept` from an installed wheel."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lab.plan.build import build_plan
from lab.privatelink import edit, notify, shapes
from lab.privatelink.records import EventLog, Record, timestamp
from lab.resources import data_dir
from lab.state.store import LabState
from lab.topology.load import parse_topology

LAB = "t-subenv"


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVATELINK_LAB_STATE", str(tmp_path / "state"))
    st = LabState(LAB)
    st.create()
    return st


def deliver_one(state: LabState, command: list[str]) -> dict:
    raw = edit.load((data_dir("topologies") / "multi-tenant.yaml").read_text())
    raw["endpoint_services"][0]["notifications"] = [{"command": command, "events": ["Connect"], "attempts": 1}]
    topo = parse_topology(edit.dump(raw))
    view = shapes.LabView(LAB, topo, build_plan(topo, LAB).to_dict(), Record(state))
    ep = topo.endpoints[0]
    event = shapes.event(view, ep, "Connect", "pendingAcceptance", "arn:aws:iam::222222222222:root", timestamp())
    (result,) = notify.deliver(state, view, EventLog(state).append([event]), progress=lambda m: None)
    return result


def test_python3_in_a_command_is_the_labs_own_interpreter(state, tmp_path, monkeypatch):
    # A PATH whose python3 is some other interpreter (as `sudo`'s secure_path gives /usr/bin first).
    decoy = tmp_path / "decoy-bin"
    decoy.mkdir()
    (decoy / "python3").write_text("#!/bin/sh\necho decoy >&2\nexit 97\n")
    (decoy / "python3").chmod(0o755)
    monkeypatch.setenv("PATH", f"{decoy}:/usr/bin:/bin")
    out = tmp_path / "seen.json"
    code = (f"import json, sys, lab.apps.auto_accept; open({str(out)!r}, 'w').write(json.dumps("
            "[sys.prefix, lab.apps.auto_accept.__file__])); sys.stdin.read()")
    result = deliver_one(state, ["python3", "-c", code])
    assert result["Ok"], (result, open(result["Log"]).read())
    prefix, module = json.loads(out.read_text())
    assert prefix == sys.prefix
    assert Path(module).resolve() == Path(notify.__file__).resolve().parents[1] / "apps" / "auto_accept.py"


def test_the_caller_path_follows_the_interpreters_directory(monkeypatch):
    monkeypatch.setenv("PATH", "/somewhere:/else")
    assert notify.subscriber_path().split(":") == [str(Path(sys.executable).parent), "/somewhere", "/else"]


def test_installed_without_a_checkout_it_runs_where_lab_was_run(tmp_path, monkeypatch):
    assert notify.subscriber_cwd() == notify.PROJECT_ROOT  # a checkout: its root
    site = tmp_path / "site-packages"  # a wheel: PROJECT_ROOT is site-packages, no pyproject.toml there
    site.mkdir()
    monkeypatch.setattr(notify, "PROJECT_ROOT", site)
    monkeypatch.chdir(tmp_path)
    assert notify.subscriber_cwd() == tmp_path
