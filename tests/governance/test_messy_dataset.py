"""The whole governance run on a generated messy dataset, checked record by record."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from governance import stages
from governance.config import (
    DataConfig,
    DedupConfig,
    GovernanceConfig,
    NsfwConfig,
    OptOutList,
    ProvenanceConfig,
)
from governance.decisions import load_findings
from governance.errors import DatasetError
from governance.manifest import GOVERNED_FILE, MANIFEST_FILE, Col
from governance.reasons import Reason
from governance.tables import RECORDS_FILE
from tests.governance.messy_dataset import MAX_IMAGE_PIXELS, OPT_OUT_DOMAIN, build_messy_dataset

_OPENED: list[str] = []
_RECORDING = [False]


def _audit(event: str, args: tuple) -> None:
    # Audit hooks cannot be removed, so this one records only while a test switches it on.
    if _RECORDING[0] and event == "open" and isinstance(args[0], str | bytes | Path):
        _OPENED.append(str(args[0], "utf-8", "replace") if isinstance(args[0], bytes) else str(args[0]))


sys.addaudithook(_audit)


def _config(data: Path, evalset: Path) -> GovernanceConfig:
    thresholds = {**NsfwConfig().thresholds, "FACE_FEMALE": 0.5}  # the astronaut stands in for NSFW content
    return GovernanceConfig(
        data=DataConfig(source="imagefolder", path=data, max_image_pixels=MAX_IMAGE_PIXELS),
        provenance=ProvenanceConfig(opt_out=OptOutList(domains=[OPT_OUT_DOMAIN])),
        dedup=DedupConfig(eval_dir=evalset),
        nsfw=NsfwConfig(thresholds=thresholds),
        num_proc=1,  # in-process, so the audit hook sees every file opened
        batch_size=8,  # several shards
    )


def _run_all(cfg: GovernanceConfig, work: Path):
    for stage in (stages.ingest, stages.provenance, stages.dedup, stages.nsfw):
        stage(cfg, work, lambda *_: None)
    return stages.finalize(cfg, work, seed=7)


@pytest.fixture(scope="module")
def governed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("messy")
    data, evalset, outside, expected = build_messy_dataset(tmp)
    work = tmp / "work"
    cfg = _config(data, evalset)
    _OPENED.clear()
    _RECORDING[0] = True
    try:
        report = _run_all(cfg, work)
    finally:
        _RECORDING[0] = False
    return {
        "tmp": tmp, "data": data, "evalset": evalset, "outside": outside, "work": work, "cfg": cfg,
        "expected": expected, "report": report, "opened": list(_OPENED),
        "manifest": pd.read_parquet(report.manifest_path).set_index("record_id"),
    }  # fmt: skip


def test_every_reason_code_is_exercised(governed):
    seen = {r for _, reasons in governed["expected"].values() for r in reasons}
    # only a downloader's sidecar or a joined metadata Parquet has these: test_webdataset_source.py
    assert seen == {str(r) for r in Reason} - {Reason.DOWNLOAD_FAILED, Reason.DATASET_SCORE}


def test_each_record_gets_its_expected_decision_and_reasons(governed):
    manifest = governed["manifest"]
    assert sorted(manifest.index) == sorted(governed["expected"])
    wrong = {
        rid: (manifest.at[rid, Col.DECISION], sorted(manifest.at[rid, Col.REASONS]), want)
        for rid, want in governed["expected"].items()
        if (manifest.at[rid, Col.DECISION], set(manifest.at[rid, Col.REASONS])) != want
    }
    assert not wrong


def test_nothing_outside_the_dataset_is_read(governed):
    tmp = governed["tmp"].resolve()
    allowed = [governed["data"].resolve(), governed["evalset"].resolve(), governed["work"].resolve()]
    inside_tmp = [Path(p).resolve() for p in governed["opened"] if Path(p).resolve().is_relative_to(tmp)]
    assert inside_tmp, "the audit hook saw no dataset file opened: the check would be vacuous"
    assert governed["outside"].resolve() not in inside_tmp
    assert [p for p in inside_tmp if not any(p.is_relative_to(a) for a in allowed)] == []


def test_manifest_has_every_column_and_evidence(governed):
    manifest = governed["manifest"].reset_index()
    assert set(map(str, Col)) <= set(manifest.columns)
    by_file = manifest.set_index(Col.FILE_NAME)
    near = by_file.loc["near_copy.png"]
    assert near[Col.DUPLICATE_OF] == by_file.loc["near_src.png", Col.RECORD_ID]
    assert json.loads(near[Col.EVIDENCE])["near_duplicate"]["hamming"] <= 6
    astronaut = by_file.loc["astronaut.jpg"]
    assert astronaut[Col.FACE_COUNT] >= 1
    assert any(d["class"] == "FACE_FEMALE" for d in json.loads(astronaut[Col.NSFW_DETECTIONS]))
    xmp = json.loads(by_file.loc["xmp_optout.png", Col.EVIDENCE])["embedded_opt_out"]
    assert xmp["signals"] == ["plus:DataMining=DMI-PROHIBITED-AIMLTRAINING"]
    c2pa = json.loads(by_file.loc["c2pa_optout.png", Col.EVIDENCE])["embedded_opt_out"]
    assert c2pa["signals"] == ["cawg.ai_generative_training=notAllowed"]
    assert by_file.loc["ok_cc_url.png", Col.LICENSE_SPDX] == "CC-BY-4.0"
    # A choice of licences: the manifest names the option taken, the evidence the options offered.
    dual = by_file.loc["dual_license.png"]
    assert dual[Col.LICENSE_SPDX] == "CC-BY-4.0"
    licence = json.loads(dual[Col.EVIDENCE])["license"]
    assert licence["options"] == ["CC-BY-NC-4.0", "CC-BY-4.0"] and licence["spdx"] == "CC-BY-4.0"


def test_governed_table_and_split(governed):
    report = governed["report"]
    table = pd.read_parquet(report.governed_path)
    manifest = governed["manifest"]
    kept = manifest[manifest[Col.DECISION] == "keep"]
    assert sorted(table["record_id"]) == sorted(kept.index)
    assert set(table["split"]) == {"train", "eval"}
    assert report.split_counts == table["split"].value_counts().to_dict()
    assert all(Path(p).is_file() for p in table["path"])
    assert (
        report.decisions
        == manifest[Col.DECISION]
        .value_counts()
        .reindex(["keep", "drop", "quarantine"], fill_value=0)
        .to_dict()
    )
    assert sum(report.decisions.values()) == report.records_in == len(governed["expected"])


def test_artifacts_and_obligations(governed):
    report = governed["report"]
    attribution = Path(report.attribution_path).read_text(encoding="utf-8")
    assert "https://creativecommons.org/licenses/by/4.0/" in attribution and "Ada" in attribution
    summary = json.loads(Path(report.datasheet_json_path).read_text(encoding="utf-8"))
    assert summary["reasons"] == report.reasons
    assert all(Path(c).stat().st_size > 0 for c in report.charts)
    assert report.obligations.attribution_required
    nudenet = [c for c in report.components if c.name.startswith("NudeNet")]
    assert nudenet and nudenet[0].license == "AGPL-3.0"


def test_rerun_is_deterministic_and_resume_repeats_nothing(governed, tmp_path):
    cfg, work = governed["cfg"], governed["work"]
    first = governed["report"]
    ingest_findings = load_findings(work, ["ingest"])
    shard_logs = sorted((work / "findings").glob("ingest-*.parquet"))
    assert len(ingest_findings) == sum(len(pd.read_parquet(p)) for p in shard_logs) > 0
    # Later passes read one table; it holds every shard's records in input order.
    consolidated = pd.read_parquet(work / "ingest" / RECORDS_FILE)
    assert list(consolidated["index"]) == sorted(consolidated["index"])
    assert len(consolidated) == first.records_in
    # Simulate a kill mid-ingest: one shard lost its completion marker. A consolidated table left
    # behind (cut short here, so that reading it by mistake would show) must be rebuilt, not read.
    (work / "ingest" / "shard-00002.done").unlink()
    consolidated.head(2).to_parquet(work / "ingest" / RECORDS_FILE)
    again = _run_all(cfg, work)
    assert len(pd.read_parquet(work / "ingest" / RECORDS_FILE)) == first.records_in
    # The consolidated copies were rebuilt, not read stale or counted twice beside the shards.
    assert len(load_findings(work, ["ingest"])) == len(ingest_findings)
    assert len(load_findings(work)) == len(load_findings(work).drop_duplicates())
    assert again.manifest_digest == first.manifest_digest
    assert again.dataset_digest == first.dataset_digest
    assert again.stages[0].metrics["records_ingested_now"] == 8
    other_seed = stages.finalize(cfg, work, seed=8)
    assert (
        other_seed.manifest_digest != first.manifest_digest or len(pd.read_parquet(first.governed_path)) < 3
    )


def test_missing_dataset_folder_or_metadata_raises_dataset_error(tmp_path):
    missing = GovernanceConfig(data=DataConfig(source="imagefolder", path=tmp_path / "nope"))
    with pytest.raises(DatasetError, match="nope"):
        stages.ingest(missing, tmp_path / "w1", lambda *_: None)
    (tmp_path / "empty").mkdir()
    no_meta = GovernanceConfig(data=DataConfig(source="imagefolder", path=tmp_path / "empty"))
    with pytest.raises(DatasetError, match=r"metadata\.jsonl"):
        stages.ingest(no_meta, tmp_path / "w2", lambda *_: None)
    no_path = GovernanceConfig(data=DataConfig(source="imagefolder"))
    with pytest.raises(DatasetError, match=r"data\.path"):
        stages.ingest(no_path, tmp_path / "w3", lambda *_: None)


def test_manifest_and_governed_files_are_where_the_contract_says(governed):
    assert governed["report"].manifest_path == governed["work"] / MANIFEST_FILE
    assert governed["report"].governed_path == governed["work"] / GOVERNED_FILE


def test_each_stage_hands_its_findings_to_the_pipeline_as_artifacts(governed):
    by_stage = {s.stage: s for s in governed["report"].stages}
    assert set(by_stage) == {"ingest", "provenance", "dedup", "nsfw"}
    for name, counts in by_stage.items():
        findings = pd.read_parquet(counts.artifacts[0])
        assert counts.artifacts[0].name == f"{name}.parquet"
        # what the stage decided is what its findings file holds
        decided = findings[findings["decision"] != "keep"].groupby("decision")["record_id"].nunique()
        assert decided.to_dict() == counts.decided, name
    assert pd.read_parquet(by_stage["dedup"].artifacts[1]).columns[0] == "record_id"
