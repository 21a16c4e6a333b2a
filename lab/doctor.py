"""`lab doctor`: is this host able to run a lab, and if not, what to do about it.

Probes (which touch the system) are kept apart from assessments (pure functions of what the
probes saw), so the judgement is unit-tested without root. Kernel features are probed for real,
by creating each kind of link in a throwaway namespace of our own (`pl-doctor-<hex>`, without the
'.' that every lab namespace has, so it can never be a lab's), which is removed afterwards.

A check is `ok`, `warn` (the lab works, with a limitation or a note) or `fail` (it blocks the
lab). `lab doctor` exits 1 when any check fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_FREE_BYTES = 64 << 20  # a lab writes configs and logs only; the image lives in Docker's storage
LOW_FREE_BYTES = 512 << 20
BR_NF_SYSCTL = "net/bridge/bridge-nf-call-iptables"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""

    @property
    def blocks(self) -> bool:
        return self.status == FAIL

    def to_dict(self) -> dict:
        return {**asdict(self), "blocks": self.blocks}


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.blocks for c in checks) else 0


# -- assessments (pure) ----------------------------------------------------------------------

def assess_root(euid: int) -> Check:
    if euid == 0:
        return Check("root", OK, "running as root")
    return Check("root", FAIL, f"running as uid {euid}; namespaces, veths and containers need root", "run it with sudo")


def assess_feature(kind: str, error: str | None) -> Check:
    """A link type or qdisc tried in the throwaway namespace; `error` is None when it worked."""
    if error is None:
        return Check(kind, OK, f"{kind}: available")
    needed = {"veth": "every link of the lab is a veth pair", "bridge": "every subnet is a bridge"}
    optional = {
        "vlan": "Direct Connect private VIFs are plain veth links, without their 802.1Q tag; BGP and routing are "
                "unchanged",
        "vrf": "the lab does not need it: NLB legs in overlapping subnets are kept apart with per-leg routing "
               "tables and SO_BINDTODEVICE",
        "netem": "delay and loss cannot be injected into lab links (tc netem); everything else works",
    }
    if kind in needed:
        return Check(kind, FAIL, f"{kind}: unavailable ({error}); {needed[kind]}",
                     f"use a kernel with {kind} support (CONFIG_{kind.upper()}), or load it: modprobe {kind}")
    module = {"vrf": "vrf", "netem": "sch_netem", "vlan": "8021q"}.get(kind, kind)
    return Check(kind, WARN, f"{kind}: unavailable ({error}); {optional.get(kind, 'optional')}",
                 f"optional: `modprobe {module}` where the kernel has it")


def assess_big_tcp(error: str | None) -> Check:
    """Whether lab links can batch IPv4 beyond 64 KiB (lab.apply.offload), tried on a throwaway veth."""
    from lab.apply.offload import BIG_TCP_BYTES

    if error is None:
        return Check("big-tcp", OK, f"big-tcp: lab links batch up to {BIG_TCP_BYTES // 1024} KiB (BIG TCP for IPv4)")
    return Check("big-tcp", WARN, f"big-tcp: unavailable ({error}); lab links keep 64 KiB batches and traffic "
                 "through an endpoint runs slower (about 25% measured on 2 cores); everything else works",
                 "optional: a kernel >= 6.3 (on Debian 12, the backports kernel)")


def assess_docker(version: str | None, error: str | None) -> Check:
    if error is None:
        return Check("docker", OK, f"Docker engine {version} reachable")
    return Check("docker", FAIL, f"Docker engine not reachable: {error}",
                 "start it: `systemctl start docker`, or `dockerd &` where there is no systemd")


def assess_image(tag: str, haproxy_version: str | None, docker_ok: bool) -> Check:
    if not docker_ok:
        return Check("image", WARN, f"{tag}: not checked (no Docker engine)", "start Docker first")
    if haproxy_version is not None:
        return Check("image", OK, f"{tag} present (HAProxy {haproxy_version})")
    return Check("image", WARN, f"{tag} not built yet; `lab up` builds it (a few seconds, needs the Debian mirror)",
                 "build it now: lab image build")


def assess_nftables(error: str | None) -> Check:
    if error is None:
        return Check("nftables", OK, "nftables: a table can be created in a namespace")
    return Check("nftables", WARN, f"nftables unusable in a namespace ({error}); lab features that filter traffic "
                 "with nftables will not work", "install the nftables package; the kernel needs nf_tables")


def assess_forward_policy(iptables_s: str | None, error: str | None = None) -> Check:
    """`iptables -S FORWARD` of the root namespace (None: iptables missing, or `error` when it failed)."""
    if error is not None:
        return Check("iptables-forward", WARN, f"could not read the FORWARD policy ({error})", "run `sudo lab doctor`")
    if iptables_s is None:
        return Check("iptables-forward", OK, "iptables not installed: no FORWARD policy to worry about")
    policy = next((line.split()[2] for line in iptables_s.splitlines() if line.startswith("-P FORWARD")), "?")
    if policy == "ACCEPT":
        return Check("iptables-forward", OK, "root namespace FORWARD policy ACCEPT")
    return Check("iptables-forward", OK,
                 f"root namespace FORWARD policy {policy} (Docker sets DROP); harmless here: lab traffic never "
                 "crosses the root namespace, every VPC router is a namespace with its own, empty, rules")


def assess_br_netfilter(loaded: bool, in_lab_ns: str | None, ns_forward_policy: str | None) -> Check:
    """br_netfilter hands bridged frames to iptables *of the bridge's namespace* when the sysctl is 1."""
    if not loaded:
        return Check("br_netfilter", OK, "br_netfilter not loaded: lab bridges are never filtered by iptables")
    if in_lab_ns in (None, "0"):
        return Check("br_netfilter", OK, f"br_netfilter loaded; bridge-nf-call-iptables={in_lab_ns or 'absent'} "
                     "in a new namespace: lab bridges are not filtered")
    if ns_forward_policy in (None, "ACCEPT"):
        return Check("br_netfilter", OK,
                     f"br_netfilter loaded and bridge-nf-call-iptables={in_lab_ns} in a new namespace: frames on lab "
                     "bridges pass that namespace's iptables, which are empty (FORWARD ACCEPT), so nothing is "
                     "filtered; rules added inside a lab namespace would apply to bridged traffic")
    return Check("br_netfilter", FAIL,
                 f"bridged frames in a new namespace pass iptables with FORWARD policy {ns_forward_policy}: "
                 "traffic inside a VPC subnet would be dropped",
                 "set net.bridge.bridge-nf-call-iptables=0, or find what sets a DROP policy in new namespaces")


