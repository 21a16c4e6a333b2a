"""What a lab would have cost on AWS: endpoint-hours per ENI and bytes processed -> a priced report.

Pure: `lab.api.usage` hands in the plan, the control plane's record (`privatelink.json`: when each
endpoint was created and, if so, deleted) and the NLB nodes' per-frontend byte counters; this
module does the counting and `lab.usage.pricing` the pricing.

How AWS bills an interface endpoint (https://aws.amazon.com/privatelink/pricing/): every hour
the endpoint is provisioned, in every AZ it has a network interface in, whatever its state; each
partial hour as a full one; plus every GB processed through it, either direction, priced by tiers
over the region's monthly total. The lab has one HAProxy frontend per ENI (and listener port), so
an ENI's bytes are its frontends' bytes in plus bytes out (TCP payload, as HAProxy counts it).
"""

from __future__ import annotations

from datetime import datetime

from lab.usage.pricing import PriceBook, billed_hours, data_cost, hours_cost


def parse_time(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    from datetime import timezone

    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _eni_bytes(plan: dict, counters: list[dict]) -> dict[tuple[str, str], dict]:
    """(VPC endpoint ID, ENI address) -> bytes in and out, summed over the ENI's listener ports."""
    by_frontend = {(c["Node"], c["Frontend"]): c for c in counters}
    out: dict[tuple[str, str], dict] = {}
    for node in plan.get("nodes", []):
        for fe in node["frontends"]:
            c = by_frontend.get((node["container"], fe["name"]))
            if c is None:
                continue
            acc = out.setdefault((fe["vpce_id"], fe["ip"]), {"BytesIn": 0, "BytesOut": 0, "Connections": 0})
            acc["BytesIn"] += c["BytesIn"]
            acc["BytesOut"] += c["BytesOut"]
            acc["Connections"] += c.get("Sessions", 0)
    return out


def _endpoint_rows(plan: dict, record: dict, counters: list[dict], now: float) -> list[dict]:
    subnet_az = {s["SubnetId"]: s["AvailabilityZone"] for s in plan["inventory"].get("subnets", [])}
    per_eni = _eni_bytes(plan, counters)
    rows = []
    for ep in plan.get("endpoints", []):
        meta = record.get("endpoints", {}).get(ep["name"], {})
        created = parse_time(meta.get("CreationTimestamp")) or now
        enis = [{"NetworkInterfaceId": e["id"], "AvailabilityZone": e["az"], "SubnetId": e["subnet_id"],
                 "PrivateIpAddress": e["ip"], **per_eni.get((ep["id"], e["ip"]),
                                                            {"BytesIn": 0, "BytesOut": 0, "Connections": 0})}
                for e in ep["enis"]]
        rows.append(_row(ep["id"], ep["name"], ep["state"], created, None, enis, now))
    for name, gone in record.get("deleted", {}).items():
        history = gone.get("History", [])
        created = parse_time(gone.get("CreationTimestamp")) or parse_time(history[0]["Time"] if history else None)
        deleted = parse_time(history[-1]["Time"]) if history else None
        if created is None:
            continue
        enis = [{"NetworkInterfaceId": None, "AvailabilityZone": subnet_az.get(sid), "SubnetId": sid,
                 "PrivateIpAddress": None, "BytesIn": 0, "BytesOut": 0, "Connections": 0}
                for sid in gone.get("SubnetIds", [])]
        rows.append(_row(gone.get("VpcEndpointId"), name, "deleted", created, deleted, enis, now))
    return rows


def _row(vpce_id, name, state, created, deleted, enis, now) -> dict:
    seconds = max(0.0, (deleted if deleted is not None else now) - created)
    for eni in enis:
        eni["Hours"] = round(seconds / 3600, 6)
        eni["BilledHours"] = billed_hours(seconds)
        eni["BytesProcessed"] = eni["BytesIn"] + eni["BytesOut"]
    return {"VpcEndpointId": vpce_id, "Name": name, "State": state, "CreationTimestamp": _iso(created),
            "DeletionTimestamp": _iso(deleted), "NetworkInterfaces": enis,
            "EndpointHours": round(sum(e["Hours"] for e in enis), 6),
            "BilledEndpointHours": sum(e["BilledHours"] for e in enis),
            "BytesProcessed": sum(e["BytesProcessed"] for e in enis)}


def usage_report(plan: dict, record: dict, counters: list[dict], prices: PriceBook, now: float) -> dict:
    rows = _endpoint_rows(plan, record, counters, now)
    region = prices.region(plan["region"])
    gb = prices.bytes_per_gb
    processed_gb = 0.0
    for row in rows:
        row["GBProcessed"] = row["BytesProcessed"] / gb
        if region is not None:
            row["HourlyCost"] = round(hours_cost(row["BilledEndpointHours"], region), 6)
            row["DataCost"] = round(data_cost(row["GBProcessed"], region.tiers, processed_gb), 9)
            row["Cost"] = round(row["HourlyCost"] + row["DataCost"], 6)
        processed_gb += row["GBProcessed"]
    started = min((parse_time(r["CreationTimestamp"]) for r in rows), default=None)
    observed_h = max((now - started) / 3600, 1 / 3600) if started is not None else 0.0
    live_enis = sum(len(r["NetworkInterfaces"]) for r in rows if r["State"] != "deleted")
    monthly_gb = processed_gb / observed_h * prices.hours_per_month if observed_h else 0.0
    projection = {"HoursPerMonth": prices.hours_per_month, "ObservedHours": round(observed_h, 6),
                  "EndpointAzs": live_enis, "MonthlyEndpointHours": live_enis * prices.hours_per_month,
                  "MonthlyGBProcessed": monthly_gb}
    total = {"EndpointHours": round(sum(r["EndpointHours"] for r in rows), 6),
             "BilledEndpointHours": sum(r["BilledEndpointHours"] for r in rows),
             "BytesProcessed": sum(r["BytesProcessed"] for r in rows), "GBProcessed": processed_gb}
    notes = []
    if region is None:
        notes.append(f"no prices for region {plan['region']} in {prices.path}: add them to price this lab")
    else:
        total["HourlyCost"] = round(sum(r["HourlyCost"] for r in rows), 6)
        total["DataCost"] = round(sum(r["DataCost"] for r in rows), 9)
        total["Cost"] = round(total["HourlyCost"] + total["DataCost"], 6)
        projection["MonthlyHourlyCost"] = round(hours_cost(projection["MonthlyEndpointHours"], region), 4)
        projection["MonthlyDataCost"] = round(data_cost(monthly_gb, region.tiers), 6)
        projection["MonthlyCost"] = round(projection["MonthlyHourlyCost"] + projection["MonthlyDataCost"], 4)
        if not region.az_hour_verified:
            notes.append(f"the hourly price ({region.az_hour} {prices.currency} per endpoint per AZ) is not confirmed "
                         f"by AWS's page as stored on {prices.read_on}; see {prices.path}")
    notes.append("bytes are TCP payload as the NLB nodes' HAProxy frontends count it, since they last started")
    return {"Lab": plan["lab"], "Region": plan["region"], "Time": _iso(now), "Currency": prices.currency,
            "Prices": {"File": str(prices.path), "Source": prices.source_url, "ReadOn": prices.read_on,
                       "EndpointAzHour": region.az_hour if region else None,
                       "DataProcessedTiers": [{"UpToGB": t.up_to_gb, "PerGB": t.per_gb} for t in region.tiers]
                       if region else None},
            "Endpoints": rows, "Total": total, "Projection": projection, "Notes": notes}
