"""A lab as a Python object for tests: bring it up, make traffic, capture it, verify it.

    with LabHandle.up("basic", "t-demo-ab12") as lab:
        with lab.capture() as cap:
            flow = lab.http("consumer-client", "web-endpoint")
        assert_only_links(flow, ["consumer-subnet/consumer-client", "endpoint-eni/*", "nlb-target/*",
                                 "provider-subnet/*"])

The pytest plugin (`lab.verify.pytest_plugin`) hands these out as fixtures.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from pathlib import Path

from lab.verify.capture import Capture
from lab.verify.ledger import Ledger, Trace
from lab.plan.links import Link, select_links
from lab.verify.traffic import FlowRun, ProbeRun, http, send_probes

NAME_MAX = 16


def unique_name(purpose: str) -> str:
    """`t-<purpose>-<4 hex>`: a lab name no other test run picks (16 characters at most)."""
    slug = "".join(c if c.isalnum() else "-" for c in purpose.lower()).strip("-") or "lab"
    room = NAME_MAX - len("t--") - 4
    slug = slug[:room].strip("-") or "lab"
    if not slug[0].isalpha():
        slug = "x" + slug[: room - 1]
    return f"t-{slug}-{secrets.token_hex(2)}"


class LabCapture:
    """Every link of a lab (or some) captured while the block runs; flows made in it get traces."""

    def __init__(self, lab: LabHandle, links: Iterable[str] | None = None):
        self.lab = lab
        self.links: list[Link] = select_links(lab.links(), list(links or []))
        self.runs: list[FlowRun | ProbeRun] = []
        self.ledger: Ledger | None = None
        self._cap: Capture | None = None

    def __enter__(self) -> LabCapture:
        from lab.verify.discover import far_macs, link_path

        live = self.lab.live()
        self._macs = far_macs(self.links, live)
        self._cap = Capture(self.links, link_path(live), max_seconds=600)
        self._cap.start()
        self.lab._captures.append(self)
        return self

    def __exit__(self, *exc) -> None:
        self.lab._captures.remove(self)
        self._cap.stop(linger=0.3)
        self.ledger = Ledger(self.links, self._cap.frames, self._cap.stats, self._macs)
        for run in self.runs:
            run.trace, run.ledger = self.ledger.trace(run.marks), self.ledger
        self.lab.last_capture = self

    def trace(self, run: FlowRun | ProbeRun) -> Trace:
        if self.ledger is None:
            raise RuntimeError("the capture is still running: leave the `with` block first")
        return self.ledger.trace(run.marks)

    def text(self) -> str:
        return self.ledger.text() if self.ledger else "(capture still running)"

    def write_pcaps(self, directory: str | Path) -> dict[str, tuple[Path, int]]:
        from lab.verify.pcapfile import write_per_link

        return write_per_link(Path(directory), self._cap.frames, {ln.name: ln.file_stem for ln in self.links})


class LabHandle:
    """A running lab: its plan, and helpers that act from inside its instances."""

    def __init__(self, name: str, topology: str | None = None, owned: bool = False):
        from lab.state.store import LabState

        self.name, self.topology, self.owned = name, topology, owned
        self.plan: dict = LabState(name).load_plan()
        self._captures: list[LabCapture] = []
        self._links: list[Link] | None = None
        self.last_capture: LabCapture | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    @classmethod
    def up(cls, topology: str | Path = "basic", name: str | None = None) -> LabHandle:
        from lab import api

        name = name or unique_name(Path(str(topology)).stem)
        try:
            api.up(topology, name)
        except BaseException:
            api.down(name)  # a failed bring-up rolls itself back; this only makes sure
            raise
        return cls(name, str(topology), owned=True)

    def down(self) -> None:
        from lab import api

        api.down(self.name)

    def __enter__(self) -> LabHandle:
        return self

    def __exit__(self, *exc) -> None:
        if self.owned:
            self.down()

    # -- what the lab has ---------------------------------------------------------------------
    def links(self) -> list[Link]:
        if self._links is None:
            from lab.verify.engine import lab_links

            self._links = lab_links(self.plan, self.live())
        return self._links

    def live(self):
        """Where the lab's namespaces are (lab.apply.live)."""
        from lab.apply.live import LiveLab
        from lab.state.store import LabState

        return LiveLab(LabState(self.name), self.plan)

    def instance(self, name: str) -> dict:
        for inst in self.plan["inventory"].get("instances", []):
            if inst["Name"] == name:
                return inst
        raise KeyError(f"no instance {name!r} in lab {self.name!r}")

    def endpoint(self, name: str | None = None) -> dict:
        """An endpoint by name or ID (default: the first), as DescribeVpcEndpoints shows it (VpcEndpointId,
        State, NetworkInterfaceIds, DnsEntries, ...; lab-only facts, its ENIs' addresses among them, under
        `Lab`) -- the shape of `lab endpoint list` and `lab status --format json`."""
        from lab.privatelink import shapes
        from lab.privatelink.control import read_view

        view = read_view(self.name)  # the lab as it is now: the control plane may have changed it
        for ep in view.topo.endpoints:
            planned = view.endpoint_plan(ep.name) or {}
            if name is None or name in (ep.name, planned.get("id")):
                return shapes.endpoint(view, ep)
        known = ", ".join(f"{e['name']} ({e['id']})" for e in view.plan.get("endpoints", [])) or "none"
        raise KeyError(f"no endpoint {name!r} in lab {self.name!r}; it has: {known}")

    def _planned_endpoint(self, name: str | None) -> dict:
        endpoints = self.plan["endpoints"]
        for ep in endpoints:
            if name is None or ep["name"] == name or ep["id"] == name:
                return ep
        known = ", ".join(f"{ep['name']} ({ep['id']})" for ep in endpoints) or "none"
        raise KeyError(f"no endpoint {name!r} in lab {self.name!r}; it has: {known}")

    def address_of(self, what: str) -> str:
        """An instance's address, or an address as it is."""
        try:
            return self.instance(what)["PrivateIpAddress"]
        except KeyError:
            return what

    # -- traffic ------------------------------------------------------------------------------
    def http(self, client: str, endpoint: str | None = None, *, az: str | None = None, port: int | None = None,
             ip: str | None = None, dns_name: str | None = None, timeout: float = 3.0) -> FlowRun:
        """An HTTP request from inside `client`, made in one of three ways:
        - to an endpoint's ENI: `endpoint` (name or ID; default the first), in `az` (default: the
          client's AZ, else the endpoint's first ENI; an AZ where the endpoint has no ENI is an error);
        - to `dns_name`, resolved from inside the client by its VPC's own resolver (as `lab exec`
          resolves), sent to the answer's first address (which must be an address of the client's VPC);
        - to `ip`.
        `port` defaults to the listener on that ENI (else 80). Its packets are followed in every
        capture open at the time."""
        inst = self.instance(client)
        host = None
        if dns_name is not None:
            if ip is not None or endpoint is not None or az is not None:
                raise ValueError("http(): dns_name picks the address; give no endpoint, az or ip with it")
            ip, host = self._resolve(inst, dns_name), dns_name
        elif ip is None:
            ip = self._eni_of(self._planned_endpoint(endpoint), inst, az)["ip"]
        if port is None:
            port = next((fe["port"] for n in self.plan["nodes"] for fe in n["frontends"] if fe["ip"] == ip), 80)
        run = http(f"/run/netns/{inst['Netns']}", inst["PrivateIpAddress"], ip, port, timeout=timeout, host=host)
        for cap in self._captures:
            cap.runs.append(run)
        return run

    @staticmethod
    def _eni_of(ep: dict, inst: dict, az: str | None) -> dict:
        if az is not None:
            eni = next((e for e in ep["enis"] if e["az"] == az), None)
            if eni is None:
                raise ValueError(f"endpoint {ep['name']!r} ({ep['id']}) has no ENI in AZ {az!r}; its AZs: "
                                 + (", ".join(e["az"] for e in ep["enis"]) or "none"))
            return eni
        # No AZ asked for: the client's own, as a zonal-aware client would; the first ENI otherwise.
        return next((e for e in ep["enis"] if e["az"] == inst["AvailabilityZone"]), ep["enis"][0])

    def _resolve(self, inst: dict, qname: str) -> str:
        """`qname`'s first A answer from the client's VPC resolver; only an address of the client's VPC
        (an ENI of one of its endpoints, or one of its instances) is accepted, so traffic stays in the lab."""
        from lab.verify.names import resolve

        answer = resolve(self.plan, inst, qname)
        vpc = next(v["Name"] for v in self.plan["inventory"]["vpcs"] if v["VpcId"] == inst["VpcId"])
        ours = {e["ip"] for ep in self.plan["endpoints"] if ep["vpc"] == vpc for e in ep["enis"]}
        ours |= {i["PrivateIpAddress"] for i in self.plan["inventory"].get("instances", [])
                 if i["VpcId"] == inst["VpcId"]}
        if answer not in ours:
            raise LookupError(f"{qname} resolved from {inst['Name']} to {answer}, which is no address of VPC {vpc} "
                              "(an ENI of its endpoints or one of its instances): no request sent")
        return answer

    def probe(self, client: str, dst: str, port: int | None = None) -> ProbeRun:
        """One TCP SYN (with `port`) or ICMP echo (without) from inside `client` towards `dst`
        (an instance name or an address). Judge it by its trace, not by its answer."""
        from lab.verify.flows import ProbeSpec

        inst = self.instance(client)
        spec = ProbeSpec(client, inst["PrivateIpAddress"], inst["Netns"], self.address_of(dst), dst,
                         "tcp" if port else "icmp", port, frozenset())
        run = send_probes([spec])[0]
        for cap in self._captures:
            cap.runs.append(run)
        return run

    def capture(self, links: Iterable[str] | None = None) -> LabCapture:
        return LabCapture(self, links)

    def verify(self, **options):
        """`lab verify` on this lab; returns the Report (report.ok, report.text())."""
        from lab.verify.engine import Options, verify

        return verify(self.name, Options(**options))

    def __repr__(self) -> str:
        return f"LabHandle({self.name!r}, topology={self.topology!r})"
