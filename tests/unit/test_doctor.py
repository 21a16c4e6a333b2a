"""`lab doctor`'s judgement, from what the probes saw (no root, no kernel, no Docker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import doctor
from lab.doctor import FAIL, OK, WARN, Check


def test_exit_code_is_1_only_when_something_blocks():
    assert doctor.exit_code([Check("a", OK, ""), Check("b", WARN, "")]) == 0
    assert doctor.exit_code([Check("a", OK, ""), Check("b", FAIL, "", "fix")]) == 1
    assert doctor.exit_code([]) == 0


def test_root():
    assert doctor.assess_root(0).status == OK
    check = doctor.assess_root(1000)
    assert check.blocks and "sudo" in check.fix


@pytest.mark.parametrize("kind", ["veth", "bridge"])
def test_missing_veth_or_bridge_blocks(kind):
    assert doctor.assess_feature(kind, None).status == OK
    check = doctor.assess_feature(kind, "Operation not supported")
    assert check.blocks and "Operation not supported" in check.detail and kind in check.fix


@pytest.mark.parametrize(("kind", "meaning"), [("vrf", "per-leg routing tables"), ("netem", "delay and loss")])
def test_missing_vrf_or_netem_is_a_warning_that_says_what_it_means(kind, meaning):
    check = doctor.assess_feature(kind, "Operation not supported")
    assert check.status == WARN and not check.blocks
    assert "unavailable" in check.detail and meaning in check.detail


def test_docker_unreachable_blocks_and_says_how_to_start_it():
    assert doctor.assess_docker("20.10", None).status == OK
    check = doctor.assess_docker(None, "connection refused")
    assert check.blocks and "dockerd" in check.fix


def test_missing_image_does_not_block_because_lab_up_builds_it():
    assert doctor.assess_image("t", "3.0.11", True).status == OK
    missing = doctor.assess_image("t", None, True)
    assert missing.status == WARN and "lab image build" in missing.fix
    assert doctor.assess_image("t", None, False).status == WARN


def test_forward_drop_is_reported_as_harmless():
    check = doctor.assess_forward_policy("-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n")
    assert check.status == OK and "DROP" in check.detail and "never crosses the root namespace" in check.detail
    assert "ACCEPT" in doctor.assess_forward_policy("-P FORWARD ACCEPT\n").detail
    assert doctor.assess_forward_policy(None).status == OK
    assert doctor.assess_forward_policy(None, "Permission denied (you must be root)").status == WARN


def test_br_netfilter():
    assert "not loaded" in doctor.assess_br_netfilter(False, None, None).detail
    assert doctor.assess_br_netfilter(True, "0", None).status == OK
    empty = doctor.assess_br_netfilter(True, "1", "ACCEPT")
    assert empty.status == OK and "empty" in empty.detail
    dropping = doctor.assess_br_netfilter(True, "1", "DROP")
    assert dropping.blocks and "bridge-nf-call-iptables=0" in dropping.fix


def test_rp_filter_values_are_reported():
    check = doctor.assess_rp_filter("1", "1", "0")
    assert check.status == OK and "all=1" in check.detail and "new namespace default=0" in check.detail


@pytest.mark.parametrize(("free", "status"), [(10 << 20, FAIL), (100 << 20, WARN), (10 << 30, OK), (None, WARN)])
def test_disk(free, status):
    check = doctor.assess_disk(Path("/var/lib/privatelink-lab"), free)
    assert check.status == status
    if status == FAIL:
        assert "PRIVATELINK_LAB_STATE" in check.fix


MOUNTINFO = """\
22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw
45 22 0:4 net:[4026532300] /run/netns/pl-a.b rw shared:5 - nsfs nsfs rw
40 22 0:25 /netns /run/netns rw,nosuid shared:3 - tmpfs tmpfs rw
"""


def test_netns_mount_state_reads_mountinfo():
    assert doctor.netns_mount_state(MOUNTINFO) == "shared"
    assert doctor.netns_mount_state(MOUNTINFO.replace(" shared:3", "")) == "private"
    assert doctor.netns_mount_state(MOUNTINFO, "/run/other") is None


def test_netns_dir():
    assert doctor.assess_netns_dir(False, False, None).status == OK
    assert doctor.assess_netns_dir(True, False, None).blocks
    assert doctor.assess_netns_dir(True, True, "shared").status == OK
    private = doctor.assess_netns_dir(True, True, "private")
    assert private.status == WARN and "make-shared" in private.fix


def test_every_failing_check_carries_a_fix():
    failing = [doctor.assess_root(1), doctor.assess_feature("veth", "x"), doctor.assess_docker(None, "x"),
               doctor.assess_br_netfilter(True, "1", "DROP"), doctor.assess_disk(Path("/"), 0),
               doctor.assess_netns_dir(True, False, None)]
    assert all(c.blocks and c.fix for c in failing)
