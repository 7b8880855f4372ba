"""The data gate and the training gate at their boundaries, with the exact messages a user reads."""

from pathlib import Path

import pytest

from audits.config import AuditsConfig
from governance.components import Component
from governance.reasons import Decision
from governance.report import GovernanceReport, Obligations
from pipeline.config import DataGateConfig
from pipeline.gates import data_gate, train_gate
from training.report import ComputeRecord, TrainingReport


def governance(
    keep: int, drop: int = 0, quarantine: int = 0, eval_n: int = 0, conflicts=()
) -> GovernanceReport:
    """A report with the given decision counts; nothing else in it matters to the data gate."""
    total = keep + drop + quarantine
    return GovernanceReport(
        source="test",
        records_in=total,
        decisions={Decision.KEEP: keep, Decision.DROP: drop, Decision.QUARANTINE: quarantine},
        reasons={},
        licenses_kept={},
        split_counts={"train": keep - eval_n, "eval": eval_n},
        obligations=Obligations(conflicts=list(conflicts)),
        manifest_path=Path("manifest.parquet"),
        governed_path=Path("governed.parquet"),
        dataset_digest="0" * 64,
        manifest_digest="0" * 64,
    )


def rows_by_name(rows) -> dict:
    return {r.name: r for r in rows}


CFG = DataGateConfig(min_kept=10, max_dropped_share=0.5, max_quarantined_share=0.25)


def test_kept_records_passes_exactly_at_the_minimum_and_fails_one_below():
    at = rows_by_name(data_gate(governance(keep=10), CFG))["kept_records"]
    assert at.passed and (at.measured, at.threshold) == (10, 10)
    assert at.message == "10 records kept of 10; at least 10 are needed"
    below = rows_by_name(data_gate(governance(keep=9, drop=1), CFG))["kept_records"]
    assert not below.passed and below.measured == 9
    assert below.message == (
        "9 records kept of 10; at least 10 are needed"
        " — fix the reasons in the manifest, add data, or lower data_gate.min_kept"
    )


@pytest.mark.parametrize(
    ("name", "at", "past", "measured_past", "said_at", "said_past"),
    [
        (
            "dropped_share",
            {"keep": 10, "drop": 10},
            {"keep": 10, "drop": 11},
            round(11 / 21, 4),
            "50.0% of records dropped; at most 50% allowed",
            "52.4% of records dropped; at most 50% allowed"
            " — see the exclusions by reason in the datasheet, or raise data_gate.max_dropped_share",
        ),
        (
            "quarantined_share",
            {"keep": 30, "quarantine": 10},
            {"keep": 29, "quarantine": 11},
            0.275,
            "25.0% of records need a human decision; at most 25% allowed",
            "27.5% of records need a human decision; at most 25% allowed"
            " — review the quarantined records (unknown licences) or fix their metadata",
        ),
    ],
)
def test_a_share_passes_at_its_maximum_and_fails_one_record_past_it(
    name, at, past, measured_past, said_at, said_past
):
    at_row = rows_by_name(data_gate(governance(**at), CFG))[name]
    assert at_row.passed and at_row.measured == at_row.threshold == getattr(CFG, f"max_{name}")
    assert at_row.message == said_at
    past_row = rows_by_name(data_gate(governance(**past), CFG))[name]
    assert not past_row.passed and past_row.measured == measured_past
    assert past_row.message == said_past


def test_no_records_at_all_fail_the_minimum_without_dividing_by_zero():
    rows = rows_by_name(data_gate(governance(keep=0), CFG))
    assert not rows["kept_records"].passed
    assert rows["dropped_share"].measured == 0 and rows["dropped_share"].passed


def test_licence_conflicts_block_and_name_the_settings_to_change():
    clean = rows_by_name(data_gate(governance(keep=10), CFG))["license_conflicts"]
    assert clean.passed and (clean.measured, clean.threshold) == (0, 0)
    assert clean.message == "kept licences fit the intended use"
    rows = data_gate(governance(keep=10, conflicts=["CC-BY-NC-4.0 (3)", "GPL-3.0 (1)"]), CFG)
    row = rows_by_name(rows)["license_conflicts"]
    assert not row.passed and row.measured == 2
    assert row.message == (
        "kept data conflicts with the intended use: CC-BY-NC-4.0 (3); GPL-3.0 (1)"
        " — drop those licences (governance.licenses.deny) or change governance.licenses.intended_use"
    )


def test_licence_conflicts_are_not_a_row_when_the_config_does_not_block_on_them():
    cfg = CFG.model_copy(update={"block_on_license_conflict": False})
    names = [r.name for r in data_gate(governance(keep=10, conflicts=["GPL-3.0 (1)"]), cfg)]
    assert names == ["kept_records", "dropped_share", "quarantined_share"]


