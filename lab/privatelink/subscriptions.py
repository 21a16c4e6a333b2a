"""Connection notifications set at run time: AWS's CreateVpcEndpointConnectionNotification,
DescribeVpcEndpointConnectionNotifications and DeleteVpcEndpointConnectionNotifications.

A subscription is stored where a topology file puts one (`endpoint_services[].notifications` for the
service's owner, `endpoints[].notifications` for the endpoint's owner), so the stored topology and
the control plane never disagree, and the same rules check it (a webhook's `from` must exist, ...).
Its ID, vpce-nfn-<17 hex>, is derived from the lab, where it hangs and what it says: it stays the
same across commands, and an identical second subscription is refused as a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import NamedTuple

from pydantic import ValidationError

from lab.apply.context import Progress
from lab.privatelink import edit, shapes
from lab.privatelink.control import read_view, transaction
from lab.privatelink.principals import Account, owner_of_service, owner_of_vpc, require_owner, resolve_account
from lab.topology.errors import LabInputError
from lab.topology.model import Subscriber

NFN_PREFIX = "vpce-nfn-"
ID_FLAG = "CONNECTION_NOTIFICATION_ID"


def _quiet(_msg: str) -> None:
    pass


def notification_id(lab: str, kind: str, holder: str, sub: Subscriber) -> str:
    canonical = json.dumps([lab, kind, holder, sub.model_dump(by_alias=True)], sort_keys=True)
    return NFN_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()[:17]


class _Entry(NamedTuple):
    kind: str  # "service" or "endpoint": what the subscription hangs on
    holder: str  # that service's or endpoint's name
    position: int  # in its notifications list
    subscriber: Subscriber
    owner: Account  # who may delete it
    ids: dict  # the AWS id field: ServiceId or VpcEndpointId

    @property
    def where(self) -> tuple[str, str]:
        return self.kind, self.holder


def _entries(view: shapes.LabView) -> list[_Entry]:
    """Every subscription of the lab, the services' first."""
    found = []
    for svc in view.topo.endpoint_services:
        owner = owner_of_service(view.topo, svc)
        for k, sub in enumerate(svc.notifications):
            found.append(_Entry("service", svc.name, k, sub, owner, {"ServiceId": view.service_id(svc)}))
    for ep in view.topo.endpoints:
        owner = owner_of_vpc(view.topo, view.vpc(ep.vpc))
        vpce = (view.endpoint_plan(ep.name) or {}).get("id")
        for k, sub in enumerate(ep.notifications):
            found.append(_Entry("endpoint", ep.name, k, sub, owner, {"VpcEndpointId": vpce}))
    return found


def _shape(view: shapes.LabView, entry: _Entry) -> dict:
    sub, owner = entry.subscriber, entry.owner
    nfn = notification_id(view.lab, entry.kind, entry.holder, sub)
    return {
        "ConnectionNotificationId": nfn, **entry.ids,
        "ConnectionNotificationType": "Topic",
        # AWS delivers to an SNS topic; the lab delivers to a command or an in-lab webhook (see Lab).
        "ConnectionNotificationArn": f"arn:aws:sns:{view.topo.region}:{owner.id}:privatelink-lab-{nfn}",
        "ConnectionEvents": list(sub.events),
        "ConnectionNotificationState": "Enabled",
        "Lab": {"On": entry.kind, "Name": entry.holder, "OwnerId": owner.id, **shapes.subscriber_summary(sub),
                "Attempts": sub.attempts},
    }


def describe(lab: str, account: str | None = None) -> list[dict]:
    view = read_view(lab)
    entries = _entries(view)
    if account is not None:
        actor = resolve_account(view.topo, account)
        entries = [e for e in entries if e.owner == actor]
    return [_shape(view, e) for e in entries]


def create(lab: str, account: str, subscriber: dict, *, service: str | None = None, endpoint: str | None = None,
           progress: Progress = _quiet) -> tuple[dict, float]:
    """Subscribe a command or webhook to a service's or an endpoint's connection events (as its owner)."""
    t0 = time.perf_counter()
    with transaction(lab, progress) as txn:
        actor = txn.account(account)
        if service is not None:
            svc = txn.service(service)
            kind, holder, owner = "service", svc.name, owner_of_service(txn.view.topo, svc)
        else:
            ep = txn.endpoint(endpoint)
            kind, holder, owner = "endpoint", ep.name, owner_of_vpc(txn.view.topo, txn.view.vpc(ep.vpc))
        require_owner(actor, owner, f"subscribe to the connection notifications of {kind} {holder!r}")
        try:
            wanted = Subscriber.model_validate(subscriber)
        except ValidationError:
            wanted = None  # the topology check below names the bad field with its path and fix
        if wanted is not None:
            for entry in _entries(txn.view):
                if entry.where == (kind, holder) and entry.subscriber == wanted:
                    raise LabInputError("--command/--webhook", f"{kind} {holder!r} already has this subscription "
                                        f"({notification_id(lab, kind, holder, wanted)})",
                                        "change its events, timeout or attempts, or delete the existing one first")
        txn.apply(edit.add_subscriber(txn.raw, kind, holder, subscriber), "notification create", set())
        created = [e for e in _entries(txn.view) if e.where == (kind, holder)][-1]  # appended last
        shaped = _shape(txn.view, created)
    return shaped, time.perf_counter() - t0


def delete(lab: str, account: str, ids: list[str], progress: Progress = _quiet) -> tuple[list[dict], float]:
    """Remove subscriptions by ID (all of them or, on any unknown ID or foreign owner, none)."""
    t0 = time.perf_counter()
    with transaction(lab, progress) as txn:
        actor = txn.account(account)
        by_id = {notification_id(lab, e.kind, e.holder, e.subscriber): e for e in _entries(txn.view)}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise LabInputError(ID_FLAG, f"no connection notification {', '.join(missing)} in lab {lab!r}",
                                f"use one of: {', '.join(by_id) or 'none (there are no subscriptions)'}")
        chosen = [by_id[i] for i in dict.fromkeys(ids)]
        for e in chosen:
            require_owner(actor, e.owner, f"delete a connection notification of {e.kind} {e.holder!r}")
        removed = [_shape(txn.view, e) for e in chosen]
        raw = txn.raw
        for kind, holder in dict.fromkeys(e.where for e in chosen):
            raw = edit.remove_subscribers(raw, kind, holder, {e.position for e in chosen if e.where == (kind, holder)})
        txn.apply(raw, "notification delete", set())
    return removed, time.perf_counter() - t0
