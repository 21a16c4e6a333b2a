"""Hostile topology inputs that cannot be files in tests/golden/errors/: devices, pipes, /proc,
and generated files too big to keep in the repository. Each must end as `lab up`'s one line,
exit 2, nothing created (issue 10, item 2: `lab up -t /dev/zero` hung).

Durations are not asserted here (benchmarks measure speed); a hang shows as a test that never
ends, and tests/e2e/test_bad_input_cli.py runs the worst ones in a subprocess with a timeout.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import threading
from pathlib import Path

import pytest

from lab.topology import bounded

REPO = Path(__file__).resolve().parents[2]
F_GETPIPE_SZ = 1032  # fcntl.F_GETPIPE_SZ, named in Python 3.10+ only on some builds


@pytest.fixture
def run_up(tmp_path, monkeypatch, capsys):
    """`lab up -t PATH` in-process against a private state root; returns (exit code, stderr lines, residue)."""
    state_root = tmp_path / "state"
    monkeypatch.setenv("PRIVATELINK_LAB_STATE", str(state_root))
    import lab.apply.bringup

    def refuse(_plan):  # every case must fail before this; if one passed it would bring up a real lab
        pytest.fail("this input passed validation and would have brought up a real lab")

    monkeypatch.setattr(lab.apply.bringup, "preflight", refuse)

    def run(path: str | Path) -> tuple[int, list[str], list[str]]:
        from lab.cli.main import main

        lab = f"bounds-{secrets.token_hex(2)}"
        capsys.readouterr()
        code = main(["up", "-t", str(path), "--name", lab])
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        left = [str(p) for p in state_root.rglob("*")] if state_root.exists() else []
        if Path("/run/netns").is_dir():
            left += [n for n in os.listdir("/run/netns") if n.startswith(f"pl-{lab}.")]
        return code, lines, left

    return run


def _one_line_error(result: tuple[int, list[str], list[str]], path: str | Path, problem: str) -> None:
    code, lines, left = result
    assert code == 2, f"exit {code}: {lines}"
    assert len(lines) == 1, f"expected one line, got {len(lines)}: {[line[:200] for line in lines[:5]]}"
    assert lines[0].startswith(f"error: {path}") and "; fix: " in lines[0], lines[0]
    assert problem in lines[0], lines[0]
    assert len(lines[0]) < 600, f"a {len(lines[0])}-character line"
    assert left == []


# -- files whose size stat cannot tell ------------------------------------------------------------

def test_dev_zero_is_refused_after_reading_one_byte_past_the_limit(run_up):
    _one_line_error(run_up("/dev/zero"), "/dev/zero", "over the 1 MiB limit")


def test_a_proc_file_is_read_although_stat_says_0_bytes(run_up):
    assert os.stat("/proc/self/status").st_size == 0
    # Its text is read (and is not a topology): the tab after "Name:" is what the parser trips on.
    _one_line_error(run_up("/proc/self/status"), "/proc/self/status", "not valid YAML")


def test_a_fifo_without_a_writer_does_not_block(run_up, tmp_path):
    fifo = tmp_path / "topology.fifo"
    os.mkfifo(fifo)
    _one_line_error(run_up(fifo), fifo, "the file is empty")


def test_a_fifo_whose_writer_never_writes_is_given_up(run_up, tmp_path, monkeypatch):
    monkeypatch.setattr(bounded, "READ_SECONDS", 0.3)
    fifo = tmp_path / "silent.fifo"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # holds a writing end open, writes nothing
    try:
        _one_line_error(run_up(fifo), fifo, "gave no end of file within 0.3 s")
    finally:
        os.close(writer)


def test_an_endless_pipe_is_read_only_to_the_limit(run_up):
    """The reader stops at limit + 1 bytes: the writer then fills the pipe's buffer and blocks,
    until the pipe is closed. (A pipe as `-t /dev/fd/N`, as a shell's `<(command)` gives one.)"""
    r, w = os.pipe()
    pipe_size = fcntl.fcntl(w, F_GETPIPE_SZ)
    written = [0]
    chunk = b"description: " + b"x" * 65536

    def write_forever() -> None:
        try:
            while written[0] < 64 << 20:  # bounded: 64 MiB, far past what the reader may take
                written[0] += os.write(w, chunk)
        except BrokenPipeError:
            pass

    thread = threading.Thread(target=write_forever, daemon=True)
    thread.start()
    try:
        _one_line_error(run_up(f"/dev/fd/{r}"), f"/dev/fd/{r}", "over the 1 MiB limit")
    finally:
        os.close(r)  # the writer's next write fails with EPIPE
        thread.join(10)
        os.close(w)
    assert not thread.is_alive()
    limit = bounded.MAX_FILE_BYTES + 1
    assert limit <= written[0] <= limit + pipe_size + len(chunk), (written[0], pipe_size)


def test_reading_stops_at_the_limit_whatever_stat_said(tmp_path):
    """A file that grew after stat (or lied in it) is read to the limit, never to its end."""
    path = tmp_path / "t.yaml"
    path.write_bytes(b"a" * 5000)
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(bounded.TopologyError, match="gives more than"):
            bounded._read_at_most(fd, str(path), 1001)
        assert os.lseek(fd, 0, os.SEEK_CUR) == 1001  # not one byte more was read
    finally:
        os.close(fd)
    path.write_bytes(b"a" * (bounded.MAX_FILE_BYTES + 10))
    with pytest.raises(bounded.TopologyError, match="file is 1048586 bytes"):
        bounded.read_bounded(path)


# -- generated inputs too big for the corpus ------------------------------------------------------

def _instances_in_slash16(n_vpcs: int = 40) -> str:
    """2,560 valid instances in /16 subnets, then one bad reference: the rules run over all of them."""
    vpcs = []
    for v in range(n_vpcs):
        inst = "".join(f"      - {{name: i{v}x{j}, subnet: s, ip: 10.0.{j}.10}}\n" for j in range(64))
        vpcs.append(f"  - name: v{v}\n    account: a\n    cidr: 10.0.0.0/16\n    subnets:\n"
                    f"      - {{name: s, az: us-east-1a, cidr: 10.0.0.0/16}}\n    instances:\n{inst}")
    return ("azs: [{name: us-east-1a, id: use1-az1}]\naccounts: {a: '111111111111'}\nvpcs:\n" + "".join(vpcs)
            + "endpoints: [{name: e, vpc: nope, service: s, subnets: [s]}]\n")


GENERATED = {
    # name: (text, the problem the one line must name)
    "key-repeated-100000": ("a: 1\n" * 100_000, "line 2: key 'a' appears twice"),
    "distinct-keys-100000": ("".join(f"k{i}: 1\n" for i in range(100_000)), "more than 20,000 values"),
    "flow-list-500000": ("vpcs: [" + "1," * 500_000 + "1]\n", "more than 20,000 values"),
    "documents-100000": ("---\na: 1\n" * 100_000, "a second YAML document starts here"),
    "one-line-1MiB-value": ("description: " + "x" * 1_000_000 + "\n", "azs: required key is missing"),
    "one-line-1MiB-key": ("k" * 1_000_000 + ": 1\n", "mapping values are not allowed here"),
    "hex-number-1MiB": ("region: 0x" + "f" * 1_000_000 + "\n", "a number 1000002 characters long"),
    "base60-number-300000-parts": ("region: 1" + ":1" * 300_000 + "\n", "a number 600001 characters long"),
    "nested-brackets-500000": ("vpcs: " + "[" * 500_000 + "]" * 500_000 + "\n", "nested deeper than 32 levels"),
    "instances-2560-in-slash16": (_instances_in_slash16(), "endpoints[0].vpc: no VPC 'nope'"),
}


@pytest.mark.parametrize("name", list(GENERATED))
def test_generated_hostile_input(name, run_up, tmp_path):
    text, problem = GENERATED[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    assert path.stat().st_size <= bounded.MAX_FILE_BYTES, "each case must get past the size limit"
    code, lines, left = run_up(path)
    assert code == 2 and len(lines) == 1, (code, [line[:200] for line in lines[:5]])
    assert problem in lines[0] and "; fix: " in lines[0], lines[0][:300]
    assert len(lines[0]) < 600 and left == []


def test_a_long_list_of_names_in_a_message_is_cut(run_up, tmp_path):
    """'use one of: ...' naming every VPC of a big file stays a readable line."""
    vpcs = "".join(f"  - {{name: vpc-with-a-long-name-{v}, account: a, cidr: 10.0.0.0/16, "
                   f"subnets: [{{name: s, az: us-east-1a, cidr: 10.0.0.0/24}}]}}\n" for v in range(200))
    path = tmp_path / "many-vpcs.yaml"
    path.write_text("azs: [{name: us-east-1a, id: use1-az1}]\naccounts: {a: '111111111111'}\nvpcs:\n" + vpcs
                    + "endpoints: [{name: e, vpc: nope, service: s, subnets: [s]}]\n")
    code, lines, _ = run_up(path)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("error: endpoints[0].vpc: no VPC 'nope'; fix: use one of: vpc-with-a-long-name-0, ")
    assert lines[0].endswith(", ...") and len(lines[0]) < 600, lines[0]


def test_merge_keys_still_work():
    """`<<: *base` is YAML 1.1's way to share settings; the duplicate-key check once refused it."""
    from lab.topology.load import parse_topology

    text = (REPO / "topologies" / "basic.yaml").read_text()
    text = text.replace("  - name: provider\n", "  - &provider\n    name: provider\n", 1)
    text = text.replace("  - name: consumer\n    account: consumer\n    cidr: 10.0.0.0/16\n",
                        "  - <<: *provider\n    name: consumer\n    account: consumer\n", 1)
    topo = parse_topology(text)
    assert (topo.vpcs[1].name, topo.vpcs[1].cidr, topo.vpcs[1].subnets[0].name) == ("consumer", "10.0.0.0/16",
                                                                                     "consumer-a")
