"""AWS PrivateLink prices (from an editable YAML file) and the arithmetic of an interface endpoint bill.

Pure: no system calls. `lab.usage.meter` measures; this module prices what was measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from lab.topology.errors import LabInputError

DEFAULT_PRICES = Path(__file__).with_name("prices.yaml")


@dataclass(frozen=True)
class Tier:
    up_to_gb: float | None  # cumulative upper bound of the tier; None: no bound
    per_gb: float


@dataclass(frozen=True)
class RegionPrices:
    region: str
    az_hour: float
    az_hour_verified: bool
    tiers: tuple[Tier, ...]
    tiers_verified: bool


@dataclass(frozen=True)
class PriceBook:
    path: Path
    source_url: str
    read_on: str
    currency: str
    hours_per_month: float
    bytes_per_gb: int
    regions: dict[str, RegionPrices]

    def region(self, name: str) -> RegionPrices | None:
        return self.regions.get(name)


def load_prices(path: Path | None = None) -> PriceBook:
    """Read and check a price file; a bad one is bad input naming the file and the key."""
    path = Path(path) if path is not None else DEFAULT_PRICES
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as err:
        raise LabInputError("--prices", f"cannot read {where}: {err.strerror}", "give a readable YAML price file") from None
    except yaml.YAMLError as err:
        raise LabInputError(where, f"not valid YAML ({str(err).splitlines()[0]})", "fix the file's syntax") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("regions"), dict):
        raise LabInputError(f"{where}: regions", "missing (a mapping of region name to prices)",
                            f"start from {DEFAULT_PRICES}")
    regions = {}
    for name, r in raw["regions"].items():
        key = f"{where}: regions.{name}"
        try:
            tiers = tuple(Tier(None if t["up_to_gb"] is None else float(t["up_to_gb"]), float(t["per_gb"]))
                          for t in r["data_processed_tiers"])
            regions[name] = RegionPrices(name, float(r["interface_endpoint_az_hour"]),
                                         bool(r.get("interface_endpoint_az_hour_verified", False)), tiers,
                                         bool(r.get("data_processed_verified", False)))
        except (KeyError, TypeError, ValueError) as err:
            raise LabInputError(key, f"malformed prices ({type(err).__name__}: {err})",
                                "give interface_endpoint_az_hour and data_processed_tiers [{up_to_gb, per_gb}] "
                                f"as in {DEFAULT_PRICES}") from None
        if not tiers or tiers[-1].up_to_gb is not None or any(t.per_gb < 0 for t in tiers):
            raise LabInputError(f"{key}.data_processed_tiers", "tiers must be non-negative and end with up_to_gb: null",
                                "close the last tier with up_to_gb: null")
    source = raw.get("source") or {}
    return PriceBook(path, str(source.get("url", "")), str(source.get("read_on", "")), str(raw.get("currency", "USD")),
                     float(raw.get("hours_per_month", 730)), int(raw.get("bytes_per_gb", 2**30)), regions)


def billed_hours(seconds: float) -> int:
    """AWS bills each partial endpoint-hour as a full hour (per endpoint, per AZ)."""
    return max(0, math.ceil(seconds / 3600 - 1e-9)) if seconds > 0 else 0


def data_cost(gb: float, tiers: tuple[Tier, ...], already_gb: float = 0.0) -> float:
    """The cost of `gb` processed on top of `already_gb` this month, through the region's tiers."""
    cost, low, remaining, position = 0.0, 0.0, gb, already_gb
    for tier in tiers:
        high = math.inf if tier.up_to_gb is None else tier.up_to_gb
        if position < high and remaining > 0:
            take = min(remaining, high - max(low, position))
            cost += take * tier.per_gb
            remaining -= take
            position += take
        low = high
    return cost


def hours_cost(az_hours: float, prices: RegionPrices) -> float:
    return az_hours * prices.az_hour
