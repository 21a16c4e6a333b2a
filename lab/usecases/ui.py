"""`lab ui`'s reads: the lab as `lab status` sees it (one observation, shared by the graph and the tables),
the links' kernel counters and the connection events."""

from __future__ import annotations


def live_view(name: str = "default") -> dict:
    """The lab now: its graph, endpoints, target health and links' kernel counters (AWS names where AWS has them)."""
    from lab.apply.linkstats import link_counters
    from lab.apply.observe import collect
    from lab.graph import build_graph
    from lab.plan.links import links_from_plan
    from lab.state.store import LabState
    from lab.usecases.graph import _observed

    status = collect(name)
    plan = LabState(name).load_plan()
    vpc_ids = {v["Name"]: v["VpcId"] for v in plan["inventory"].get("vpcs", [])}
    services = {s["Name"]: s for s in plan["inventory"].get("services", [])}
    endpoints = [{"VpcEndpointId": ep["id"], "State": ep["state"], "VpcId": vpc_ids.get(ep["vpc"], ep["vpc"]),
                  "ServiceName": services.get(ep["service"], {}).get("ServiceName", ep["service"]),
                  "NetworkInterfaces": [{"NetworkInterfaceId": e["id"], "PrivateIpAddress": e["ip"],
                                         "AvailabilityZone": e["az"], "SubnetId": e["subnet_id"]} for e in ep["enis"]],
                  "Lab": {"Name": ep["name"], "Vpc": ep["vpc"], "Service": ep["service"]}}
                 for ep in status["endpoints"]]
    return {"Lab": name, "Graph": build_graph(plan, _observed(name, False, status)), "Endpoints": endpoints,
            "TargetHealth": status["target_health"], "LinkCounters": link_counters(plan),
            "Links": {ln.key: ln.name for ln in links_from_plan(plan)}}


def connection_events(name: str = "default") -> list[dict]:
    """The lab's connection events (Connect, Accept, Reject, Delete), oldest first."""
    from lab.privatelink.records import EventLog
    from lab.state.store import LabState

    return EventLog(LabState(name)).read()


def link_rates(before: dict, after: dict, seconds: float) -> dict:
    """Packets and bytes per second per link between two `live_view()["LinkCounters"]`."""
    from lab.apply.linkstats import rates

    return rates(before, after, seconds)
