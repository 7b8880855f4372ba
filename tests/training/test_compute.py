import pytest

from training.compute import EnergyMeter, flops_per_image, peak_flops


def test_energy_is_measured_or_says_not_measured():
    """codecarbon's TDP fallback must never be reported as a measurement."""
    meter = EnergyMeter("USA")
    result = meter.stop()
    assert meter.stop() is result  # stopping twice is harmless (the finally path does it)
    if result.kwh is None:
        assert result.method.startswith("not measured")
    else:
        assert result.kwh >= 0 and ("RAPL" in result.method.upper() or "NVML" in result.method)


def test_disabled_meter_says_why():
    result = EnergyMeter("USA", enabled=False).stop()
    assert result.kwh is None and "disabled" in result.method


def test_flops_of_a_linear_layer_forward_and_backward():
    import torch

    layer = torch.nn.Linear(8, 4, bias=False)
    x = torch.randn(3, 8)

    def step():
        layer(x).sum().backward()

    # forward 2*3*8*4, backward (grad of weight only: x does not require grad) 2*3*8*4
    assert flops_per_image(step, batch=3) == pytest.approx(2 * 2 * 8 * 4)


def test_mfu_peak_only_for_known_gpus_at_low_precision():
    assert peak_flops("NVIDIA H100 80GB HBM3", "bf16") == pytest.approx(989.4e12)
    assert peak_flops("NVIDIA H100 80GB HBM3", "fp32") is None
    assert peak_flops("Mystery Accelerator", "bf16") is None


# Device names as torch.cuda.get_device_name reports them on those GPUs.
@pytest.mark.parametrize(
    ("device_name", "entry"),
    [
        ("NVIDIA H100 80GB HBM3", "H100"),
        ("NVIDIA H100 PCIe", "H100"),
        ("NVIDIA A100-SXM4-40GB", "A100"),
        ("NVIDIA A100-SXM4-80GB", "A100 80GB"),
        ("NVIDIA A100 80GB PCIe", "A100 80GB"),
        ("Tesla V100-SXM2-16GB", "V100"),
        ("NVIDIA A10G", "A10G"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA L40S", "L40S"),
        ("Tesla T4", "T4"),
    ],
)
def test_gpu_names_find_their_own_price(device_name, entry):
    from training.prices import DEFAULT_GPU_PRICES, PriceTable, applied_price

    price = applied_price("cuda", device_name, PriceTable(), "USD")
    assert price.per_device_hour == DEFAULT_GPU_PRICES[entry].price
    assert price.setting == f"training.prices.gpus.{entry}.price"
    assert price.source == DEFAULT_GPU_PRICES[entry].source and price.as_of


@pytest.mark.parametrize(
    ("device_type", "device_name"),
    [("cuda", "NVIDIA H200"), ("cuda", "NVIDIA GH200 480GB"), ("cuda", "NVIDIA A10"), ("mps", "Apple M2")],
)
def test_an_unpriced_accelerator_is_not_estimated_and_names_the_setting(device_type, device_name):
    from training.prices import PriceTable, applied_price, estimate_cost

    price = applied_price(device_type, device_name, PriceTable(), "USD")
    cost = estimate_cost(price, device_hours=2.0, device_count=1, currency="USD")
    assert price.per_device_hour is None and cost.estimated_cost is None
    assert "not estimated" in cost.cost_assumptions and "training.prices.gpus." in cost.cost_assumptions
    assert "training.price_per_device_hour" in cost.price_setting


def test_a_cpu_run_is_priced_per_logical_core_hour():
    from training.prices import DEFAULT_CPU_CORE_HOUR, PriceTable, applied_price, estimate_cost

    price = applied_price("cpu", "Intel Xeon (16 logical cores)", PriceTable(), "USD", cores=16)
    assert price.per_device_hour == pytest.approx(16 * DEFAULT_CPU_CORE_HOUR.price)
    cost = estimate_cost(price, device_hours=0.5, device_count=1, currency="USD")
    assert cost.estimated_cost == pytest.approx(8 * DEFAULT_CPU_CORE_HOUR.price)
    assert "x 16 cores" in cost.price_rate and cost.price_as_of == DEFAULT_CPU_CORE_HOUR.as_of


def test_defaults_state_provider_instance_region_date_and_the_division():
    import re

    from training.prices import DEFAULT_CPU_CORE_HOUR, DEFAULT_GPU_PRICES

    for entry in [DEFAULT_CPU_CORE_HOUR, *DEFAULT_GPU_PRICES.values()]:
        m = re.search(
            r"AWS EC2 On-Demand, Linux, us-east-1: (\S+) \((\d+) x .*\) at ([\d.]+) USD/h / (\d+)",
            entry.source,
        )
        if entry is DEFAULT_CPU_CORE_HOUR:
            m = re.search(
                r"AWS EC2 On-Demand, Linux, us-east-1: (\S+) \((\d+) vCPU.*\) at ([\d.]+) USD/h / (\d+)",
                entry.source,
            )
        assert m, entry.source
        assert entry.price == pytest.approx(float(m[3]) / int(m[4])) and m[2] == m[4]
        assert re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", entry.as_of or "")
        assert "https://aws.amazon.com/ec2/pricing/on-demand/" in entry.source


def test_prices_are_overridden_in_the_config_one_entry_at_a_time():
    from pipeline.config import build_config
    from training.prices import DEFAULT_GPU_PRICES, applied_price

    cfg = build_config({}, ["training.prices.gpus.H200.price=3.5", "training.prices.gpus.H100.price=2.99"])
    prices = cfg.training.prices
    assert prices.gpus["A100"] == DEFAULT_GPU_PRICES["A100"]  # the other defaults stay
    h200 = applied_price("cuda", "NVIDIA H200", prices, "USD")
    assert h200.per_device_hour == 3.5 and h200.source == "set in the run config" and h200.as_of is None
    assert applied_price("cuda", "NVIDIA H100 80GB HBM3", prices, "USD").per_device_hour == 2.99
    flat = build_config({}, ["training.price_per_device_hour=1.25"]).training
    for device in (("cuda", "NVIDIA H200"), ("cpu", "Intel Xeon")):
        p = applied_price(*device, flat.prices, "USD", flat.price_per_device_hour)
        assert p.per_device_hour == 1.25 and p.setting == "training.price_per_device_hour"


def test_a_bad_price_entry_is_a_config_error():
    from pipeline.config import build_config
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match=r"training\.prices\.gpus\.H200\.price"):
        build_config({}, ["training.prices.gpus.H200.price=cheap"])
    with pytest.raises(
        ConfigError, match=r"training\.prices\.gpus\.H200\.cost.*allowed keys: price, source, as_of"
    ):
        build_config({}, ["training.prices.gpus.H200.cost=3"])
