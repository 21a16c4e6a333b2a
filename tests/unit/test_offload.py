"""lab.apply.offload without root: kernel version gating, the message we send, the doctor's words."""

from __future__ import annotations

import struct

import pytest
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from lab import doctor
from lab.apply import offload
from lab.doctor import OK, WARN


@pytest.mark.parametrize(("release", "version"), [
    ("6.18.0-1-amd64", (6, 18)), ("6.1.0-28-cloud-amd64", (6, 1)), ("6.3.0", (6, 3)),
    ("5.10.0-30-amd64", (5, 10)), ("6.12rc1", (6, 12)), ("garbage", (0, 0)), ("", (0, 0)),
])
def test_kernel_version_is_read_from_the_release_string(release, version):
    assert offload.kernel_version(release or "x") == version


@pytest.mark.parametrize("release", ["6.1.0-28-amd64", "5.15.0-91-generic", "4.19.0"])
def test_kernels_before_6_3_are_refused_with_the_reason(release):
    why = offload.kernel_refusal(release)
    assert why is not None and "6.3" in why and release.split(".")[0] in why


@pytest.mark.parametrize("release", ["6.3.0", "6.8.0-45-generic", "6.18.0-1-amd64", "7.0.0"])
def test_kernels_from_6_3_on_are_accepted(release):
    assert offload.kernel_refusal(release) is None


def _attrs(data: bytes) -> dict[int, int]:
    """Top-level u32 attributes of one RTM_NEWLINK message, decoded by hand (not by pyroute2)."""
    found, off = {}, 16 + 16  # nlmsghdr + ifinfomsg
    while off + 4 <= len(data):
        length, kind = struct.unpack_from("HH", data, off)
        if length == 8:
            found[kind] = struct.unpack_from("I", data, off + 4)[0]
        off += (length + 3) & ~3
    return found


def test_the_request_carries_the_ipv4_attributes_by_their_kernel_numbers():
    # pyroute2's own ifinfmsg is compiled first, as it is in a real run: the subclass must still
    # compile its own, longer table rather than inherit the parent's.
    plain = ifinfmsg()
    plain["attrs"] = [("IFLA_GSO_MAX_SIZE", 1)]
    plain.encode()
    msg = offload._LinkMsg()
    msg["index"] = 7
    msg["attrs"] = [("IFLA_GSO_MAX_SIZE", 196608), ("IFLA_GSO_IPV4_MAX_SIZE", 196608), ("IFLA_GRO_IPV4_MAX_SIZE", 196608)]
    msg.encode()
    # <linux/if_link.h>: IFLA_GSO_MAX_SIZE = 41, IFLA_GSO_IPV4_MAX_SIZE = 63, IFLA_GRO_IPV4_MAX_SIZE = 64
    assert _attrs(bytes(msg.data)) == {41: 196608, 63: 196608, 64: 196608}


def test_the_batch_fits_a_capture_frame_and_wiresharks_limit():
    from lab.verify.capture import FRAME_BUFFER
    from lab.verify.pcapfile import SNAPLEN

    assert offload.LEGACY_BYTES < offload.BIG_TCP_BYTES
    assert offload.BIG_TCP_BYTES + 14 <= min(FRAME_BUFFER, SNAPLEN)


def test_tuner_summary_says_what_happened():
    tuner = offload.GsoTuner()
    tuner.links = 8
    assert "8 link end(s)" in tuner.summary() and "192 KiB" in tuner.summary()
    tuner.unavailable = "Linux 6.1 has no gso_ipv4_max_size (added in 6.3)"
    assert "unavailable" in tuner.summary() and "6.3" in tuner.summary() and "64 KiB" in tuner.summary()


def test_doctor_reports_big_tcp_as_optional():
    assert doctor.assess_big_tcp(None).status == OK
    check = doctor.assess_big_tcp("Linux 6.1 has no gso_ipv4_max_size (added in 6.3)")
    assert check.status == WARN and not check.blocks
    assert "6.1" in check.detail and "slower" in check.detail and "6.3" in check.fix
