"""The gates: thresholds from the config, measured values from the stage reports, verdicts in plain words."""

from audits.config import AuditsConfig
from audits.report import AuditReport
from governance.reasons import Decision
from governance.report import GovernanceReport
from model_cards.inputs import GateRow
from pipeline.config import DataGateConfig
from training.report import TrainingReport


def _row(
    stage: str,
    name: str,
    measured: float | str | None,
    threshold: float | str | None,
    passed: bool,
    message: str,
    fix: str = "",
) -> GateRow:
    """One gate row: `message` says what was measured; `fix`, the setting or action to change, is added
    only when the row failed, so a passing row never tells the user to change anything."""
    if fix and not passed:
        message = f"{message} — {fix}"
    return GateRow(
        stage=stage, name=name, measured=measured, threshold=threshold, passed=passed, message=message
    )


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
        _row(
            "data_gate",
            "kept_records",
            kept,
            cfg.min_kept,
            kept >= cfg.min_kept,
            f"{kept} records kept of {report.records_in}; at least {cfg.min_kept} are needed",
            "fix the reasons in the manifest, add data, or lower data_gate.min_kept",
        ),
        _row(
            "data_gate",
            "dropped_share",
            round(dropped, 4),
            cfg.max_dropped_share,
            dropped <= cfg.max_dropped_share,
            f"{dropped:.1%} of records dropped; at most {cfg.max_dropped_share:.0%} allowed",
            "see the exclusions by reason in the datasheet, or raise data_gate.max_dropped_share",
        ),
        _row(
            "data_gate",
            "quarantined_share",
            round(quarantined, 4),
            cfg.max_quarantined_share,
            quarantined <= cfg.max_quarantined_share,
            f"{quarantined:.1%} of records need a human decision; at most {cfg.max_quarantined_share:.0%} allowed",
            "review the quarantined records (unknown licences) or fix their metadata",
        ),
    ]
    if audits is not None:
        rows.append(_eval_row(report, audits))
    conflicts = report.obligations.conflicts
    if cfg.block_on_license_conflict:
        rows.append(
            _row(
                "data_gate",
                "license_conflicts",
                len(conflicts),
                0,
                not conflicts,
                "kept data conflicts with the intended use: " + "; ".join(conflicts)
                if conflicts
                else "kept licences fit the intended use",
                "drop those licences (governance.licenses.deny) or change governance.licenses.intended_use",
            )
        )
    return rows


def _eval_row(report: GovernanceReport, audits: AuditsConfig) -> GateRow:
    """The held-out count against what the quality audit needs: recorded, never blocking training."""
    held_out = int(report.split_counts.get("eval", 0))
    need = audits.quality.min_heldout_images
    message = f"{held_out} record{'' if held_out == 1 else 's'} held out for the audits"
    if held_out < need:
        # a warning on a row that passes: the fix is part of the message, not _row's `fix`
        message += (
            f"; the quality audit's FD and alignment checks need at least {need} "
            "(audits.quality.min_heldout_images): they will be NOT MEASURED and withhold approval unless "
            "named in audits.quality.allow_unmeasured — raise governance.dedup.eval_fraction or add data"
        )
    return _row("data_gate", "eval_records", held_out, None, True, message)


def train_gate(report: TrainingReport) -> list[GateRow]:
    """Did training run inside its budget and leave a usable model?"""
    allowed = report.budget_s + max(0.02 * report.budget_s, 10.0)
    used = report.compute.wall_clock_s
    has_model = (report.model_dir / "model_index.json").is_file()
    return [
        _row(
            "train",
            "within_budget",
            round(used, 1),
            round(allowed, 1),
            used <= allowed,
            f"training used {used:.0f}s of its {report.budget_s:.0f}s budget",
            "it overran; report this as a bug with the run's logs",
        ),
        _row(
            "train",
            "model_saved",
            "yes" if has_model else "no",
            "yes",
            has_model,
            "the final model was saved" if has_model else f"no model in {report.model_dir}",
        ),
        _row(
            "train",
            "steps",
            report.steps,
            1,
            report.steps >= 1,
            f"{report.steps} optimiser steps",
            "no step fitted in the budget; raise run.budget",
        ),
    ]


def audit_gate(report: AuditReport) -> list[GateRow]:
    """Every audit check becomes one gate row."""
    return GateRow.of_audit(report)