def assess_rp_filter(root_all: str | None, root_default: str | None, new_ns_default: str | None) -> Check:
    detail = (f"rp_filter root all={root_all} default={root_default}, new namespace default={new_ns_default}; "
              "the lab sets 0 on NLB nodes (replies leave by policy-routed legs) and routers have symmetric routes")
    if new_ns_default not in (None, "0", "1", "2"):
        return Check("rp_filter", WARN, detail, "check net.ipv4.conf.*.rp_filter")
    return Check("rp_filter", OK, detail)


def assess_disk(path: Path, free_bytes: int | None) -> Check:
    if free_bytes is None:
        return Check("disk", WARN, f"could not measure free space under {path}")
    mib = free_bytes >> 20
    if free_bytes < MIN_FREE_BYTES:
        return Check("disk", FAIL, f"{mib} MiB free under {path}: too little for lab state and logs",
                     f"free some space on the file system of {path}, or set PRIVATELINK_LAB_STATE elsewhere")
    if free_bytes < LOW_FREE_BYTES:
        return Check("disk", WARN, f"{mib} MiB free under {path}: enough for a lab, tight for logs of a long one",
                     "free some space, or set PRIVATELINK_LAB_STATE elsewhere")
    return Check("disk", OK, f"{mib} MiB free under {path}")


def netns_mount_state(mountinfo: str, netns_dir: str = "/run/netns") -> str | None:
    """The propagation of the /run/netns mount ('shared', 'private', ...), or None when it is no mount."""
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 6 and fields[4] == netns_dir:
            optional = fields[6:fields.index("-")] if "-" in fields else []
            return "shared" if any(f.startswith("shared:") for f in optional) else "private"
    return None


def assess_netns_dir(exists: bool, writable: bool, mount: str | None) -> Check:
    if not exists:
        return Check("netns-dir", OK, "/run/netns does not exist yet; `lab up` creates it as a shared mount")
    if not writable:
        return Check("netns-dir", FAIL, "/run/netns is not writable", "run as root; check that /run is not read-only")
    if mount == "shared":
        return Check("netns-dir", OK, "/run/netns is a shared mount (as iproute2 makes it)")
    if mount is None:
        return Check("netns-dir", OK, "/run/netns is a plain folder; `lab up` makes it a shared mount")
    return Check("netns-dir", WARN, f"/run/netns is a {mount} mount: namespaces made here may not show in other "
                 "mount namespaces (e.g. in containers)", "mount --make-shared /run/netns")


# -- probes (touch the system) ---------------------------------------------------------------

def _run(argv: list[str]) -> tuple[int, str]:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=15)
    except FileNotFoundError:
        return 127, f"{argv[0]} not installed"
    except subprocess.TimeoutExpired:
        return 124, f"{argv[0]} timed out"
    return out.returncode, (out.stdout if out.returncode == 0 else out.stderr).strip()


def _read_sysctl(key: str) -> str | None:
    try:
        return Path("/proc/sys", key).read_text().strip()
    except OSError:
        return None


def _try(action: Callable[[], object]) -> str | None:
    try:
        action()
    except Exception as err:  # noqa: BLE001 - any failure means "unavailable", with its reason
        code = getattr(err, "code", None)  # pyroute2's NetlinkError carries the errno
        return os.strerror(code) if isinstance(code, int) else (str(err) or type(err).__name__)
    return None


