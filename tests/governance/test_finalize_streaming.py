"""Finalize streams: a batch of records at a time, yet every record once and the whole-table digests."""

import json
import random

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import governance.finalize as finalize_module
import governance.tables as tables
from governance import stages
from governance.config import DataConfig, GovernanceConfig, NsfwConfig, ProvenanceConfig
from governance.decisions import FindingsLog, dropped_ids, findings_path
from governance.digests import table_digest
from governance.finalize import DATASET_DIGEST_COLUMNS, _DigestInRecordOrder, run_finalize
from governance.manifest import Col
from governance.reasons import Decision, Reason
from governance.tables import INGEST_DIR, RECORDS_FILE, read_ingest, read_source_meta
from tests.governance import img2dataset_shards
from tests.governance.imagefolders import ai_generated_folder


@pytest.fixture(scope="module")
def governed(tmp_path_factory):
    """img2dataset shards (real Twemoji, failed downloads, a duplicate member) through the passes."""
    tmp = tmp_path_factory.mktemp("streaming")
    img2dataset_shards.build(tmp / "data")
    cfg = GovernanceConfig(
        data=DataConfig(source="webdataset", path=tmp / "data"),
        provenance=ProvenanceConfig(required_fields=["license", "source_url"]),  # the shards name no author
        nsfw=NsfwConfig(enabled=False),
        num_proc=1,
        batch_size=2,  # several ingest shards
    )
    work = tmp / "work"
    for stage in (stages.ingest, stages.provenance, stages.dedup, stages.nsfw):
        stage(cfg, work, lambda *_: None)
    return cfg, work


def _finalize(cfg, work, monkeypatch, rows: int):
    monkeypatch.setattr(tables, "ROW_GROUP", rows)
    report = run_finalize(cfg, work, seed=3)
    return report, pd.read_parquet(report.manifest_path), pd.read_parquet(report.governed_path)


def test_every_record_is_in_the_manifest_exactly_once_whatever_the_batch_size(governed, monkeypatch):
    cfg, work = governed
    small, manifest, kept = _finalize(cfg, work, monkeypatch, rows=3)
    ingested = list(read_ingest(work, ["record_id"])["record_id"])
    assert len(ingested) == read_source_meta(work)["records"] > 6  # more than two batches of 3
    assert list(manifest[Col.RECORD_ID]) == ingested  # input order, each record once
    assert manifest[Col.RECORD_ID].is_unique
    assert set(manifest[Col.DECISION]) <= {str(d) for d in Decision} and manifest[Col.DECISION].notna().all()
    assert {Decision.KEEP, Decision.DROP} <= set(manifest[Col.DECISION])
    # "00001/../escape.jpg" sorts before "00001/000010003": the digests take the spilled, sorted path
    assert finalize_module._ranks(pa.array(ingested)) is not None
    assert list(kept[Col.RECORD_ID]) == list(
        manifest.loc[manifest[Col.DECISION] == Decision.KEEP, "record_id"]
    )
    # the streamed digests are those of the whole tables as written
    assert small.manifest_digest == table_digest(manifest, [str(c) for c in Col])
    assert small.dataset_digest == table_digest(kept, DATASET_DIGEST_COLUMNS)
    assert pq.ParquetFile(small.manifest_path).metadata.row_group(0).num_rows <= 3
    big, manifest_big, kept_big = _finalize(cfg, work, monkeypatch, rows=4096)
    assert (big.manifest_digest, big.dataset_digest) == (small.manifest_digest, small.dataset_digest)
    pd.testing.assert_frame_equal(manifest_big, manifest)
    pd.testing.assert_frame_equal(kept_big, kept)
    assert big.decisions == small.decisions and big.reasons == small.reasons
    assert sum(big.decisions.values()) == len(ingested)


def test_a_finding_on_a_record_that_is_not_in_the_dataset_stops_finalize(governed):
    cfg, work = governed
    log = FindingsLog("stray")
    log.add("00009/nowhere", "license", Decision.DROP, Reason.LICENSE_UNKNOWN)
    path = log.write(work)
    try:
        with pytest.raises(ValueError, match=r"'license'.*'00009/nowhere'.*not in the dataset"):
            run_finalize(cfg, work, seed=3)
    finally:
        path.unlink()


def test_a_record_id_ingested_twice_stops_finalize(governed):
    cfg, work = governed
    records = work / INGEST_DIR / RECORDS_FILE
    original = records.read_bytes()
    table = pd.read_parquet(records)
    try:
        pd.concat([table, table.iloc[[1]]], ignore_index=True).to_parquet(records, index=False)
        with pytest.raises(ValueError, match=r"record id '00000/000000001' appears more than once"):
            run_finalize(cfg, work, seed=3)
    finally:
        records.write_bytes(original)


