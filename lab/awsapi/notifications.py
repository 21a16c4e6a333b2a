"""Connection notifications to SNS topics declared in the topology (`sns_topics:`).

CreateVpcEndpointConnectionNotification on a service (provider) or an endpoint (consumer) names a
topic by ARN; the lab subscribes each of that topic's subscribers (commands, webhooks) through the
same transaction as `lab notification create`, so events fire whichever side acted, and the
notification's ID is the API's. Describe shows these and the subscriptions made with `lab
notification create` or written in the topology file (each under its own ID)."""

from __future__ import annotations

import hashlib

from lab import api
from lab.awsapi.describe import filtered, page
from lab.awsapi.errors import Ec2Error
from lab.awsapi.util import control_plane, endpoint_by_id, store_lock

EVENTS = ("Accept", "Connect", "Delete", "Reject")
FILTERS = {
    "connection-notification-arn": lambda n: [n["ConnectionNotificationArn"]],
    "connection-notification-id": lambda n: [n["ConnectionNotificationId"]],
    "connection-notification-state": lambda n: [n["ConnectionNotificationState"]],
    "connection-notification-type": lambda n: [n["ConnectionNotificationType"]],
    "service-id": lambda n: [n.get("ServiceId", "")],
    "vpc-endpoint-id": lambda n: [n.get("VpcEndpointId", "")],
}


def _topic(call, arn: str):
    for topic in call.view.topo.sns_topics:
        account_id = call.view.topo.accounts[topic.account]
        if arn == f"arn:aws:sns:{call.region}:{account_id}:{topic.name}":
            if account_id != call.account_id:
                break  # another account's topic: its policy does not let this account publish
            return topic
    raise Ec2Error("InvalidParameter", f"The SNS topic {arn[:256]} does not exist or is not this account's; "
                   "declare it under sns_topics: in the topology")


def _events(p: dict) -> list[str]:
    events = p.get("ConnectionEvents") or []
    if not events:
        raise Ec2Error("MissingParameter", "The request must contain the parameter ConnectionEvents")
    bad = [e for e in events if e not in EVENTS]
    if bad:
        raise Ec2Error("InvalidParameterValue", f"{bad[0][:64]} is not a connection event; use {', '.join(EVENTS)}")
    return sorted(dict.fromkeys(events))


def _holder(call, p: dict) -> tuple[dict, str | None, str | None]:
    if bool(p.get("ServiceId")) == bool(p.get("VpcEndpointId")):
        raise Ec2Error("InvalidParameterCombination", "Give exactly one of ServiceId and VpcEndpointId")
    if p.get("ServiceId"):
        svc = next((s for s in call.view.topo.endpoint_services if call.view.service_id(s) == p["ServiceId"]
                    and call.view.topo.accounts[s.account] == call.account_id), None)
        if svc is None:
            raise Ec2Error("InvalidVpcEndpointServiceId.NotFound", f"The Vpc Endpoint Service Id "
                           f"'{p['ServiceId'][:128]}' does not exist")
        return {"ServiceId": p["ServiceId"]}, svc.name, None
    ep = endpoint_by_id(call, p["VpcEndpointId"])
    return {"VpcEndpointId": p["VpcEndpointId"]}, None, ep.name


def _subscribe(call, topic, events: list[str], service: str | None, endpoint: str | None) -> list[str]:
    ids = []
    for sub in topic.subscribers:
        wanted = {**sub.model_dump(by_alias=True, exclude_none=True), "events": events}
        created, _ = control_plane(lambda w=wanted: api.subscriptions_create(call.lab, call.account_id, w,
                                                                             service=service, endpoint=endpoint))
        ids.append(created["ConnectionNotificationId"])
    return ids


def create_vpc_endpoint_connection_notification(call, p: dict) -> dict:
    holder, service, endpoint = _holder(call, p)
    topic, events = _topic(call, p["ConnectionNotificationArn"]), _events(p)
    resource = call.arn("vpc-endpoint-service", holder["ServiceId"]) if service else \
        call.arn("vpc-endpoint", holder["VpcEndpointId"])
    call.authorize([resource])
    nfn = "vpce-nfn-" + hashlib.sha256(f"{call.lab}|{holder}|{p['ConnectionNotificationArn']}|{events}"
                                       .encode()).hexdigest()[:17]
    with store_lock:
        store = api.ec2_store(call.lab)
        if nfn in store.get("Notifications", {}):
            raise Ec2Error("InvalidParameter", f"This connection notification already exists: {nfn}")
        ids = _subscribe(call, topic, events, service, endpoint)
        store = api.ec2_store(call.lab)
        store.setdefault("Notifications", {})[nfn] = {**holder, "Owner": call.account_id, "Events": events,
                                                      "Arn": p["ConnectionNotificationArn"], "Subscriptions": ids,
                                                      "Service": service, "Endpoint": endpoint}
        api.ec2_store_save(call.lab, store)
    return {"ConnectionNotification": _shape(nfn, store["Notifications"][nfn]), "ClientToken": p.get("ClientToken")}


