"""Stage names, their order, and the groups `--until` accepts."""

from enum import StrEnum


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

GROUPS: dict[str, Stage] = {
    "governance": Stage.DATA_GATE,
    "train": Stage.TRAIN,
    "audits": Stage.DEEPFAKE,
    "card": Stage.CARD,
}


def resolve_until(value: str | None) -> Stage:
    """The last stage to run for `--until VALUE` (a stage name or a group)."""
    from pipeline.errors import UsageError

    if value is None:
        return Stage.CARD
    if value in GROUPS:
        return GROUPS[value]
    try:
        return Stage(value)
    except ValueError:
        allowed = ", ".join([*GROUPS, *(s.value for s in ORDER if s.value not in GROUPS)])
        raise UsageError(f"--until {value!r} is not a stage or group; use one of: {allowed}") from None