def test_rows_keep_their_order_and_stage_with_the_held_out_row_before_licences():
    rows = data_gate(governance(keep=10, eval_n=2), CFG, AuditsConfig())
    assert [r.name for r in rows] == [
        "kept_records",
        "dropped_share",
        "quarantined_share",
        "eval_records",
        "license_conflicts",
    ]
    assert {r.stage for r in rows} == {"data_gate"}


def test_held_out_row_records_only_and_warns_one_below_what_the_quality_audit_needs():
    audits = AuditsConfig.model_validate({"quality": {"min_heldout_images": 5}})
    at = rows_by_name(data_gate(governance(keep=10, eval_n=5), CFG, audits))["eval_records"]
    assert at.passed and at.threshold is None and at.measured == 5
    assert at.message == "5 records held out for the audits"
    below = rows_by_name(data_gate(governance(keep=10, eval_n=4), CFG, audits))["eval_records"]
    # too few held out never blocks training: the quality audit withholds approval later
    assert below.passed and below.threshold is None
    assert below.message == (
        "4 records held out for the audits; the quality audit's FD and alignment checks need at least 5 "
        "(audits.quality.min_heldout_images): they will be NOT MEASURED and withhold approval unless "
        "named in audits.quality.allow_unmeasured — raise governance.dedup.eval_fraction or add data"
    )


def test_held_out_row_says_record_for_one():
    audits = AuditsConfig.model_validate({"quality": {"min_heldout_images": 2}})
    row = rows_by_name(data_gate(governance(keep=10, eval_n=1), CFG, audits))["eval_records"]
    assert row.message.startswith("1 record held out for the audits; ")


def training(tmp_path: Path, used_s: float, budget_s: float = 1000.0, steps: int = 5, model: bool = True):
    """A training report; `model` writes the model_index.json the gate looks for."""
    model_dir = tmp_path / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    if model:
        (model_dir / "model_index.json").write_text("{}", encoding="utf-8")
    return TrainingReport(
        model_dir=model_dir,
        checkpoint_dir=tmp_path / "checkpoints",
        stopped_reason="budget",
        budget_s=budget_s,
        steps=steps,
        images_seen=steps * 4,
        throughput_images_per_s=1.0,
        final_loss=None,
        text_encoder=Component(name="t", kind="model weights", license="MIT"),
        compute=ComputeRecord(
            device_type="cpu",
            device_name="cpu",
            device_count=1,
            cpu="cpu",
            wall_clock_s=used_s,
            device_hours=0.0,
            precision="fp32",
            price_per_device_hour=None,
            currency="USD",
            estimated_cost=None,
            cost_assumptions="none",
        ),
    )


@pytest.mark.parametrize(
    ("budget_s", "allowed_s"),
    [(1000.0, 1020.0), (100.0, 110.0)],  # the slack: 2% of the budget, at least 10 s
)
def test_within_budget_passes_at_the_slack_and_fails_just_past_it(tmp_path, budget_s, allowed_s):
    at = rows_by_name(train_gate(training(tmp_path, allowed_s, budget_s)))["within_budget"]
    assert at.passed and at.threshold == allowed_s
    assert at.message == f"training used {allowed_s:.0f}s of its {budget_s:.0f}s budget"
    past = rows_by_name(train_gate(training(tmp_path, allowed_s + 0.1, budget_s)))["within_budget"]
    assert not past.passed and past.measured == round(allowed_s + 0.1, 1)
    assert past.message == (
        f"training used {allowed_s:.0f}s of its {budget_s:.0f}s budget"
        " — it overran; report this as a bug with the run's logs"
    )


def test_model_saved_fails_without_model_index_and_names_the_folder(tmp_path):
    ok = rows_by_name(train_gate(training(tmp_path, 1.0)))["model_saved"]
    assert ok.passed and (ok.measured, ok.threshold) == ("yes", "yes")
    assert ok.message == "the final model was saved"
    missing = rows_by_name(train_gate(training(tmp_path / "x", 1.0, model=False)))["model_saved"]
    assert not missing.passed and missing.measured == "no"
    assert missing.message == f"no model in {tmp_path / 'x' / 'model'}"


def test_steps_pass_at_one_and_fail_at_zero_naming_the_budget_setting(tmp_path):
    one = rows_by_name(train_gate(training(tmp_path, 1.0, steps=1)))["steps"]
    assert one.passed and (one.measured, one.threshold) == (1, 1)
    assert one.message == "1 optimiser steps"
    zero = rows_by_name(train_gate(training(tmp_path, 1.0, steps=0)))["steps"]
    assert not zero.passed
    assert zero.message == "0 optimiser steps — no step fitted in the budget; raise run.budget"


def test_train_gate_rows_in_order_on_the_train_stage(tmp_path):
    rows = train_gate(training(tmp_path, 1.0))
    assert [(r.stage, r.name) for r in rows] == [
        ("train", "within_budget"),
        ("train", "model_saved"),
        ("train", "steps"),
    ]
