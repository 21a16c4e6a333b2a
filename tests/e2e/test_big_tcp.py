"""Every veth end of a lab batches IPv4 up to BIG_TCP_BYTES where the kernel can (6.3+), and the
lab says so; read back with a netlink dump decoded by hand here, not through lab's own code."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

import pytest

from lab import api
from lab.apply import offload

pytestmark = pytest.mark.root

# Runs inside one namespace: dump every link, report (name, kind, gso_ipv4_max_size, gro_ipv4_max_size).
DUMP = r"""
import json, socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); s.bind((0, 0))
s.send(struct.pack("IHHII", 32, 18, 0x301, 1, 0) + struct.pack("BxHiII", 0, 0, 0, 0, 0))  # RTM_GETLINK dump
links, done = [], False
while not done:
    data = s.recv(1 << 20); off = 0
    while off < len(data):
        length, kind = struct.unpack_from("IH", data, off)
        if kind == 3: done = True; break  # NLMSG_DONE
        attrs, a = {}, off + 32
        while a + 4 <= off + length:
            alen, atype = struct.unpack_from("HH", data, a)
            attrs[atype & 0x3FFF] = data[a + 4:a + alen]; a += (alen + 3) & ~3
        info, kind_name = attrs.get(18, b""), ""
        if len(info) >= 4 and struct.unpack_from("H", info, 2)[0] == 1:  # IFLA_INFO_KIND
            kind_name = info[4:struct.unpack_from("H", info, 0)[0]].rstrip(b"\0").decode()
        u32 = lambda t: struct.unpack("I", attrs[t][:4])[0] if t in attrs else None
        links.append([attrs[3].rstrip(b"\0").decode(), kind_name, u32(63), u32(64)])
        off += (length + 3) & ~3
print(json.dumps(links))
"""


def _links(ns_path: str) -> list[list]:
    out = subprocess.run(["nsenter", f"--net={ns_path}", sys.executable, "-c", DUMP],
                         capture_output=True, text=True, timeout=20, check=True)
    return json.loads(out.stdout)


def test_every_veth_end_of_the_lab_batches_up_to_big_tcp():
    name = f"bigtcp-{secrets.token_hex(3)}"
    lines: list[str] = []
    result = api.up("basic", name, progress=lines.append)
    try:
        rt = api.runtime()
        places = [f"/run/netns/{ns.name}" for ns in result.plan.namespaces]
        places += [f"/proc/{rt.pid(node.container)}/ns/net" for node in result.plan.nodes]
        veths = [(place, link) for place in places for link in _links(place) if link[1] == "veth"]
        assert len(veths) == 2 * len(result.plan.veths), "every planned pair should show two veth ends"
        refusal = offload.kernel_refusal()
        if refusal is None:
            wrong = [(p, link) for p, link in veths if link[2:] != [offload.BIG_TCP_BYTES] * 2]
            assert not wrong, f"veth ends without BIG TCP: {wrong}"
            assert any(f"BIG TCP: {len(veths)} link end(s)" in line for line in lines), lines
        else:
            assert all(link[2] in (None, offload.LEGACY_BYTES) for _, link in veths)
            assert any("BIG TCP unavailable" in line and "6.3" in line for line in lines), lines
    finally:
        api.down(name)
