"""The gates: thresholds from the config, measured values from the stage reports, verdicts in plain words."""

from audits.config import AuditsConfig
from audits.report import AuditReport
from governance.reasons import Decision
from governance.report import GovernanceReport
from model_cards.inputs import GateRow
from pipeline.config import DataGateConfig
from training.report import TrainingReport


def data_gate(
    report: GovernanceReport, cfg: DataGateConfig, audits: AuditsConfig | None = None
) -> list[GateRow]:
    """May training start on this data? Counts, shares and licence obligations against the config.

    With `audits`, one more row records the held-out count and says, before any training, when it is too
    small for the quality audit (its checks will then be not measured and withhold approval).
    """
    total = max(report.records_in, 1)
    kept = report.decisions.get(Decision.KEEP, 0)
    dropped = report.decisions.get(Decision.DROP, 0) / total
    quarantined = report.decisions.get(Decision.QUARANTINE, 0) / total
    rows = [
        GateRow(
            stage="data_gate",
            name="kept_records",
            measured=kept,
            threshold=cfg.min_kept,
            passed=kept >= cfg.min_kept,
            message=f"{kept} records kept of {report.records_in}; at least {cfg.min_kept} are needed"
            + (
                ""
                if kept >= cfg.min_kept
                else " — fix the reasons in the manifest, add data, or lower data_gate.min_kept"
            ),
        ),
        GateRow(
            stage="data_gate",
            name="dropped_share",
            measured=round(dropped, 4),
            threshold=cfg.max_dropped_share,
            passed=dropped <= cfg.max_dropped_share,
            message=f"{dropped:.1%} of records dropped; at most {cfg.max_dropped_share:.0%} allowed"
            + (
                ""
                if dropped <= cfg.max_dropped_share
                else " — see the exclusions by reason in the datasheet, or raise data_gate.max_dropped_share"
            ),
        ),
        GateRow(
            stage="data_gate",
            name="quarantined_share",
            measured=round(quarantined, 4),
            threshold=cfg.max_quarantined_share,
            passed=quarantined <= cfg.max_quarantined_share,
            message=f"{quarantined:.1%} of records need a human decision; at most {cfg.max_quarantined_share:.0%}"
            " allowed"
            + (
                ""
                if quarantined <= cfg.max_quarantined_share
                else " — review the quarantined records (unknown licences) or fix their metadata"
            ),
        ),
    ]
    if audits is not None:
        rows.append(_eval_row(report, audits))
    conflicts = report.obligations.conflicts
    if cfg.block_on_license_conflict:
        rows.append(
            GateRow(
                stage="data_gate",
                name="license_conflicts",
                measured=len(conflicts),
                threshold=0,
                passed=not conflicts,
                message="kept licences fit the intended use"
                if not conflicts
                else "kept data conflicts with the intended use: "
                + "; ".join(conflicts)
                + " — drop those licences (governance.licenses.deny) or change governance.licenses.intended_use",
            )
        )
    return rows


def _eval_row(report: GovernanceReport, audits: AuditsConfig) -> GateRow:
    """The held-out count against what the quality audit needs: recorded, never blocking training."""
    held_out = int(report.split_counts.get("eval", 0))
    need = audits.quality.min_heldout_images
    message = f"{held_out} record{'' if held_out == 1 else 's'} held out for the audits"
    if held_out < need:
        message += (
            f"; the quality audit's FD and alignment checks need at least {need} "
            "(audits.quality.min_heldout_images): they will be NOT MEASURED and withhold approval unless "
            "named in audits.quality.allow_unmeasured — raise governance.dedup.eval_fraction or add data"
        )
    return GateRow(
        stage="data_gate",
        name="eval_records",
        measured=held_out,
        threshold=None,
        passed=True,
        message=message,
    )


def train_gate(report: TrainingReport, budget_s: float) -> list[GateRow]:
    """Did training run inside its budget and leave a usable model?"""
    allowed = report.budget_s + max(0.02 * report.budget_s, 10.0)
    used = report.compute.wall_clock_s
    has_model = (report.model_dir / "model_index.json").is_file()
    return [
        GateRow(
            stage="train",
            name="within_budget",
            measured=round(used, 1),
            threshold=round(allowed, 1),
            passed=used <= allowed,
            message=f"training used {used:.0f}s of its {report.budget_s:.0f}s budget"
            + ("" if used <= allowed else " — it overran; report this as a bug with the run's logs"),
        ),
        GateRow(
            stage="train",
            name="model_saved",
            measured="yes" if has_model else "no",
            threshold="yes",
            passed=has_model,
            message="the final model was saved" if has_model else f"no model in {report.model_dir}",
        ),
        GateRow(
            stage="train",
            name="steps",
            measured=report.steps,
            threshold=1,
            passed=report.steps >= 1,
            message=f"{report.steps} optimiser steps"
            + ("" if report.steps >= 1 else " — no step fitted in the budget; raise run.budget"),
        ),
    ]


def audit_gate(report: AuditReport) -> list[GateRow]:
    """Every audit check becomes one gate row."""
    return GateRow.of_audit(report)
