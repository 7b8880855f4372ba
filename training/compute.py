"""Compute disclosure: device, CPU, device-hours, FLOPs per image, MFU, energy; prices: training.prices."""

import logging
import platform
import warnings
from dataclasses import dataclass

import torch

# Dense bf16/fp16 tensor-core peaks (FLOP/s) from the vendors' datasheets, for MFU. Unknown devices: no MFU.
PEAK_BF16_FLOPS = {
    "H100 SXM": 989.4e12,
    "H100 80GB HBM3": 989.4e12,
    "H100 PCIe": 756.5e12,
    "H100 NVL": 835.5e12,
    "H100": 989.4e12,
    "H200": 989.4e12,
    "GH200": 989.4e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L4": 121e12,
    "A10G": 70e12,
    "B200": 2250e12,
}
# codecarbon modes that read a real power/energy counter; the others (cpu_load, constant) estimate from TDP.
MEASURED_CPU_MODES = ("intel_rapl", "windows_emi", "intel_power_gadget")


def cpu_name() -> str:
    """The CPU model as /proc/cpuinfo (or platform) names it, with the logical core count."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import os

    return f"{name} ({os.cpu_count()} logical cores)"


def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bf16 in hardware (AVX512-BF16 or AMX), read from /proc/cpuinfo (Linux)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def device_description(device: torch.device) -> tuple[str, str]:
    """(device_type, device_name)."""
    if device.type == "cuda":
        return "cuda", torch.cuda.get_device_name(device)
    return device.type, cpu_name()


def peak_flops(device_name: str, precision: str) -> float | None:
    """The device's dense peak at the training precision; None when unknown (then MFU is not reported)."""
    for key, value in PEAK_BF16_FLOPS.items():
        if key in device_name:
            return value if precision in ("bf16", "fp16") else None
    return None


def flops_per_image(step_fn, batch: int) -> float:
    """FLOPs of one training step (forward + backward) divided by its batch, counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        step_fn()
    return counter.get_total_flops() / batch


@dataclass
class EnergyResult:
    kwh: float | None
    method: str
    co2_kg: float | None


class EnergyMeter:
    """codecarbon's offline tracker, trusted only for components read from a real counter (RAPL, NVML).

    Where codecarbon would fall back to a TDP-based estimate the result is "not measured": a guess is
    never shown as a measurement.
    """

    def __init__(self, country_iso_code: str, enabled: bool = True):
        self.tracker = None
        self.error: str | None = None
        self.result: EnergyResult | None = None
        if not enabled:
            self.error = "disabled in the config"
            return
        try:
            from codecarbon import OfflineEmissionsTracker

            logging.getLogger("codecarbon").setLevel(logging.ERROR)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # codecarbon warns about unknown CPUs; that is reported below
                self.tracker = OfflineEmissionsTracker(
                    country_iso_code=country_iso_code,
                    save_to_file=False,
                    log_level="error",
                    measure_power_secs=15,
                )
                self.tracker.start()
        except Exception as err:  # an energy meter must never stop training
            self.tracker, self.error = None, f"codecarbon unavailable: {type(err).__name__}: {err}"

    def stop(self) -> EnergyResult:
        """Stop tracking; the energy read from real counters, or None with the reason."""
        if self.result is not None:
            return self.result
        if self.tracker is None:
            return EnergyResult(None, f"not measured ({self.error})", None)
        self.result = self._stop_tracker()
        return self.result

    def _stop_tracker(self) -> EnergyResult:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.tracker.stop()
            data = self.tracker.final_emissions_data
            hardware = list(getattr(self.tracker, "_hardware", []))
        except Exception as err:
            return EnergyResult(None, f"not measured (codecarbon failed: {type(err).__name__})", None)
        measured_kwh, parts = 0.0, []
        for hw in hardware:
            kind = type(hw).__name__
            if kind == "CPU" and getattr(hw, "_mode", "") in MEASURED_CPU_MODES:
                measured_kwh += float(data.cpu_energy)
                parts.append(f"CPU via {hw._mode}")
            elif kind == "GPU":
                measured_kwh += float(data.gpu_energy)
                parts.append("GPU via NVML")
        if not parts:
            return EnergyResult(
                None,
                "not measured (no RAPL or NVML counter readable; codecarbon would only estimate from TDP)",
                None,
            )
        share = measured_kwh / float(data.energy_consumed) if data.energy_consumed else 0.0
        return EnergyResult(
            measured_kwh,
            f"codecarbon {', '.join(parts)} (RAM excluded: estimated, not measured)",
            float(data.emissions) * share,
        )
