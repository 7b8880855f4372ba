"""The card states the price a run got, its source and date, or that the cost was not estimated and why."""

from pathlib import Path

from model_cards.api import render_card
from model_cards.formatting import fmt_number
from training.prices import PriceTable, applied_price, estimate_cost


def _with_device(inputs, device_type: str, device_name: str, config: PriceTable | None = None):
    compute = inputs.training.compute
    price = applied_price(device_type, device_name, config or PriceTable(), "USD", cores=4)
    cost = estimate_cost(price, compute.device_hours, 1, "USD")
    compute = compute.model_copy(
        update={"device_type": device_type, "device_name": device_name, **cost.model_dump()}
    )
    training = inputs.training.model_copy(update={"compute": compute})
    return inputs.model_copy(update={"training": training}), cost


def _readme(inputs, out: Path) -> str:
    text = render_card(inputs, out).readme_path.read_text(encoding="utf-8")
    return text.replace("\\", "")  # Markdown escapes are not what a reader sees


def test_a_priced_gpu_run_states_price_source_and_date(make_inputs, tmp_path):
    inputs, cost = _with_device(make_inputs(), "cuda", "NVIDIA H100 80GB HBM3")
    text = _readme(inputs, tmp_path / "card")
    assert "| price applied |" in text and cost.price_rate in text
    assert "p5.48xlarge" in text and f"(as of {cost.price_as_of})" in text
    rows = [line for line in text.splitlines() if line.startswith("| estimated cost |")]
    assert rows and all(f"{fmt_number(cost.estimated_cost)} USD" in row for row in rows)


def test_an_unpriced_gpu_says_not_estimated_and_names_the_setting(make_inputs, tmp_path):
    inputs, _ = _with_device(make_inputs(), "cuda", "NVIDIA H200")
    text = _readme(inputs, tmp_path / "card")
    rows = [line for line in text.splitlines() if line.startswith("| estimated cost |")]
    assert len(rows) == 2  # the compute table and the at-a-glance table
    for row in rows:
        assert "not estimated" in row and "training.prices.gpus.H200.price" in row
    assert "0.048" not in text.split("## Training procedure and compute")[1].split("##")[0]  # no CPU rate


def test_a_cpu_run_states_the_core_hour_rate(make_inputs, tmp_path):
    inputs, _ = _with_device(make_inputs(), "cpu", "Intel Xeon (4 logical cores)")
    text = _readme(inputs, tmp_path / "card")
    assert "per logical core-hour x 4 cores" in text and "m5.large" in text
