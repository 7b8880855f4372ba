"""The names of governance's passes in the order they decide: the one list every pass and finalize read.

Each pass judges only the records the passes before it kept (`decided_before`), and finalize reports
them in this order. A leaf module, so that the passes can import it: `governance/stages.py` runs them
and imports the passes. `pipeline/stages.py` owns the order of the whole run; its governance stages
carry these names (pipeline may import governance, never the other way round).
"""

from enum import StrEnum


class GovernanceStage(StrEnum):
    INGEST = "ingest"
    PROVENANCE = "provenance"
    DEDUP = "dedup"
    NSFW = "nsfw"


GOVERNANCE_STAGES: tuple[GovernanceStage, ...] = tuple(GovernanceStage)


def decided_before(stage: GovernanceStage) -> list[GovernanceStage]:
    """The passes that decide before `stage`: a record one of them dropped is not `stage`'s to judge."""
    return list(GOVERNANCE_STAGES[: GOVERNANCE_STAGES.index(stage)])
