"""The lab's front door: every use case as a Python call. The CLI, the EC2 API server and the live
view call only this module (plus pure libraries such as `lab.ppv2` and the topology's error types).
It sits above every other part of the lab and composes them; nothing below imports it
(tests/unit/test_layers.py checks). Each call imports what it needs when it runs: `lab down` and
`lab status` must not pay for the bring-up machinery. Bad input raises LabInputError (nothing
changed); every failure of the system derives from LabSystemError (both lab.topology.errors).
In order: the lifecycle, verification and capture, the control plane (endpoints, services, events,
notifications), DNS and security groups, the host and tools; then each feature's use cases,
re-exported from its own module under lab.usecases (a new feature adds a module and one line here).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from lab.usecases.lifecycle import UpResult  # noqa: F401 - what up() returns
from lab.usecases.metrics import METRICS_MAX_RECORD_S  # constants and types: those modules import lazily
from lab.topology.events import CONNECTION_EVENTS  # pure: for the command line's choices

Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


# -- lifecycle ------------------------------------------------------------------------------------

def runtime():
    """The container engine, checked (lab.apply.runtime's one factory)."""
    from lab.apply.runtime import get_runtime
    return get_runtime()


def up(topology: str | Path | None = None, name: str = "default", progress: Progress = _quiet) -> UpResult:
    """Validate, plan, preflight, make sure the NLB image exists, bring the lab up, and let the
    control plane announce its endpoints (their subscribers are notified; they may act at once).

    Raises LabInputError (bad input; nothing created), BringUpError (rolled back; on Ctrl-C
    BringUpInterrupted, also a KeyboardInterrupt), or the runtime's and image builder's errors.
    A Ctrl-C after the lab is up leaves it up and is counted in `UpResult.interrupted`.
    """
    from lab.usecases.lifecycle import up as bring_up
    return bring_up(topology, name, progress)


def down(name: str = "default", progress: Progress = _quiet):
    """Remove exactly what the lab created; a lab that is not up is not an error. -> DownReport"""
    from lab.apply.teardown import down as remove
    return remove(name, progress)


def load_plan(name: str = "default") -> dict:
    from lab.state.store import LabState
    return LabState(name).load_plan()


def list_labs() -> list[str]:
    from lab.state.store import list_labs as labs
    return labs()


def status(name: str = "default") -> dict:
    """The lab's objects in AWS's shapes, checked against what is live right now (namespaces, NLB
    nodes, target health): lab.privatelink.status describes the document."""
    from lab.privatelink.status import collect

    doc = collect(name)
    if load_plan(name).get("direct_connect"):  # Direct Connect: BGP read live from each BIRD (lab.apply.bgp)
        doc["virtual_interfaces"] = virtual_interfaces(name)
    return doc


def enter(name: str, node: str) -> None:
    """Move this process into an instance's (or a VPC router's) namespace, with the VPC's resolver
    where the lab provides one, as `ip netns exec` does: `lab exec` then execs the command."""
    from lab.apply.live import enter
    enter(name, node)


# -- verification ---------------------------------------------------------------------------------

def verify(name: str = "default", *, wait_health_checks: bool = True, probes: bool = True,
           progress: Progress = _quiet):
    """`lab verify`: capture every link while making traffic, judge the invariants. -> Report"""
    from lab.verify.engine import Options
    from lab.verify.engine import verify as run
    return run(name, Options(wait_health_checks=wait_health_checks, probes=probes), progress)


def write_pcaps(report, directory: Path) -> dict[str, tuple[Path, int]]:
    """A verify run's capture, one pcap per link: {link: (path, frames)}."""
    from lab.verify.engine import write_pcaps as write
    return write(report, directory)


def capture_links(name: str, patterns: list[str] | None = None) -> list:
    """The lab's links matching names, kinds, owners or patterns (all for none). -> list[Link]"""
    from lab.verify.engine import capture_links as select
    return select(name, list(patterns or []))


def capture(name: str, patterns: list[str], seconds: float, out_dir: Path, progress: Progress = _quiet) -> dict:
    """`lab capture`: one pcap per chosen link in `out_dir`, for `seconds` (Ctrl-C stops early)."""
    from lab.verify.engine import capture as run
    return run(name, patterns, seconds, out_dir, progress)


# -- control plane: endpoints and services --------------------------------------------------------

def create_endpoint(lab: str, account: str, vpc: str, service: str, subnets: list[str] | None = None,
                    name: str | None = None, private_dns: bool = False, progress: Progress = _quiet,
                    security_groups: list[str] | None = None):
    """CreateVpcEndpoint (type Interface). -> Change"""
    from lab.privatelink import control
    return control.create_endpoint(lab, account, vpc, service, subnets, name, private_dns, progress, security_groups)


def accept_connections(lab: str, account: str, refs: list[str], progress: Progress = _quiet):
    """AcceptVpcEndpointConnections. -> Change"""
    from lab.privatelink import control
    return control.accept_connections(lab, account, refs, progress)


def reject_connections(lab: str, account: str, refs: list[str], progress: Progress = _quiet):
    """RejectVpcEndpointConnections. -> Change"""
    from lab.privatelink import control
    return control.reject_connections(lab, account, refs, progress)


def delete_endpoints(lab: str, account: str, refs: list[str], progress: Progress = _quiet):
    """DeleteVpcEndpoints. -> Change"""
    from lab.privatelink import control
    return control.delete_endpoints(lab, account, refs, progress)


def allow_principals(lab: str, account: str, service: str, principals: list[str], progress: Progress = _quiet):
    """ModifyVpcEndpointServicePermissions --add-allowed-principals. -> Change"""
    from lab.privatelink import control
    return control.allow_principals(lab, account, service, principals, progress)


def revoke_principals(lab: str, account: str, service: str, principals: list[str], progress: Progress = _quiet):
    """ModifyVpcEndpointServicePermissions --remove-allowed-principals. -> Change"""
    from lab.privatelink import control
    return control.revoke_principals(lab, account, service, principals, progress)


def set_acceptance(lab: str, account: str, service: str, required: bool, progress: Progress = _quiet):
    """ModifyVpcEndpointServiceConfiguration --[no-]acceptance-required. -> Change"""
    from lab.privatelink import control
    return control.set_acceptance(lab, account, service, required, progress)


def set_cross_zone(lab: str, account: str, service: str, enabled: bool, progress: Progress = _quiet):
    """ModifyLoadBalancerAttributes load_balancing.cross_zone.enabled. -> Change"""
    from lab.privatelink import control
    return control.set_cross_zone(lab, account, service, enabled, progress)


def describe_endpoints(lab: str, account: str | None = None, service: str | None = None, state: str | None = None,
                       include_deleted: bool = False) -> list[dict]:
    """DescribeVpcEndpoints."""
    from lab.privatelink import describe
    return describe.endpoints(lab, account, service, state, include_deleted)


def describe_endpoint(lab: str, ref: str) -> dict:
    """One endpoint by ID or name, deleted ones included."""
    from lab.privatelink import describe
    return describe.endpoint(lab, ref)


def describe_services(lab: str, account: str | None = None) -> list[dict]:
    """DescribeVpcEndpointServiceConfigurations."""
    from lab.privatelink import describe
    return describe.services(lab, account)


def describe_service(lab: str, ref: str, account: str | None = None) -> dict:
    """A service's configuration, allowed principals and endpoint connections."""
    from lab.privatelink import describe
    return describe.service(lab, ref, account)


# -- control plane: events and notifications ------------------------------------------------------

def events(lab: str) -> list[dict]:
    """The lab's connection events, each with its deliveries to subscribers."""
    from lab.privatelink.records import events_of
    return events_of(lab)


def follow_events(lab: str, timeout: float, count: int | None = None) -> Iterator[dict]:
    """New connection events as they come, for `timeout` seconds (or `count` events)."""
    from lab.privatelink.records import follow
    return follow(lab, timeout, count)


def deliveries(lab: str) -> list[dict]:
    """Every delivery attempt to subscribers (a retried delivery has one row per attempt)."""
    from lab.privatelink.records import deliveries_of
    return deliveries_of(lab)


def create_notification(lab: str, account: str, subscriber: dict, *, service: str | None = None,
                        endpoint: str | None = None, progress: Progress = _quiet) -> tuple[dict, float]:
    """CreateVpcEndpointConnectionNotification: (the notification, seconds)."""
    from lab.privatelink import subscriptions
    return subscriptions.create(lab, account, subscriber, service=service, endpoint=endpoint, progress=progress)


def describe_notifications(lab: str, account: str | None = None) -> list[dict]:
    """DescribeVpcEndpointConnectionNotifications."""
    from lab.privatelink import subscriptions
    return subscriptions.describe(lab, account)


def delete_notifications(lab: str, account: str, ids: list[str], progress: Progress = _quiet) -> tuple[list[dict], float]:
    """DeleteVpcEndpointConnectionNotifications: (the removed ones, seconds)."""
    from lab.privatelink import subscriptions
    return subscriptions.delete(lab, account, ids, progress)


# -- DNS and security groups ----------------------------------------------------------------------

def dns_records(lab: str, vpc: str | None = None) -> list[dict]:
    """Each VPC's resolver: the names it answers right now, and whether it runs."""
    from lab.apply.observe import resolvers
    return resolvers(lab, vpc)


def private_dns_names(lab: str) -> list[dict]:
    """Services' private DNS names: verification state, the TXT record to publish, whether it is."""
    from lab.privatelink import domains
    return domains.configurations(lab)


def publish_record(lab: str, name: str, value: str, rtype: str = "TXT") -> dict:
    from lab.privatelink import domains
    return domains.publish(lab, name, value, rtype)


def unpublish_record(lab: str, name: str, value: str | None = None) -> int:
    from lab.privatelink import domains
    return domains.unpublish(lab, name, value)


def published_records(lab: str) -> list[dict]:
    from lab.privatelink import domains
    return domains.records(lab)


def verify_domain(lab: str, service: str, progress: Progress = _quiet) -> dict:
    """StartVpcEndpointServicePrivateDnsVerification, done at once."""
    from lab.privatelink import domains
    return domains.verify_domain(lab, service, progress)


def security_groups(lab: str) -> list[dict]:
    """DescribeSecurityGroups: every VPC's groups and their inbound rules."""
    return load_plan(lab).get("inventory", {}).get("security_groups", [])


def security_group_counters(lab: str, endpoint: str | None = None) -> list[dict]:
    """Each endpoint ENI's rules with their live packet counters, and what it dropped."""
    from lab.apply.firewall import read
    return read(lab, endpoint)


# -- the host and tools ---------------------------------------------------------------------------

def check_host() -> list:
    """`lab doctor`'s checks of this host. -> list[lab.doctor.Check]"""
    from lab.doctor import run_checks
    return run_checks()


def host_exit_code(checks: list) -> int:
    from lab.doctor import exit_code
    return exit_code(checks)


def build_image(force: bool = False, progress: Progress = _quiet):
    """Build (or find cached) the NLB node image. -> lab.image.ImageResult"""
    from lab.image import ensure_image
    return ensure_image(runtime().client, force=force, progress=progress)


def topology_schema() -> dict:
    """The topology file's JSON Schema."""
    from lab.topology.model import Topology

    doc = Topology.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "privatelink-lab topology"
    return doc


def topology_text(ref: str) -> str:
    """The text of a topology file or of a built-in topology (`basic`, `leaky`), checked to parse."""
    from lab.topology.load import parse_topology, read_topology_text, resolve_topology_path

    path = resolve_topology_path(ref)
    text = read_topology_text(path)
    parse_topology(text, source=str(path))
    return text


# -- each feature's use cases, in a module of its own under lab.usecases ------------------------------
# Re-exported here, so the front door stays the one list of what the lab can do. Those modules
# import what a call needs when it runs, as this one does.
from lab.usecases.links import link_clear, link_set, link_show  # noqa: E402 - `lab link` (issue 15 §6)
from lab.usecases.graph import graph, render_graph  # noqa: E402 - `lab graph` (issue 16 §1)
from lab.usecases.usage import usage, usage_projection  # noqa: E402 - `lab usage` (issue 16 §4)
from lab.usecases.metrics import metrics, metrics_sample  # noqa: E402 - `lab metrics` (issue 16 §3)
from lab.usecases.ui import connection_events, link_rates, live_view  # noqa: E402 - `lab ui` (issue 16 §2)
from lab.usecases.azs import az_fail, az_recover, failed_azs  # noqa: E402 - `lab az` (issue 13 §2)
from lab.usecases.probe import request as probe_request  # noqa: E402 - one request as an instance makes it
from lab.usecases.probe import resolve as probe_resolve  # noqa: E402
from lab.usecases.services import check_service_arguments, create_service, delete_services  # noqa: E402 - issue 14
from lab.usecases.onprem import (  # noqa: E402 - Direct Connect and the internet (issue 12)
    internet_scan,
    public_addresses,
    virtual_interfaces,
    vlan_missing,
)
from lab.usecases.targets import (  # noqa: E402 - `lab target` (issue 13 §4)
    deregister_targets,
    register_targets,
    set_deregistration_delay,
    target_health,
)


# -- labs that are up (issue 10: `lab down --name typo` names them, as `lab verify` does) ----------
def labs_up_text() -> str:
    """`labs up: a, b` (or `none`), for a message about a lab name that is not up."""
    from lab.state.store import labs_up_text as text
    return text()


# -- EC2 API (issue 14): `lab api serve` and `lab api credentials`; bodies in lab.usecases.ec2 ----------------
# Loaded on first use: the control plane it pulls in would slow every other command's start.
def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    from lab.usecases import ec2

    try:
        return getattr(ec2, name)
    except AttributeError:
        raise AttributeError(f"module 'lab.api' has no attribute {name!r}") from None
