"""Stage names, their order, and the groups `--until` accepts."""

from enum import StrEnum

from audits.report import AUDITS
from governance.stage_names import GOVERNANCE_STAGES as GOVERNANCE_PASSES
from pipeline.errors import UsageError

# The whole run in order. Governance's passes and the audits are named where their packages list them
# (each package reads its own list and may not import pipeline/); the stages only the spine runs are
# named here. Built from those lists rather than spelled again, so a pass or an audit added to its
# package's list is a stage of the run, in its package's order.
RUN_ORDER: tuple[str, ...] = (*GOVERNANCE_PASSES, "data_gate", "train", *AUDITS, "card")

Stage = StrEnum("Stage", [(name.upper(), str(name)) for name in RUN_ORDER], module=__name__)
Stage.__doc__ = "A stage of the run, by the name its reports, MLflow runs and `--until` carry."

ORDER: tuple[Stage, ...] = tuple(Stage)

# The per-record governance passes, in the order they decide (the data gate then finalizes them).
GOVERNANCE_STAGES: tuple[Stage, ...] = tuple(Stage(s) for s in GOVERNANCE_PASSES)
# The model audits, in run order: each writes reports/<stage>.json and its own card section.
AUDIT_STAGES: tuple[Stage, ...] = tuple(Stage(a) for a in AUDITS)
# Stages whose gates decide the verdict: a run missing one of them is incomplete.
GATED_STAGES: tuple[Stage, ...] = (Stage.DATA_GATE, Stage.TRAIN, *AUDIT_STAGES)
# What `--resume RUN --from STAGE` may rerun without retraining.
RERUNNABLE: tuple[Stage, ...] = (*AUDIT_STAGES, Stage.CARD)

GROUPS: dict[str, Stage] = {
    "governance": Stage.DATA_GATE,
    "train": Stage.TRAIN,
    "audits": AUDIT_STAGES[-1],
    "card": Stage.CARD,
}


def resolve_until(value: str | None) -> Stage:
    """The last stage to run for `--until VALUE` (a stage name or a group)."""
    if value is None:
        return Stage.CARD
    if value in GROUPS:
        return GROUPS[value]
    try:
        return Stage(value)
    except ValueError:
        allowed = ", ".join([*GROUPS, *(s.value for s in ORDER if s.value not in GROUPS)])
        raise UsageError(f"--until {value!r} is not a stage or group; use one of: {allowed}") from None