def _shape(nfn: str, entry: dict) -> dict:
    out = {"ConnectionNotificationId": nfn, "ConnectionNotificationType": "Topic",
           "ConnectionNotificationArn": entry["Arn"], "ConnectionEvents": entry["Events"],
           "ConnectionNotificationState": "Enabled"}
    out.update({k: entry[k] for k in ("ServiceId", "VpcEndpointId") if entry.get(k)})
    return out


def _all(call) -> dict[str, dict]:
    """ID -> AWS shape: the API's notifications, then every other subscription of the caller."""
    store = api.ec2_store(call.lab).get("Notifications", {})
    mine = {nfn: e for nfn, e in store.items() if e["Owner"] == call.account_id}
    covered = {s for e in mine.values() for s in e["Subscriptions"]}
    out = {nfn: _shape(nfn, e) for nfn, e in mine.items()}
    for item in api.subscriptions_describe(call.lab, call.account_id):
        if item["ConnectionNotificationId"] not in covered:
            out[item["ConnectionNotificationId"]] = {k: v for k, v in item.items() if k != "Lab"}
    return out


def describe_vpc_endpoint_connection_notifications(call, p: dict) -> dict:
    call.authorize()
    items = list(_all(call).values())
    if p.get("ConnectionNotificationId"):
        items = [n for n in items if n["ConnectionNotificationId"] == p["ConnectionNotificationId"]]
        if not items:
            raise Ec2Error("InvalidConnectionNotification", f"The connection notification "
                           f"'{p['ConnectionNotificationId'][:64]}' does not exist")
    items, nxt = page(filtered(items, p.get("Filters"), FILTERS), p)
    return {"ConnectionNotificationSet": items, "NextToken": nxt}


def _remove(call, nfn: str) -> None:
    store = api.ec2_store(call.lab)
    entry = store.get("Notifications", {}).get(nfn)
    live = {i["ConnectionNotificationId"] for i in api.subscriptions_describe(call.lab, call.account_id)}
    ids = [i for i in (entry["Subscriptions"] if entry else [nfn]) if i in live]
    if ids:
        control_plane(lambda: api.subscriptions_delete(call.lab, call.account_id, ids))
    if entry:
        store = api.ec2_store(call.lab)
        store["Notifications"].pop(nfn, None)
        api.ec2_store_save(call.lab, store)


def delete_vpc_endpoint_connection_notifications(call, p: dict) -> dict:
    ids = p.get("ConnectionNotificationIds") or []
    if not ids:
        raise Ec2Error("MissingParameter", "The request must contain the parameter ConnectionNotificationId")
    mine = _all(call)
    call.authorize()
    failed = [{"Error": {"Code": "InvalidConnectionNotification", "Message": f"The connection notification '{i}' "
                         "does not exist"}, "ResourceId": i} for i in ids if i not in mine]
    with store_lock:
        for nfn in dict.fromkeys(i for i in ids if i in mine):
            _remove(call, nfn)
    return {"Unsuccessful": failed}


def modify_vpc_endpoint_connection_notification(call, p: dict) -> dict:
    """New events and/or topic: the lab unsubscribes the old subscribers and subscribes the new ones."""
    nfn = p["ConnectionNotificationId"]
    store = api.ec2_store(call.lab).get("Notifications", {})
    entry = store.get(nfn)
    if entry is None or entry["Owner"] != call.account_id:
        raise Ec2Error("InvalidConnectionNotification", f"The connection notification '{nfn[:64]}' does not exist "
                       "(only those made through this API can be modified; use `lab notification` for the others)")
    arn = p.get("ConnectionNotificationArn") or entry["Arn"]
    topic = _topic(call, arn)
    events = _events(p) if p.get("ConnectionEvents") else entry["Events"]
    call.authorize()
    with store_lock:
        _remove(call, nfn)
        ids = _subscribe(call, topic, events, entry["Service"], entry["Endpoint"])
        store = api.ec2_store(call.lab)
        store.setdefault("Notifications", {})[nfn] = {**entry, "Arn": arn, "Events": events, "Subscriptions": ids}
        api.ec2_store_save(call.lab, store)
    return {"ReturnValue": True}
