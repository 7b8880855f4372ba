"""Re-price recorded training runs with `training.prices`: the old flat 0.10 per device-hour vs the
device's dated list price.

Reads the compute records already committed under benchmarks/results/ (real runs: device name,
device-hours, inference rate) and applies the price table the current code would apply, so the
difference is the pricing alone; nothing is trained.

    python benchmarks/cost_reprice.py [--out benchmarks/results/cost_reprice.json]
"""

import argparse
import json
from pathlib import Path

from training.config import TrainingConfig
from training.prices import applied_price, estimate_cost

RESULTS = Path(__file__).parent / "results"
OLD_FLAT_PRICE = 0.10  # the former training.price_per_device_hour default, for every device


def reprice(name: str, compute: dict, inference_images_per_s: float | None, cores: int | None) -> dict:
    cfg = TrainingConfig()
    price = applied_price(
        compute["device_type"], compute["device_name"], cfg.prices, cfg.currency, cores=cores
    )
    cost = estimate_cost(price, compute["device_hours"], compute["device_count"], cfg.currency)
    per_million = (
        1e6 / inference_images_per_s / 3600 * price.per_device_hour
        if inference_images_per_s and price.per_device_hour is not None
        else None
    )
    old = compute["device_hours"] * OLD_FLAT_PRICE
    return {
        "record": name,
        "device": f"{compute['device_count']} x {compute['device_name']} ({compute['device_type']})",
        "device_hours": compute["device_hours"],
        "old_price_per_device_hour": OLD_FLAT_PRICE,
        "old_estimated_cost": old,
        "price_rate": cost.price_rate,
        "price_source": cost.price_source,
        "price_as_of": cost.price_as_of,
        "price_per_device_hour": cost.price_per_device_hour,
        "estimated_cost": cost.estimated_cost,
        "ratio_new_to_old": cost.estimated_cost / old if cost.estimated_cost is not None and old else None,
        "cost_per_million_images": per_million,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "cost_reprice.json")
    args = parser.parse_args()
    rows = []
    for path in sorted(RESULTS.glob("train_gpu_loop_*.json")):
        data = json.loads(path.read_text())
        rows.append(reprice(path.name, data["compute"], data.get("inference_images_per_s"), None))
    # a default CPU run as this project's 2-core machines record it (README's default run: 0.1799 device-hours)
    cpu = {
        "device_type": "cpu",
        "device_name": "AMD EPYC (2 logical cores)",
        "device_count": 1,
        "device_hours": 0.1799,
    }
    rows.append(reprice("README default run c89a753f (2-core CPU)", cpu, None, cores=2))
    # the same H100 record on an H200: no default price, so no estimate
    for row in list(rows):
        if "H100" in row["device"]:
            h200 = {
                "device_type": "cuda",
                "device_name": "NVIDIA H200",
                "device_count": 1,
                "device_hours": row["device_hours"],
            }
            rows.append(reprice(f"{row['record']} as if on an H200", h200, None, None))
            break
    args.out.write_text(json.dumps({"benchmark": "cost_reprice", "rows": rows}, indent=2) + "\n")
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
