"""Every error the project defines is either bad input (LabInputError: one line, exit 2) or a failure
of the system (LabSystemError: one line, exit 1), and `lab` turns both into one line: so a new error
class cannot be forgotten by the CLI again (issue 10, item 3: CaptureError printed a traceback)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import signal

import click
import pytest

import lab
from lab.cli.main import cli, main
from lab.interrupts import sigint_guard
from lab.awsapi.errors import Ec2Error
from lab.iam.policy import PolicyError
from lab.ppv2.errors import ProxyProtocolError
from lab.topology.errors import LabInputError, LabSystemError

# Errors of the pure PPv2 library, which must not depend on the lab: its decoder raises them to its
# caller, which turns them into a check result (lab.verify, the demo target) or into bad input
# (`lab ppv2 decode`). They never reach `lab` as they are.
# The same holds for the pure IAM library (policy grammar errors become topology errors in
# lab.topology.rules), and for the EC2 API server's own error, which it always answers as EC2's
# XML error document: neither reaches `lab` as it is.
LIBRARY_ERRORS = (ProxyProtocolError, PolicyError, Ec2Error)


def _project_error_classes() -> list[type[BaseException]]:
    found = {}
    for info in pkgutil.walk_packages(lab.__path__, "lab."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[name] for name in sorted(found)]


def test_the_walk_finds_the_error_classes_it_must_judge():
    names = {cls.__name__ for cls in _project_error_classes()}
    assert {"CaptureError", "BringUpError", "ContainerRuntimeError", "ImageBuildError", "TopologyError",
            "ProxyProtocolError"} <= names


def test_every_project_error_is_input_or_system_error():
    orphans = [f"{cls.__module__}.{cls.__qualname__}" for cls in _project_error_classes()
               if not issubclass(cls, (LabInputError, LabSystemError, *LIBRARY_ERRORS))]
    assert not orphans, (f"{orphans}: derive each from LabSystemError (the system failed; exit 1) or "
                         "LabInputError (bad input; exit 2), both in lab/topology/errors.py, so `lab` "
                         "prints one line instead of a traceback")


def test_no_error_is_both_input_and_system_error():
    both = [cls.__qualname__ for cls in _project_error_classes() if issubclass(cls, LabInputError)
            and issubclass(cls, LabSystemError)]
    assert not both


def test_library_errors_stay_out_of_the_lab_hierarchies():
    for cls in LIBRARY_ERRORS:
        assert not issubclass(cls, (LabInputError, LabSystemError)), cls


def test_system_errors_that_were_runtime_errors_still_are():
    """lab.apply catches RuntimeError around some of them to roll back (reconcile's ENI legs)."""
    from lab.apply.dns import DnsError
    from lab.apply.firewall import FirewallError
    from lab.apply.nodes import NodeError
    from lab.apply.reconcile import ReconcileError

    for cls in (NodeError, DnsError, FirewallError, ReconcileError):
        assert issubclass(cls, RuntimeError), cls


@pytest.fixture
def command():
    """Register a throwaway command on the real `lab` group for one test."""
    added = []

    def register(func):
        cmd = click.command(name=f"t-{func.__name__}")(func)
        cli.add_command(cmd)
        added.append(cmd.name)
        return cmd.name

    yield register
    for name in added:
        cli.commands.pop(name, None)


def test_a_capture_error_is_one_line_with_its_fix_and_exit_1(command, capsys):
    from lab.verify.capture import CaptureError

    def capture_fails():
        raise CaptureError("cannot capture on eth0 in netns x (link l): [Errno 19] No such device",
                           fix="run `lab status` to see what is left")

    assert main([command(capture_fails)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == ["error: cannot capture on eth0 in netns x (link l): [Errno 19] No such device; "
                                "fix: run `lab status` to see what is left"]


@pytest.mark.parametrize("error", ["lab.apply.runtime.base.NodeStartError", "lab.image.errors.AptError",
                                   "lab.privatelink.control.ControlPlaneError", "lab.apply.dns.DnsError"])
def test_every_system_error_is_one_line_and_exit_1(error, command, capsys):
    module, name = error.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)

    def fails():
        raise cls("it broke")

    assert main([command(fails)]) == 1
    assert capsys.readouterr().err.splitlines() == ["error: it broke"]


def test_bad_input_is_still_exit_2(command, capsys):
    def bad():
        raise LabInputError("--name", "no such lab", "pick one that is up")

    assert main([command(bad)]) == 2
    assert capsys.readouterr().err.splitlines() == ["error: --name: no such lab; fix: pick one that is up"]


def test_an_interrupted_bring_up_says_so_and_exits_130(command, capsys):
    from lab.apply.bringup import BringUpInterrupted

    def interrupted():
        raise BringUpInterrupted("interrupted at step 'nodes'; rolled back: nothing of lab 'x' is left")

    assert main([command(interrupted)]) == 130
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert lines == ["interrupted at step 'nodes'; rolled back: nothing of lab 'x' is left"]


def test_a_plain_ctrl_c_is_interrupted_exit_130_not_aborted(command, capsys):
    def ctrl_c():
        raise KeyboardInterrupt

    assert main([command(ctrl_c)]) == 130
    assert [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()] == ["interrupted"]


# -- the SIGINT guard ------------------------------------------------------------------------------

def test_guard_raises_like_python_by_default_and_restores_the_handler():
    before = signal.getsignal(signal.SIGINT)
    with sigint_guard() as guard:
        assert guard.mode == "raise"
        for _ in range(2):
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_guard_once_raises_the_first_and_counts_the_rest():
    with sigint_guard() as guard:
        guard.arm_once()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)  # during the rollback: counted, not raised
        signal.raise_signal(signal.SIGINT)
        assert (guard.mode, guard.pending) == ("count", 2)


def test_guard_arm_once_raises_what_came_while_counting():
    with sigint_guard() as guard:
        guard.disarm()
        signal.raise_signal(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            guard.arm_once()
        assert guard.pending == 0


def test_nested_guards_share_one_and_the_inner_does_not_restore():
    with sigint_guard() as outer:
        handler = signal.getsignal(signal.SIGINT)
        with sigint_guard() as inner:
            assert inner is outer
            inner.disarm()
        assert signal.getsignal(signal.SIGINT) == handler
        signal.raise_signal(signal.SIGINT)
        assert outer.pending == 1
