"""Edits of a lab's stored topology, on its plain YAML data.

The control plane changes the desired state by editing the mapping `yaml.safe_load` gives (not the
validated model), so every key it does not know about - other features' settings - comes through
untouched; the result is then validated by the same loader as any topology file.
"""

from __future__ import annotations

import copy

import yaml

# libyaml when present: a control-plane command reads and writes the topology on its critical path
# (a reject must stop traffic within a second), and the C parser is ~10x faster than the Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load(text: str) -> dict:
    data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    return data if isinstance(data, dict) else {}


def dump(data: dict) -> str:
    header = "# Desired state of this lab, kept by `lab` (lab up, then the control plane's changes).\n"
    return header + yaml.dump(data, Dumper=_DUMPER, sort_keys=False, default_flow_style=None, width=120)


def _endpoints(data: dict) -> list[dict]:
    if not data.get("endpoints"):  # absent, or `endpoints:` with nothing after it (None)
        data["endpoints"] = []
    return data["endpoints"]


def _endpoint(data: dict, name: str) -> dict:
    for ep in data.get("endpoints") or []:
        if ep.get("name") == name:
            return ep
    raise KeyError(name)


def _service(data: dict, name: str) -> dict:
    for svc in data.get("endpoint_services") or []:
        if svc.get("name") == name:
            return svc
    raise KeyError(name)


def add_endpoint(data: dict, *, name: str, vpc: str, service: str, subnets: list[str], state: str,
                 private_dns: bool = False, security_groups: list[str] | None = None) -> dict:
    out = copy.deepcopy(data)
    entry = {"name": name, "vpc": vpc, "service": service, "subnets": list(subnets), "state": state}
    if private_dns:
        entry["private_dns_enabled"] = True
    if security_groups:
        entry["security_groups"] = list(security_groups)
    _endpoints(out).append(entry)
    return out


def set_states(data: dict, states: dict[str, str]) -> dict:
    out = copy.deepcopy(data)
    for name, state in states.items():
        _endpoint(out, name)["state"] = state
    return out


def remove_endpoints(data: dict, names: set[str]) -> dict:
    out = copy.deepcopy(data)
    out["endpoints"] = [ep for ep in out.get("endpoints") or [] if ep.get("name") not in names]
    return out


def set_principals(data: dict, service: str, principals: list[str]) -> dict:
    return set_service_key(data, service, "allowed_principals", list(principals))


def set_service_key(data: dict, service: str, key: str, value) -> dict:
    out = copy.deepcopy(data)
    _service(out, service)[key] = value
    return out


def set_cross_zone(data: dict, nlb: str, enabled: bool) -> dict:
    out = copy.deepcopy(data)
    next(n for n in out.get("nlbs") or [] if n.get("name") == nlb)["cross_zone"] = enabled
    return out


def _holder(data: dict, kind: str, name: str) -> dict:
    return _service(data, name) if kind == "service" else _endpoint(data, name)


def add_subscriber(data: dict, kind: str, name: str, subscriber: dict) -> dict:
    """Append a notification subscriber to a service (kind "service") or an endpoint (kind "endpoint")."""
    out = copy.deepcopy(data)
    holder = _holder(out, kind, name)
    holder["notifications"] = [*(holder.get("notifications") or []), subscriber]
    return out


def remove_subscribers(data: dict, kind: str, name: str, positions: set[int]) -> dict:
    out = copy.deepcopy(data)
    holder = _holder(out, kind, name)
    kept = [s for k, s in enumerate(holder.get("notifications") or []) if k not in positions]
    if kept:
        holder["notifications"] = kept
    else:
        holder.pop("notifications", None)
    return out
