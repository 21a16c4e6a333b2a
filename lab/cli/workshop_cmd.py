"""`lab workshop list|start|check|hint|reset|stop`: the self-grading workshop (docs/workshop.md).

Each exercise has its own lab (`ws-NN`) and a folder of the participant's (`--dir`, default
~/privatelink-workshop, or $LAB_WORKSHOP_DIR): the topology copy they may edit, TASK.md and answers.yaml.
`check` exits 0 when every criterion passes, 1 when one fails (2 for bad input, as everywhere).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lab.cli.output import emit_json, format_option, progress, stdout, table
from lab.workshop import session

dir_option = click.option("--dir", "base", type=click.Path(file_okay=False, path_type=Path), default=session.DEFAULT_DIR,
                          show_default=True, help="The participant's folder: one subfolder per exercise.")
number_argument = click.argument("number", metavar="N", type=click.IntRange(1, 99))


@click.group()
def workshop() -> None:
    """The self-grading workshop: exercises over every scenario, each checked by the lab itself."""


@workshop.command("list")
@dir_option
@format_option
def list_(base: Path, fmt: str) -> None:
    """List the exercises, which are started, and each one's last check."""
    rows = session.list_exercises(base)
    if fmt == "json":
        emit_json({"Exercises": rows})
        return
    table("Workshop exercises", ["N", "title", "min", "lab", "started", "last check"],
          [(r["Exercise"], r["Title"], r["Minutes"], r["Lab"], "yes" if r["Started"] else "", r["LastCheck"]) for r in rows])
    stdout.print(f"about {sum(r['Minutes'] for r in rows)} minutes in all; start with `lab workshop start 1`",
                 markup=False)


@workshop.command()
@number_argument
@dir_option
@format_option
def start(number: int, base: Path, fmt: str) -> None:
    """Bring up exercise N's lab and print its task."""
    result = session.start(number, base, progress if fmt == "text" else None)
    if fmt == "json":
        emit_json(result)
        return
    stdout.print(f"\nExercise {result['Exercise']}: {result['Title']} (~{result['Minutes']} min), lab {result['Lab']}",
                 markup=False)
    stdout.print(f"\nThe claim. {result['Claim']}\n\n{result['Task']}\n", markup=False)
    stdout.print(f"Your folder: {result['Folder']} (topology.yaml, TASK.md"
                 + (", answers.yaml" if result["Answers"] else "") + ")", markup=False)
    stdout.print(f"When you think it is done: lab workshop check {number}   Stuck: lab workshop hint {number}",
                 markup=False)


@workshop.command()
@number_argument
@dir_option
@format_option
def check(number: int, base: Path, fmt: str) -> None:
    """Grade exercise N on its live lab: each criterion PASS or FAIL with its reason (exit 0 or 1)."""
    result = session.check(number, base)
    if fmt == "json":
        emit_json(result)
    else:
        for crit in result["Criteria"]:
            stdout.print(f"{'PASS' if crit['Passed'] else 'FAIL'}  {crit['Title']}: {crit['Reason']}", markup=False)
        word = "PASSED" if result["Passed"] else "not yet"
        stdout.print(f"exercise {number}: {word} ({result['Seconds']:.1f} s)", markup=False)
    sys.exit(0 if result["Passed"] else 1)


@workshop.command()
@number_argument
@dir_option
@format_option
def hint(number: int, base: Path, fmt: str) -> None:
    """The next hint for exercise N."""
    result = session.hint(number, base)
    if fmt == "json":
        emit_json(result)
        return
    stdout.print(f"hint {result['Number']}/{result['Of']}: {result['Hint']}", markup=False)


@workshop.command()
@number_argument
@dir_option
@format_option
def reset(number: int, base: Path, fmt: str) -> None:
    """Put exercise N back to its start: its lab again from the original topology, answers.yaml emptied (.bak kept)."""
    result = session.reset(number, base, progress if fmt == "text" else None)
    if fmt == "json":
        emit_json(result)
        return
    stdout.print(f"exercise {number} is back at its start (lab {result['Lab']}); {result['Folder']}", markup=False)


@workshop.command()
@number_argument
@format_option
def stop(number: int, fmt: str) -> None:
    """Take exercise N's lab down when you are done with it (your folder stays)."""
    result = session.stop(number, progress if fmt == "text" else None)
    if fmt == "json":
        emit_json(result)
        return
    stdout.print(f"lab {result['Lab']} " + ("is down" if result["WasUp"] else "was not up"), markup=False)
