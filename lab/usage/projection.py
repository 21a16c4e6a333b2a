"""What a multi-tenant design would cost a month on AWS PrivateLink: N tenants, M AZs, per
multi-tenant mode (docs/multi-tenant.md), priced from the one price file (lab/usage/prices.yaml).

Pure. In every mode each tenant reaches the service through an interface endpoint of its own, in
each of the M AZs: N x M endpoint-AZs, billed every hour (the consumers' bill). What differs is
the provider's side: modes 1 and 3 (application token, PPv2 endpoint ID) share ONE endpoint
service and NLB; mode 2 (ports) gives each tenant its own service and NLB. NLB hours and LCUs are
Elastic Load Balancing's prices, not PrivateLink's, and are not in the price file: the projection
counts the NLBs and says so rather than inventing their cost.
"""

from __future__ import annotations

from lab.topology.errors import LabInputError
from lab.usage.pricing import PriceBook, data_cost, hours_cost

MAX_TENANTS = 100_000
MAX_AZS = 6  # the most AZs a lab's region offers here; AWS regions have 3 to 6
MODES = (
    ("application-token", "1", "one shared service and NLB; tenants told apart by an API token"),
    ("nlb-per-tenant", "2", "a service, an NLB and a target port per tenant"),
    ("ppv2-endpoint-id", "3", "one shared service and NLB; tenants told apart by the endpoint ID in PPv2"),
)


def check(tenants: int | None, azs: int | None, gb_per_tenant: float) -> None:
    """Bad input before anything is read (exit 2, one line)."""
    if tenants is None and azs is None:
        return
    if tenants is None or azs is None:
        raise LabInputError("--tenants" if tenants is None else "--azs", "is needed for a projection",
                            "give both --tenants N and --azs M")
    if not 1 <= tenants <= MAX_TENANTS:
        raise LabInputError("--tenants", f"{tenants} is out of range", f"give 1 to {MAX_TENANTS} tenants")
    if not 1 <= azs <= MAX_AZS:
        raise LabInputError("--azs", f"{azs} is out of range", f"give 1 to {MAX_AZS} AZs")
    if not 0 <= gb_per_tenant <= 1e9:
        raise LabInputError("--gb-per-tenant", f"{gb_per_tenant:g} is out of range",
                            "give a monthly volume from 0 to 1e9 GB per tenant")


def project(book: PriceBook, region: str, tenants: int, azs: int, gb_per_tenant: float = 0.0) -> dict:
    prices = book.region(region)
    if prices is None:
        raise LabInputError("--region", f"no prices for region {region!r} in {book.path}",
                            f"use one of: {', '.join(book.regions)}, or add the region to the file")
    endpoint_azs = tenants * azs
    az_hours = endpoint_azs * book.hours_per_month
    hourly = hours_cost(az_hours, prices)
    gb = tenants * gb_per_tenant
    data = data_cost(gb, prices.tiers)
    modes = []
    for name, number, how in MODES:
        services = tenants if number == "2" else 1
        modes.append({
            "Mode": name, "Number": int(number), "Description": how,
            "EndpointServices": services, "NetworkLoadBalancers": services, "NlbNodes": services * azs,
            "InterfaceEndpoints": tenants, "EndpointAzs": endpoint_azs, "EndpointHours": az_hours,
            "EndpointHourCost": round(hourly, 4), "GBProcessed": gb, "DataCost": round(data, 4),
            "MonthlyCost": round(hourly + data, 4),
        })
    notes = ["PrivateLink's bill is the same in every mode: each tenant's endpoint in each AZ, every hour, "
             "plus the data processed; the modes differ in the provider's NLBs, which are Elastic Load "
             "Balancing's prices (not in the price file, not included)"]
    if not prices.az_hour_verified:
        notes.append(f"the hourly price {prices.az_hour} {book.currency} per endpoint-AZ for {region} is marked "
                     f"unverified in {book.path.name}")
    return {"Region": region, "Tenants": tenants, "Azs": azs, "GBPerTenantPerMonth": gb_per_tenant,
            "HoursPerMonth": book.hours_per_month, "Currency": book.currency,
            "PricePerEndpointAzHour": prices.az_hour, "Source": book.source_url, "PricesReadOn": book.read_on,
            "Modes": modes, "Notes": notes}
