"""Each link's packet and byte counters, read from the kernel (netlink, via pyroute2).

A link is one veth pair; every pair of the plan has its `b` end in a VPC router namespace, a named
namespace the host enters without asking the container engine (see lab.plan.links). A veth is a
wire: its b end's counters are the link's. rx at the router end is what came *from* the far end
(an instance, an NLB node leg, the other VPC), tx what went *to* it.
"""

from __future__ import annotations

from lab.apply import netns

FIELDS = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_dropped", "tx_dropped")


def link_counters(plan: dict) -> dict[str, dict[str, int]]:
    """{veth key: {rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped, tx_dropped}} for every
    planned link whose router end exists now (a missing namespace or interface gives no entry)."""
    by_place: dict[str, dict[str, str]] = {}
    for pair in plan.get("veths", []):
        end = pair["b"]
        if end["place"]["kind"] == "netns":
            by_place.setdefault(end["place"]["name"], {})[end["ifname"]] = pair["key"]
    out: dict[str, dict[str, int]] = {}
    for place, ifnames in by_place.items():
        if not netns.exists(place):
            continue
        try:
            ipr = netns.netlink(netns.netns_path(place))
        except OSError:
            continue  # removed meanwhile (lab down from another terminal)
        with ipr:
            for msg in ipr.get_links():
                key = ifnames.get(msg.get_attr("IFLA_IFNAME"))
                stats = msg.get_attr("IFLA_STATS64")
                if key is not None and stats is not None:
                    out[key] = {f: int(stats.get(f) or 0) for f in FIELDS}
    return out


def rates(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]], seconds: float) -> dict[str, dict]:
    """Per link, packets and bytes per second (both directions added) between two readings; a
    counter that went down (the interface was remade) counts from zero."""
    out = {}
    for key, now in after.items():
        prev = before.get(key)
        if prev is None or seconds <= 0:
            continue

        def per_s(*fields: str) -> float:
            total = 0
            for f in fields:
                total += now[f] - prev[f] if now[f] >= prev[f] else now[f]
            return total / seconds

        out[key] = {"PacketsPerSecond": per_s("rx_packets", "tx_packets"), "BytesPerSecond": per_s("rx_bytes", "tx_bytes")}
    return out
