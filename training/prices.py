"""Cost as it would be billed: a dated, sourced on-demand price per device kind, and the price a run gets.

GPUs are priced per GPU-hour by name (an instance's on-demand price divided by its GPU count, so
the host's CPUs, memory and disk are included), CPUs per logical core-hour (a cloud vCPU is one
logical core). The defaults are public list prices as stated in each entry's `source` and `as_of`;
they are not fetched at run time and are meant to be overridden in the config. A device that has
no price is never priced at another device's rate: its cost is "not estimated", with the setting
that would estimate it.
"""

import os
import re
from datetime import date

from pydantic import BaseModel, Field, field_validator

from governance.config import FrozenConfig

AWS_PRICING_PAGE = "https://aws.amazon.com/ec2/pricing/on-demand/"
DEFAULTS_AS_OF = "2024-06"  # when the default list prices below were in effect, as stated in docs/cost.md
USER_SOURCE = "set in the run config"


class DevicePrice(FrozenConfig):
    """One price: per GPU-hour for a GPU entry, per logical core-hour for the CPU entry."""

    price: float = Field(ge=0, description="per GPU-hour (GPUs) or per logical core-hour (CPU)")
    source: str = Field(USER_SOURCE, description="where the price comes from")
    as_of: str | None = Field(None, description="when the price was taken, e.g. 2024-06")

    @field_validator("as_of", mode="before")
    @classmethod
    def _date_as_text(cls, value: object) -> object:
        # YAML reads `as_of: 2025-01-31` as a date
        return value.isoformat() if isinstance(value, date) else value


def _aws(instance: str, gpus: str, hourly: float, count: int, as_of: str = DEFAULTS_AS_OF) -> DevicePrice:
    return DevicePrice(
        price=hourly / count,
        source=f"AWS EC2 On-Demand, Linux, us-east-1: {instance} ({count} x {gpus}) at {hourly} USD/h "
        f"/ {count} ({AWS_PRICING_PAGE})",
        as_of=as_of,
    )


# Keys are matched against the device name torch reports, token by token ("A100 80GB" matches
# "NVIDIA A100-SXM4-80GB"); the entry with the most matching tokens wins.
DEFAULT_GPU_PRICES: dict[str, DevicePrice] = {
    "H100": _aws("p5.48xlarge", "H100 80GB SXM", 98.32, 8),
    "A100": _aws("p4d.24xlarge", "A100 40GB SXM", 32.7726, 8),
    "A100 80GB": _aws("p4de.24xlarge", "A100 80GB SXM", 40.9657, 8),
    "V100": _aws("p3.2xlarge", "V100 16GB", 3.06, 1),
    "A10G": _aws("g5.xlarge", "A10G 24GB", 1.006, 1),
    "L4": _aws("g6.xlarge", "L4 24GB", 0.8048, 1),
    "L40S": _aws("g6e.xlarge", "L40S 48GB", 1.861, 1),
    "T4": _aws("g4dn.xlarge", "T4 16GB", 0.526, 1),
}
DEFAULT_CPU_CORE_HOUR = DevicePrice(
    price=0.096 / 2,
    source="AWS EC2 On-Demand, Linux, us-east-1: m5.large (2 vCPU, 8 GiB) at 0.096 USD/h / 2 vCPUs "
    f"({AWS_PRICING_PAGE})",
    as_of=DEFAULTS_AS_OF,
)


class PriceTable(FrozenConfig):
    """Prices per device kind; `gpus` entries given in the config are added to (or replace) the defaults."""

    cpu_core_hour: DevicePrice = Field(
        DEFAULT_CPU_CORE_HOUR, description="price of one logical CPU core-hour"
    )
    gpus: dict[str, DevicePrice] = Field(
        default_factory=lambda: dict(DEFAULT_GPU_PRICES),
        description="price per GPU-hour by GPU name as torch reports it (e.g. H100, A100 80GB, L4); "
        "add a GPU with training.prices.gpus.<name>.price",
    )

    @field_validator("gpus", mode="before")
    @classmethod
    def _over_the_defaults(cls, value: object) -> object:
        # `--set training.prices.gpus.H100.price=2.99` must change one entry, not drop the others
        if isinstance(value, dict):
            return {**DEFAULT_GPU_PRICES, **value}
        return value


