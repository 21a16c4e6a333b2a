"""Direct Connect's BGP: one BIRD 2 per end of each private VIF, in that end's namespace.

The customer end runs in the on-premises router's namespace, the Amazon end (the virtual private
gateway) in the VPC router's namespace, whose main table is the VPC's route table: BIRD installs
what it learns there (`proto bird`), so the data centre's prefixes appear in the VPC's table and
the VPC CIDR in the data centre's, and both leave when the session does. Nothing else routes
across the DX link: a session that is down means no path, as on AWS.

Processes are owned like the lab's others (lab.apply.processes): an owner token in the pid-file
path on BIRD's command line, journaled before it starts; `lab down` stops exactly them. Each has
its own control socket (state dir bgp/), which `lab status` reads with birdc.

Where the kernel has 802.1Q, each end's addresses move onto a VLAN sub-interface with the VIF's
VLAN ID (lab.apply.vlan); where it does not, the plain veth carries the session, and bring-up
says so once.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from lab.topology.errors import LabSystemError
from lab.apply import netns, processes, templates, vlan
from lab.apply.context import ApplyContext
from lab.plan.model import Place

ESTABLISH_TIMEOUT_S = 30.0  # BIRD needs ~5 s with hold 9 / keepalive 3; a loaded machine more
BIRDC_TIMEOUT_S = 3.0


class BgpError(LabSystemError, RuntimeError):
    """A BIRD did not start or its session did not come up (the message carries BIRD's own words)."""


def folder(state_dir: Path) -> Path:
    return state_dir / "bgp"


def socket_path(state_dir: Path, dx_index: int, side: str) -> Path:
    # Unix socket paths are limited to 108 bytes: keep the file name short.
    return folder(state_dir) / f"{dx_index}{side[0]}.ctl"


def render(lab: str, dx, speaker, side: str) -> str:
    return templates.render("bird.conf.j2", lab=lab, dx=dx.name, vif_id=dx.vif_id, side=side, s=speaker)


def start(ctx: ApplyContext) -> None:
    """Bring up every DX link's BGP session and wait until each is Established (bounded)."""
    if not ctx.plan.direct_connect:
        return
    why = vlan.missing()
    if why is not None:
        ctx.progress("note: " + vlan.MISSING_NOTE.format(error=why))
    started = []
    for i, dx in enumerate(ctx.plan.direct_connect):
        if why is None:
            for speaker in dx.speakers:
                vlan.add_vlan(ctx.netlink(Place("netns", speaker.netns)), dx.ifname, dx.vlan, (f"{speaker.local_ip}/30",))
        for speaker, side in zip(dx.speakers, ("customer", "amazon"), strict=True):
            started.append(_spawn(ctx, i, dx, speaker, side))
    deadline = time.monotonic() + ESTABLISH_TIMEOUT_S
    for token, sock, log, name in started:
        while True:
            state = session_state(sock)
            if state == "Established":
                break
            if time.monotonic() > deadline or not processes.pids_with_token(token):
                tail = log.read_text()[-1500:] if log.exists() else ""
                raise BgpError(f"BGP session {name} did not reach Established within {ESTABLISH_TIMEOUT_S:.0f} s "
                               f"(last state: {state or 'no answer from BIRD'}); BIRD said:\n{tail}")
            time.sleep(0.2)


def _spawn(ctx: ApplyContext, i: int, dx, speaker, side: str) -> tuple[str, Path, Path, str]:
    where = folder(ctx.state.dir)
    (where / "run").mkdir(parents=True, exist_ok=True)
    conf = where / f"{speaker.name}.conf"
    conf.write_text(render(ctx.plan.lab, dx, speaker, side))
    sock = socket_path(ctx.state.dir, i, side)
    token = processes.new_token(ctx.plan.lab, f"bgp:{speaker.name}")
    ctx.state.journal.record("process", token=token, dx=dx.name, role=f"bgp-{side}")
    log = ctx.state.log_dir() / f"bgp-{speaker.name}.log"
    argv = ["bird", "-f", "-c", str(conf), "-s", str(sock), "-P", str(where / "run" / f"{token}.pid")]
    try:
        processes.spawn(argv, netns.netns_path(speaker.netns), log)
    except FileNotFoundError:
        raise BgpError("BIRD is not installed (Debian package bird2); run setup.sh install") from None
    return token, sock, log, speaker.name


# -- reading (lab status, lab verify, the fault tests) ------------------------------------------------

def birdc(sock: Path, *command: str) -> str | None:
    """birdc's answer over the control socket, or None when BIRD does not answer."""
    try:
        out = subprocess.run(["birdc", "-s", str(sock), *command], capture_output=True, text=True,
                             timeout=BIRDC_TIMEOUT_S)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def session_state(sock: Path) -> str | None:
    """The BGP protocol's state as `show protocols` has it: Established, Active, Connect, Idle..."""
    text = birdc(sock, "show", "protocols", "vif")
    return None if text is None else parse_state(text)


def parse_state(text: str) -> str | None:
    """The `vif` protocol's state from `show protocols` output (Info column: Established, Active...)."""
    for line in text.splitlines():
        fields = line.split()
        if fields[:2] == ["vif", "BGP"]:
            return fields[5] if len(fields) > 5 else fields[3]
    return None


ROUTE_RE = re.compile(r"^(\d+\.\d+\.\d+\.\d+/\d+)\s+\w+\s+\[vif\b")


def learned_routes(sock: Path) -> list[str] | None:
    """Prefixes BIRD learned from its BGP peer (`show route protocol vif`), or None without an answer."""
    text = birdc(sock, "show", "route", "protocol", "vif")
    return None if text is None else parse_routes(text)


def parse_routes(text: str) -> list[str]:
    """Prefixes of `show route protocol vif` output."""
    return [m.group(1) for line in text.splitlines() if (m := ROUTE_RE.match(line))]


def virtual_interfaces(state_dir: Path, plan: dict) -> list[dict]:
    """The lab's private VIFs as DescribeVirtualInterfaces shapes them (PascalCase), BGP read live."""
    out = []
    vifs = {v["VirtualInterfaceName"]: v for v in plan["inventory"].get("virtual_interfaces", [])}
    for i, dx in enumerate(plan.get("direct_connect", [])):
        vif = vifs.get(dx["name"], {})
        sessions = []
        for speaker, side in zip(dx["speakers"], ("customer", "amazon"), strict=True):
            sock = socket_path(state_dir, i, side)
            sessions.append({"Side": side, "Netns": speaker["netns"], "Asn": speaker["local_asn"],
                             "State": session_state(sock) or "NotRunning",
                             "LearnedRoutes": learned_routes(sock) or []})
        up = all(s["State"] == "Established" for s in sessions)
        out.append({**{k: v for k, v in vif.items() if k not in ("OnPremises", "Link")},
                    "VirtualInterfaceState": "available" if up else "down",
                    "BgpPeers": [{"BgpPeerId": f"dxpeer-{dx['vif_id'].removeprefix('dxvif-')}", "Asn": vif.get("Asn"),
                                  "AddressFamily": "ipv4", "AmazonAddress": vif.get("AmazonAddress"),
                                  "CustomerAddress": vif.get("CustomerAddress"), "BgpPeerState": "available",
                                  "BgpStatus": "up" if up else "down"}],
                    "Lab": {"OnPremises": vif.get("OnPremises"), "Link": f"dx/{dx['name']}", "Sessions": sessions}})
    return out
