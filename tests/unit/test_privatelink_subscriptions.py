"""Run-time notification subscriptions without root: the topology edits and the IDs."""

from __future__ import annotations

from lab.privatelink import edit
from lab.privatelink.subscriptions import NFN_PREFIX, notification_id
from lab.topology.model import Subscriber

RAW = {
    "endpoint_services": [{"name": "web-service", "account": "provider", "nlb": "web-nlb"}],
    "endpoints": [{"name": "web-endpoint", "vpc": "consumer", "service": "web-service", "subnets": ["a"],
                   "notifications": [{"command": ["true"]}], "other-feature": {"kept": True}}],
}


def test_add_appends_where_a_topology_file_would_put_it_and_leaves_the_input_alone():
    out = edit.add_subscriber(RAW, "endpoint", "web-endpoint", {"webhook": "http://x/", "from": "consumer-client"})
    assert out["endpoints"][0]["notifications"] == [{"command": ["true"]},
                                                    {"webhook": "http://x/", "from": "consumer-client"}]
    assert out["endpoints"][0]["other-feature"] == {"kept": True}
    assert RAW["endpoints"][0]["notifications"] == [{"command": ["true"]}]  # a copy was edited
    svc = edit.add_subscriber(RAW, "service", "web-service", {"command": ["a"]})["endpoint_services"][0]
    assert svc["notifications"] == [{"command": ["a"]}]


def test_remove_by_position_and_drop_the_key_when_none_is_left():
    two = edit.add_subscriber(RAW, "endpoint", "web-endpoint", {"command": ["b"]})
    assert edit.remove_subscribers(two, "endpoint", "web-endpoint", {0})["endpoints"][0]["notifications"] == [
        {"command": ["b"]}]
    assert "notifications" not in edit.remove_subscribers(two, "endpoint", "web-endpoint", {0, 1})["endpoints"][0]


def test_ids_are_stable_and_say_where_and_what():
    sub = Subscriber.model_validate({"command": ["true"], "events": ["Accept"]})
    same = Subscriber.model_validate({"command": ["true"], "events": ["Accept"], "timeout": 30})  # default spelled out
    nfn = notification_id("lab", "endpoint", "web-endpoint", sub)
    assert nfn.startswith(NFN_PREFIX) and len(nfn) == len(NFN_PREFIX) + 17
    assert nfn == notification_id("lab", "endpoint", "web-endpoint", same)
    others = {notification_id("lab", "service", "web-endpoint", sub),
              notification_id("other", "endpoint", "web-endpoint", sub),
              notification_id("lab", "endpoint", "web-endpoint",
                              Subscriber.model_validate({"command": ["true"], "events": ["Reject"]}))}
    assert nfn not in others and len(others) == 3
