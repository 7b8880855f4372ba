"""Stage names, their order, and the groups `--until` accepts."""

from enum import StrEnum

from pipeline.errors import UsageError


class Stage(StrEnum):
    INGEST = "ingest"
    PROVENANCE = "provenance"
    DEDUP = "dedup"
    NSFW = "nsfw"
    DATA_GATE = "data_gate"
    TRAIN = "train"
    QUALITY = "quality"
    BIAS = "bias"
    DEEPFAKE = "deepfake"
    CARD = "card"


ORDER: tuple[Stage, ...] = tuple(Stage)

# The per-record governance passes, in the order they decide (the data gate then finalizes them).
GOVERNANCE_STAGES: tuple[Stage, ...] = (Stage.INGEST, Stage.PROVENANCE, Stage.DEDUP, Stage.NSFW)
# The model audits, in run order: each writes reports/<stage>.json and its own card section.
AUDIT_STAGES: tuple[Stage, ...] = (Stage.QUALITY, Stage.BIAS, Stage.DEEPFAKE)
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
