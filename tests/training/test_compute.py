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
