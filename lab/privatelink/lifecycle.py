"""The control plane's part of `lab up`: record the endpoints the topology file brings, and publish
their events (Connect, then Accept or Reject when the file, or the service's auto-accept, decided),
so that subscribers - e.g. the auto-accept example - act on a new lab as on a new endpoint."""

from __future__ import annotations

from lab.apply.context import Progress
from lab.privatelink import notify
from lab.privatelink.control import Change, transaction
from lab.privatelink.principals import owner_of_service, owner_of_vpc
from lab.state.store import LabState

FOLLOW_UP = {"available": "Accept", "rejected": "Reject"}


def lab_is_up(state: LabState, progress: Progress) -> list[dict]:
    """Never fails bring-up: a problem here is reported, and the lab stays up."""
    try:
        with transaction(state, progress) as txn:
            events = []
            for ep in txn.view.topo.endpoints:
                planned = txn.view.endpoint_plan(ep.name)
                owner = owner_of_vpc(txn.view.topo, txn.view.vpc(ep.vpc))
                provider = owner_of_service(txn.view.topo, txn.view.service_of(ep))
                txn.record.created(ep.name, planned["id"], txn.now, planned["state"], owner.arn)
                events.append(txn.event(ep, "Connect", planned["state"], owner))
                if planned["state"] in FOLLOW_UP:
                    events.append(txn.event(ep, FOLLOW_UP[planned["state"]], planned["state"], provider))
            change = Change("up")
            txn.publish(change, events)
        notify.deliver(state, change.view, change.events, progress)
        return change.events
    except Exception as err:  # noqa: BLE001 - the lab is up; say what went wrong and keep it
        progress(f"control plane: could not publish the endpoints' events: {err}")
        return []