def probe_kernel() -> list[Check]:
    """Create a veth (and enlarge its GSO batches), a bridge, a VRF and a netem qdisc in a throwaway
    namespace; then remove it."""
    from pyroute2 import IPRoute

    from lab.apply import netns, offload

    name = f"pl-doctor-{secrets.token_hex(3)}"
    path = netns.netns_path(name)
    netns.create(name)
    try:
        with netns.entered(path):
            ipr = IPRoute()
            # /proc/sys/net resolves to the opener's namespace: read these while inside.
            br_nf = _read_sysctl(BR_NF_SYSCTL)
            rp_default = _read_sysctl("net/ipv4/conf/default/rp_filter")
        with ipr:
            veth = _try(lambda: ipr.link("add", ifname="doc0", kind="veth", peer="doc1"))
            bridge = _try(lambda: ipr.link("add", ifname="docbr", kind="bridge"))
            vrf = _try(lambda: ipr.link("add", ifname="docvrf", kind="vrf", vrf_table=4242))
            dev = ipr.link_lookup(ifname="doc0") if veth is None else []
            netem = _try(lambda: ipr.tc("add", "netem", dev[0], delay=1000)) if dev else "no veth to try it on"
            big_tcp = offload.enlarge(ipr, dev[0], confirm=True) if dev else "no veth to try it on"
        # nft/iptables have no pyroute2 API we can rely on: run the tools inside the namespace.
        nft_rc, nft_out = _run(["nsenter", f"--net={path}", "nft", "add", "table", "inet", "lab_doctor"])
        ipt_rc, ipt_out = _run(["nsenter", f"--net={path}", "iptables", "-S", "FORWARD"])
    finally:
        netns.remove(name)  # the kernel frees the namespace and every link made in it
    ns_policy = next((ln.split()[2] for ln in ipt_out.splitlines() if ln.startswith("-P FORWARD")), None) \
        if ipt_rc == 0 else None
    return [
        assess_feature("veth", veth), assess_feature("bridge", bridge), assess_feature("vrf", vrf),
        assess_feature("netem", netem), assess_big_tcp(big_tcp), assess_nftables(None if nft_rc == 0 else nft_out),
        assess_br_netfilter(Path("/proc/sys", BR_NF_SYSCTL).exists(), br_nf, ns_policy),
        assess_rp_filter(_read_sysctl("net/ipv4/conf/all/rp_filter"), _read_sysctl("net/ipv4/conf/default/rp_filter"),
                         rp_default),
    ]


def probe_docker() -> tuple[Check, Check]:
    from lab.image import NLB_IMAGE_TAG

    try:
        from lab.apply.runtime import get_runtime

        client = get_runtime(check=False).client  # connects (and pings) here
        version = client.version().get("Version", "?")
    except Exception as err:  # noqa: BLE001 - unreachable for any reason
        return assess_docker(None, str(err.__cause__ or err)), assess_image(NLB_IMAGE_TAG, None, False)
    try:
        image = client.images.get(NLB_IMAGE_TAG)
        haproxy = image.labels.get("privatelink-lab.haproxy.version", "unknown version")
    except Exception:  # noqa: BLE001 - docker.errors.ImageNotFound and friends
        haproxy = None
    finally:
        client.close()
    return assess_docker(version, None), assess_image(NLB_IMAGE_TAG, haproxy, True)


def probe_disk() -> Check:
    from lab.state.store import state_root

    path = state_root()
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("/"))
    try:
        return assess_disk(path, shutil.disk_usage(existing).free)
    except OSError:
        return assess_disk(path, None)


def probe_netns_dir() -> Check:
    from lab.apply.netns import NETNS_DIR

    exists = NETNS_DIR.is_dir()
    mountinfo = Path("/proc/self/mountinfo").read_text()
    return assess_netns_dir(exists, exists and os.access(NETNS_DIR, os.W_OK), netns_mount_state(mountinfo, str(NETNS_DIR)))


def run_checks() -> list[Check]:
    root = assess_root(os.geteuid())
    checks = [root, *probe_docker()]
    if root.blocks:
        skipped = "not checked: creating a throwaway namespace needs root"
        checks += [Check(kind, WARN, f"{kind}: {skipped}", "run `sudo lab doctor`")
                   for kind in ("veth", "bridge", "vrf", "netem", "vlan", "big-tcp", "nftables", "br_netfilter", "rp_filter")]
    else:
        checks += probe_kernel()
        from lab.apply.vlan import missing  # its own throwaway namespace, as probe_kernel's

        checks.append(assess_feature("vlan", missing()))
    rc, out = _run(["iptables", "-S", "FORWARD"])
    checks.append(assess_forward_policy(out if rc == 0 else None, None if rc in (0, 127) else out))
    checks += [probe_netns_dir(), probe_disk()]
    return checks
