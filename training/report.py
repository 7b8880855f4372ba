"""The typed training report: what was trained, on what, for how long, at what cost."""

from pathlib import Path

from pydantic import BaseModel, Field

from governance.components import Component


class ComputeRecord(BaseModel):
    device_type: str  # "cpu" | "cuda"
    device_name: str  # e.g. "NVIDIA H100 80GB HBM3" or the CPU model
    device_count: int
    cpu: str
    processes: int = 1
    wall_clock_s: float
    device_hours: float
    precision: str
    speed_options: dict[str, bool | str] = Field(default_factory=dict)
    flops_per_image: float | None = None
    mfu: float | None = None  # GPUs only, during training steps
    energy_kwh: float | None = None
    energy_method: str = "not measured"
    co2_kg: float | None = None
    price_per_device_hour: float | None  # None: no price for this device, the cost is not estimated
    currency: str
    estimated_cost: float | None
    cost_assumptions: str
    # the applied price as stated, where it comes from and when (training.prices); defaults: older reports
    price_rate: str = "not recorded"
    price_source: str = "not recorded"
    price_as_of: str | None = None
    price_setting: str = "training.price_per_device_hour"


class TrainingReport(BaseModel):
    model_dir: Path
    checkpoint_dir: Path
    stopped_reason: str  # "budget" | "max_steps" | ...
    budget_s: float
    steps: int
    images_seen: int
    throughput_images_per_s: float  # images seen / whole wall-clock (set-up, compiling, saves included)
    # images / time in training iterations (steps and log points, not checkpoints; this attempt); MFU uses it
    step_images_per_s: float | None = None
    final_loss: float | None
    resumed_from_step: int | None = None
    architecture: dict[str, str | int | float] = Field(default_factory=dict)
    parameters: dict[str, int] = Field(default_factory=dict)  # {"denoiser": N, "text_encoder": M}
    text_encoder: Component
    compute: ComputeRecord
    inference_images_per_s: float | None = None
    cost_per_million_images: float | None = None
    sampler: dict[str, str | int | float] = Field(default_factory=dict)
    sample_grids: list[Path] = Field(default_factory=list)
    charts: list[Path] = Field(default_factory=list)
    components: list[Component] = Field(default_factory=list)
    model_digest: str = ""  # sha256 over the model directory's files
