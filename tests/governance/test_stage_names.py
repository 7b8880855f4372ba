"""The run's stages are built from governance's and the audits' own lists: each name must be runnable."""

import inspect

from audits.config import AuditsConfig
from governance import stages as governance_stages
from governance.stage_names import GovernanceStage, decided_before
from pipeline.stages import AUDIT_STAGES, GOVERNANCE_STAGES, ORDER, Stage


def test_every_stage_a_package_lists_is_one_the_run_can_execute():
    # pipeline/stages.py takes these names from governance.stage_names and audits.report.AUDITS: a
    # name added there without its pass or its config section would be a stage the runner cannot run
    for stage in GOVERNANCE_STAGES:
        run = getattr(governance_stages, stage.value, None)
        assert callable(run) and list(inspect.signature(run).parameters) == ["cfg", "work_dir", "progress"]
    for stage in AUDIT_STAGES:
        assert hasattr(AuditsConfig(), stage.value), stage
    # the data gate finalizes what the passes decided; the audits read the trained model
    assert ORDER.index(Stage.DATA_GATE) == ORDER.index(GOVERNANCE_STAGES[-1]) + 1
    assert ORDER.index(AUDIT_STAGES[0]) == ORDER.index(Stage.TRAIN) + 1


def test_a_pass_judges_only_what_the_passes_before_it_kept():
    assert decided_before(GovernanceStage.INGEST) == []
    assert decided_before(GovernanceStage.NSFW) == ["ingest", "provenance", "dedup"]