class AppliedPrice(BaseModel):
    """The price a run's device got, or why it got none."""

    per_device_hour: float | None  # None: cost not estimated
    unit: str  # what one priced unit is, e.g. "GPU-hour (H100)" or "logical CPU core-hour x 2 cores"
    rate: str  # the price as stated, e.g. "12.29 USD per GPU-hour"
    source: str
    as_of: str | None
    setting: str  # the config key that sets this price


def _tokens(text: str) -> set[str]:
    return set(re.split(r"[\s_\-/]+", text.upper())) - {""}


def match_gpu(device_name: str, gpus: dict[str, DevicePrice]) -> str | None:
    """The table key for a GPU name: every token of the key among the name's tokens, most tokens first."""
    name = _tokens(device_name)
    found = [key for key in gpus if _tokens(key) and _tokens(key) <= name]
    return max(found, key=lambda k: (len(_tokens(k)), len(k)), default=None)


def logical_cores() -> int:
    """Logical cores this process may run on (what a cloud bills as vCPUs)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def applied_price(
    device_type: str,
    device_name: str,
    prices: PriceTable,
    currency: str,
    flat: float | None = None,
    cores: int | None = None,
) -> AppliedPrice:
    """The price per device-hour of this device: `flat` if the user set one, else the table's entry."""
    if flat is not None:
        return AppliedPrice(
            per_device_hour=flat,
            unit=f"device-hour ({device_name})",
            rate=f"{flat:g} {currency} per device-hour",
            source=f"training.price_per_device_hour, {USER_SOURCE}",
            as_of=None,
            setting="training.price_per_device_hour",
        )
    if device_type == "cpu":
        cores = cores or logical_cores()
        p = prices.cpu_core_hour
        return AppliedPrice(
            per_device_hour=p.price * cores,
            unit=f"logical CPU core-hour x {cores} cores",
            rate=f"{p.price:.4g} {currency} per logical core-hour x {cores} cores",
            source=p.source,
            as_of=p.as_of,
            setting="training.prices.cpu_core_hour.price",
        )
    key = match_gpu(device_name, prices.gpus) if device_type == "cuda" else None
    if key is None:
        return AppliedPrice(
            per_device_hour=None,
            unit=f"device-hour ({device_name})",
            rate=f"no price for {device_name!r} ({device_type}) in training.prices",
            source="none",
            as_of=None,
            setting=f"training.prices.gpus.{_short(device_name)}.price (or training.price_per_device_hour)",
        )
    p = prices.gpus[key]
    return AppliedPrice(
        per_device_hour=p.price,
        unit=f"GPU-hour ({key})",
        rate=f"{p.price:.4g} {currency} per GPU-hour ({key})",
        source=p.source,
        as_of=p.as_of,
        setting=f"training.prices.gpus.{key}.price",
    )


def _short(device_name: str) -> str:
    # "NVIDIA H200" -> "H200": the vendor word is not needed to match
    words = [w for w in device_name.split() if w.upper() not in {"NVIDIA", "TESLA", "GEFORCE", "AMD"}]
    return " ".join(words) or device_name


class CostEstimate(BaseModel):
    """The cost fields of the compute record."""

    price_per_device_hour: float | None
    estimated_cost: float | None
    cost_assumptions: str
    price_rate: str
    price_source: str
    price_as_of: str | None
    price_setting: str


def estimate_cost(price: AppliedPrice, device_hours: float, device_count: int, currency: str) -> CostEstimate:
    """Device-hours times the applied price; "not estimated", with the setting to set, without a price."""
    scope = (
        "active training time only (set-up included, idle time after a kill excluded); "
        "on-demand list price, no discounts, storage or network"
    )
    if price.per_device_hour is None:
        cost, assumptions = (
            None,
            f"cost not estimated: {price.rate}; set {price.setting} to estimate it "
            "(a device without a price is never priced at another device's rate)",
        )
    else:
        cost = device_hours * price.per_device_hour
        assumptions = (
            f"{device_hours:.4f} device-hours ({device_count} device(s)) x {price.per_device_hour:.4g} "
            f"{currency} per device-hour [{price.rate}]; {scope}"
        )
    return CostEstimate(
        price_per_device_hour=price.per_device_hour,
        estimated_cost=cost,
        cost_assumptions=assumptions,
        price_rate=price.rate,
        price_source=price.source,
        price_as_of=price.as_of,
        price_setting=price.setting,
    )