def test_rows_out_of_record_id_order_are_digested_in_record_id_order(tmp_path, monkeypatch):
    # Input order is not record_id order: lines are spilled to buckets (of 3 ranks here) and sorted.
    monkeypatch.setattr(_DigestInRecordOrder, "BUCKET", 3)
    ids = [f"rec-{i:03d}" for i in range(40)]
    random.Random(5).shuffle(ids)
    frame = pd.DataFrame(
        {"record_id": ids, "text": [None if i % 7 == 0 else f"caption {i}" for i in range(40)]}
    )
    frame["reasons"] = [["duplicate_near"] if i % 5 == 0 else [] for i in range(40)]
    ranks = finalize_module._ranks(pa.array(ids))
    assert ranks is not None and sorted(ranks) == list(range(40))
    digest = _DigestInRecordOrder(["record_id", "text", "reasons"], ranks, tmp_path)
    for start in range(0, 40, 6):
        part = frame.iloc[start : start + 6]
        digest.add(part, list(range(start, start + len(part))))
    assert digest.hexdigest() == table_digest(frame, ["record_id", "text", "reasons"])
    assert not list(tmp_path.iterdir())  # the buckets are gone


def test_consolidation_copies_shards_one_by_one_with_one_schema(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "ROW_GROUP", 2)
    folder = tmp_path / INGEST_DIR
    folder.mkdir()
    first = pd.DataFrame({"record_id": ["a", "b", "c"], "index": [0, 1, 2], "text": [None, None, None]})
    second = pd.DataFrame({"record_id": ["d", "e"], "index": [3, 4], "text": ["x", None]})
    first.to_parquet(folder / "shard-00000.parquet", index=False)  # text has the null type here
    second.to_parquet(folder / "shard-00001.parquet", index=False)
    for k in (0, 1):
        (folder / f"shard-{k:05d}.done").write_text("{}")
    (folder / "source.json").write_text(json.dumps({"source": "t", "records": 5, "shards": 2}))
    path = tables.consolidate_ingest(tmp_path)
    assert pq.read_schema(folder / "shard-00000.parquet").field("text").type == pa.null()
    assert (
        pq.read_schema(path).field("text").type
        == pq.read_schema(folder / "shard-00001.parquet").field("text").type
    )
    assert pq.ParquetFile(path).metadata.num_row_groups == 3  # 2 + 2 + 1 rows
    got = read_ingest(tmp_path)
    assert list(got["record_id"]) == list("abcde") and list(got["text"]) == [None, None, None, "x", None]
    # a source whose indices go back (the second shard before the first) is sorted, not concatenated
    second.assign(index=[-2, -1]).to_parquet(folder / "shard-00001.parquet", index=False)
    tables.consolidate_ingest(tmp_path)
    assert list(read_ingest(tmp_path)["record_id"]) == list("deabc")


def test_provenance_streams_batches_and_writes_the_same_findings_whatever_their_size(governed, monkeypatch):
    fixture_cfg, work = governed
    # The shards name no author: requiring one quarantines records, so the counts have something to add up.
    cfg = fixture_cfg.model_copy(
        update={"provenance": ProvenanceConfig(required_fields=["license", "author"])}
    )
    monkeypatch.setattr(tables, "ROW_GROUP", 3)  # the records are read 3 at a time
    small = stages.provenance(cfg, work, lambda *_: None)
    small_findings = pd.read_parquet(findings_path(work, "provenance"))
    monkeypatch.setattr(tables, "ROW_GROUP", 4096)
    big = stages.provenance(cfg, work, lambda *_: None)
    big_findings = pd.read_parquet(findings_path(work, "provenance"))
    stages.provenance(fixture_cfg, work, lambda *_: None)  # the other tests' findings back
    pd.testing.assert_frame_equal(big_findings, small_findings)
    assert (small.decided, small.reasons, small.records_in) == (big.decided, big.reasons, big.records_in)
    assert small.decided and small.records_in == read_source_meta(work)["records"]
    # one licence finding per record that ingest did not drop, each once
    assessed = set(read_ingest(work, ["record_id"])["record_id"]) - dropped_ids(work, ["ingest"])
    licences = small_findings.loc[small_findings["check"] == "license", "record_id"]
    assert licences.is_unique and set(licences) == assessed and len(assessed) < small.records_in


def test_the_ai_generated_cap_counts_the_whole_dataset_across_batches(tmp_path, monkeypatch):
    # 4 AI-generated records among 10 (as in test_sources_and_policies), read 3 at a time: the
    # cap must see all 6 ordinary records, not one batch's, so 2 AI-generated records are kept.
    monkeypatch.setattr(tables, "ROW_GROUP", 3)
    data = ai_generated_folder(tmp_path / "data", 10, ai=(1, 4, 7, 8))  # spread over the batches
    cfg = GovernanceConfig(
        data=DataConfig(source="imagefolder", path=data),
        nsfw=NsfwConfig(enabled=False),
        num_proc=1,
        provenance=ProvenanceConfig(ai_generated="cap", ai_generated_max_share=0.25),
    )
    stages.ingest(cfg, tmp_path / "w", lambda *_: None)
    counts = stages.provenance(cfg, tmp_path / "w", lambda *_: None)
    assert counts.metrics["ai_generated_found"] == 4
    assert counts.decided == {"drop": 2} and counts.reasons == {"ai_generated": 2}
    capped = pd.read_parquet(findings_path(tmp_path / "w", "provenance"))
    capped = capped[capped["check"] == "ai_generated_cap"]
    assert len(capped) == 4 and sorted(capped["decision"]) == ["drop", "drop", "keep", "keep"]
