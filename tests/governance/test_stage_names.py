"""Governance's and the audits' stage names are the ones the pipeline runs, in the pipeline's order."""

from audits.report import AUDITS
from governance.stage_names import GOVERNANCE_STAGES, GovernanceStage, decided_before
from pipeline.stages import AUDIT_STAGES
from pipeline.stages import GOVERNANCE_STAGES as PIPELINE_GOVERNANCE_STAGES


def test_each_package_lists_its_stages_as_the_pipeline_orders_them():
    assert [str(s) for s in GOVERNANCE_STAGES] == [str(s) for s in PIPELINE_GOVERNANCE_STAGES]
    assert [str(s) for s in AUDITS] == [str(s) for s in AUDIT_STAGES]


def test_a_pass_judges_only_what_the_passes_before_it_kept():
    assert decided_before(GovernanceStage.INGEST) == []
    assert decided_before(GovernanceStage.NSFW) == ["ingest", "provenance", "dedup"]
