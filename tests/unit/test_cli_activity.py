"""Progress people expect (issue 16 section 5): a spinner on a live terminal only; CI logs and JSON
mode get exactly what they got before (one line per step, or nothing)."""

from __future__ import annotations

import io

from rich.console import Console

from lab.cli import output


def terminal(monkeypatch) -> io.StringIO:
    buf = io.StringIO()
    monkeypatch.setattr(output, "stderr", Console(file=buf, force_terminal=True, width=100, highlight=False))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    return buf


def pipe(monkeypatch) -> io.StringIO:
    buf = io.StringIO()
    monkeypatch.setattr(output, "stderr", Console(file=buf, force_terminal=False, width=100, highlight=False))
    return buf


def test_on_a_terminal_a_spinner_runs_and_steps_are_printed(monkeypatch):
    buf = terminal(monkeypatch)
    assert output.live_terminal()
    with output.activity("bringing up lab 'x'") as report:
        report("step namespaces")
        report("10 s to go", note=True)
    text = buf.getvalue()
    assert "step namespaces" in text and "bringing up lab 'x'" in text
    assert "\x1b[" in text  # the live line is drawn with terminal control codes
    assert "• 10 s to go" not in text


def test_ci_log_gets_plain_lines_and_no_spinner(monkeypatch):
    buf = terminal(monkeypatch)
    monkeypatch.setenv("CI", "true")  # a terminal, but a CI log all the same
    assert not output.live_terminal()
    with output.activity("taking lab 'x' down") as report:
        report("removed 12 objects")
        report("3 s to go", note=True)
    text = buf.getvalue()
    assert "removed 12 objects" in text
    assert "taking lab 'x' down" not in text and "3 s to go" not in text


def test_piped_stderr_is_not_a_live_terminal(monkeypatch):
    buf = pipe(monkeypatch)
    monkeypatch.delenv("CI", raising=False)
    assert not output.live_terminal()
    with output.activity("building the NLB image") as report:
        report("apt-get install haproxy")
    assert buf.getvalue().strip() == "• apt-get install haproxy"


def test_json_mode_draws_no_spinner_even_on_a_terminal(monkeypatch):
    buf = terminal(monkeypatch)
    with output.activity("verifying lab 'x'", enabled=False) as report:
        report("3 s to go", note=True)
    assert buf.getvalue() == ""
