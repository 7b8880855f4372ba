"""The finalize stage: manifest, governed table with splits, attribution, datasheet and the report.

Finalize is the only writer of the manifest, and it streams: the ingested records are read a row
group at a time, each batch with its records' findings from every log, resolved, and written to the
manifest and the governed table before the next batch is read. What finalize holds for the whole
dataset is a few columns as Arrow arrays or numpy (record ids, each finding's record position, one
severity and one split code per record, the kept records' similarity clusters), not the evidence.
Every ingested record is written exactly once: record ids must be unique, and the rows written are
counted against the records ingest listed.
"""

import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from governance.attribution import write_governed_attribution
from governance.config import GovernanceConfig
from governance.datasheet import summarize, write_charts, write_datasheet
from governance.decisions import findings_files, resolve
from governance.dedup import DEDUP_FILE
from governance.digests import digest_start, encoded_rows
from governance.manifest import GOVERNED_FILE, MANIFEST_FILE, Col, Split
from governance.nsfw import policy_score
from governance.obligations import derive_obligations
from governance.progress import ProgressFn, WorkProgress
from governance.provenance import choose_license
from governance.reasons import Decision
from governance.report import GovernanceReport, StageCounts
from governance.splits import held_out_clusters
from governance.stage_names import GOVERNANCE_STAGES
from governance.tables import (
    AtomicParquetWriter,
    ingest_schema,
    iter_ingest,
    iter_tables,
    positions,
    read_columns,
    read_source_meta,
)
from governance.used_components import governance_components

STAGES_DIR = "stages"
GOVERNED_COLUMNS = [
    "record_id", "path", "text", "split", "attributes", "content_sha256", "license_spdx",
    "width", "height", "phash", "color_hash", "face_count", "author", "source_url",
]  # fmt: skip
DATASET_DIGEST_COLUMNS = ["record_id", "content_sha256", "text", "split"]
FINDING_COLUMNS = ["record_id", "check", "decision", "reason", "evidence"]
# The columns finalize adds to the ingested ones, with their stored types.
ADDED_TYPES = {
    Col.DECISION: pa.large_string(),
    Col.REASONS: pa.list_(pa.string()),
    Col.EVIDENCE: pa.large_string(),
    Col.LICENSE_SPDX: pa.large_string(),
    Col.DUPLICATE_OF: pa.string(),
    Col.DUPLICATE_GROUP: pa.string(),
    Col.NSFW_SCORE: pa.float64(),
    Col.SPLIT: pa.string(),
}
_SPLIT_NAMES = (None, str(Split.TRAIN), str(Split.EVAL))  # split codes 0, 1, 2


def save_stage_counts(work_dir: Path, counts: StageCounts) -> None:
    """Keep a stage's counts so that finalize can report every stage, also after a resume."""
    folder = Path(work_dir) / STAGES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{counts.stage}.json").write_text(counts.model_dump_json(indent=2), encoding="utf-8")


def _stage_counts(work_dir: Path) -> list[StageCounts]:
    folder = Path(work_dir) / STAGES_DIR
    found = {
        p.stem: StageCounts.model_validate_json(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")
    }
    return [found[s] for s in GOVERNANCE_STAGES if s in found]


def record_ids(work_dir: Path) -> pa.Array:
    """Every ingested record id in input order; ValueError when one appears twice."""
    ids = read_columns(work_dir, ["record_id"]).column(0).combine_chunks()
    if pc.count_distinct(ids, mode="all").as_py() != len(ids):
        counts = pc.value_counts(ids)
        twice = counts.filter(pc.greater(counts.field("counts"), 1))[0]["values"].as_py()
        raise ValueError(f"record id {twice!r} appears more than once in the ingested records: re-run ingest")
    return ids


class _Findings:
    """One findings log, read in its records' input order a batch at a time.

    Opening it reads only its record ids and decisions: each finding's record position, and the
    most severe decision per record folded into `severity` (what the split needs before any row).
    """

    def __init__(self, path: Path, ids: pa.Array, severity: np.ndarray):
        table = pq.read_table(path, columns=["record_id", "check", "decision"])
        try:
            self.pos = positions(table.column("record_id"), ids, "it")
        except ValueError as exc:
            unknown = table.filter(pc.invert(pc.is_in(table.column("record_id").cast(ids.type), ids)))
            check = unknown.column("check")[0].as_py()
            raise ValueError(f"finding of check {check!r} in {path.name}: {exc}") from None
        encoded = table.column("decision").combine_chunks().dictionary_encode()
        levels = np.array([Decision(v).severity for v in encoded.dictionary.to_pylist()], dtype=np.int8)
        np.maximum.at(severity, self.pos, levels[encoded.indices.to_numpy(zero_copy_only=False)])
        del table, encoded
        self.rest = pa.table({c: pa.array([], pa.null()) for c in FINDING_COLUMNS})
        self.taken = 0
        if bool((self.pos[1:] < self.pos[:-1]).any()):
            # Not in input order (dedup logs in preference order): sorted once, stably, in memory.
            order = np.argsort(self.pos, kind="stable")
            self.pos = self.pos[order]
            self.tables: Iterator[pa.Table] = iter([pq.read_table(path, columns=FINDING_COLUMNS).take(order)])
        else:
            self.tables = iter_tables(path, FINDING_COLUMNS)

    def until(self, end: int) -> list[pd.DataFrame]:
        """The findings of records at positions before `end` not returned yet (file order kept)."""
        need = int(np.searchsorted(self.pos, end, side="left")) - self.taken
        pieces = []
        while need > 0:
            if len(self.rest) == 0:
                self.rest = next(self.tables)
            piece = self.rest.slice(0, need)
            self.rest = self.rest.slice(len(piece))
            pieces.append(piece.to_pandas())
            need -= len(piece)
            self.taken += len(piece)
        return pieces


class _DigestInRecordOrder:
    """`table_digest` of rows that arrive in input order: the digest wants them by record_id.

    When input order is record_id order (the usual case: ids are source name + zero-padded
    position, or shard/key) the rows are hashed as they come. Otherwise each row's line is spilled
    with its rank to one of a few Parquet buckets of consecutive ranks, and the buckets are hashed in
    order, each sorted in memory (pyarrow has no sort bigger than memory, and a bucket is small).
    """

    BUCKET = 65536  # ranks per bucket

    def __init__(self, columns: list[str], ranks: np.ndarray | None, folder: Path):
        self.columns = columns
        self.hash = digest_start(columns)
        self.ranks = ranks  # None: input order is record_id order
        self.folder = folder
        self.buckets: dict[int, pq.ParquetWriter] = {}

    def add(self, frame: pd.DataFrame, at: np.ndarray) -> None:
        """Rows of `frame`, which sit at input positions `at`."""
        lines = encoded_rows(frame, self.columns)
        if self.ranks is None:
            for line in lines:
                self.hash.update(line)
            return
        ranks = self.ranks[at]
        rows = pa.table({"rank": ranks, "line": pa.array(lines, pa.large_binary())})
        bucket_of = ranks // self.BUCKET
        for bucket in np.unique(bucket_of):
            if bucket not in self.buckets:
                self.buckets[bucket] = pq.ParquetWriter(
                    self.folder / f"{id(self)}-{bucket}.parquet", rows.schema
                )
            self.buckets[bucket].write_table(rows.filter(pa.array(bucket_of == bucket)))

    def hexdigest(self) -> str:
        """The digest, once every row has been added."""
        for bucket in sorted(self.buckets):
            self.buckets[bucket].close()
            path = self.folder / f"{id(self)}-{bucket}.parquet"
            rows = pq.read_table(path)
            for line in rows.take(pc.sort_indices(rows, [("rank", "ascending")])).column("line").to_pylist():
                self.hash.update(line)
            path.unlink()
        self.buckets = {}
        return self.hash.hexdigest()


def _ranks(ids: pa.Array) -> np.ndarray | None:
    """Each record's place in record_id order, or None when input order already is that order."""
    if len(ids) < 2 or pc.all(pc.greater(ids[1:], ids[:-1])).as_py():
        return None
    order = pc.sort_indices(ids).to_numpy()
    ranks = np.empty(len(ids), dtype=np.int64)
    ranks[order] = np.arange(len(ids))
    return ranks


def _dedup_groups(work_dir: Path, ids: pa.Array) -> tuple[pa.Table | None, pa.Array | None]:
    """dedup's group table and, per record, its row there (null for a record in no group)."""
    path = Path(work_dir) / DEDUP_FILE
    if not path.exists():
        return None, None
    groups = pq.read_table(path, columns=["record_id", "duplicate_of", "duplicate_group", "similar_cluster"])
    return groups, pc.index_in(ids, value_set=groups.column("record_id").cast(ids.type))


def _split_codes(
    ids: pa.Array,
    severity: np.ndarray,
    groups: pa.Table | None,
    at: pa.Array | None,
    fraction: float,
    seed: int,
) -> np.ndarray:
    """Per record 0 (not kept), 1 (train) or 2 (eval): whole similarity clusters of kept records."""
    kept = np.flatnonzero(severity == Decision.KEEP.severity)
    kept_ids = ids.take(pa.array(kept, pa.int64()))
    clusters = kept_ids
    if groups is not None and at is not None:
        named = groups.column("similar_cluster").take(at.take(pa.array(kept, pa.int64()))).cast(ids.type)
        named = pc.if_else(pc.equal(named, ""), pa.scalar(None, ids.type), named)  # as `cluster or id`
        clusters = pc.coalesce(named, kept_ids)
    counts = pc.value_counts(clusters)
    members = dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True))
    held_out = held_out_clusters(members, fraction, seed)
    is_eval = pc.is_in(clusters, value_set=pa.array(sorted(held_out), ids.type)).to_numpy(
        zero_copy_only=False
    )
    codes = np.zeros(len(ids), dtype=np.int8)
    codes[kept] = 1 + is_eval.astype(np.int8)
    return codes


def _manifest_schema(work_dir: Path) -> pa.Schema:
    """Col first, then the other ingested columns, with the types finalize stores."""
    base = ingest_schema(work_dir)
    types = {f.name: f.type for f in base} | {str(k): v for k, v in ADDED_TYPES.items()}
    first = [str(c) for c in Col]
    return pa.schema([(name, types[name]) for name in first + [n for n in base.names if n not in first]])


class _Batch:
    """What finalize knows about every record, applied to one batch of ingested records."""

    def __init__(self, cfg: GovernanceConfig, work_dir: Path, seed: int, ids: pa.Array):
        self.cfg = cfg
        self.severity = np.zeros(len(ids), dtype=np.int8)
        self.logs = [_Findings(path, ids, self.severity) for path in findings_files(work_dir)]
        self.groups, self.at = _dedup_groups(work_dir, ids)
        self.codes = _split_codes(ids, self.severity, self.groups, self.at, cfg.dedup.eval_fraction, seed)
        self.licences: dict[str | None, str | None] = {}
        self.columns = _manifest_schema(work_dir).names

    def group_count(self) -> int:
        """Distinct duplicate groups among the records."""
        if self.groups is None or self.at is None:
            return 0
        named = self.groups.column("duplicate_group").take(self.at)
        if named.null_count == len(named):  # also a column of the null type: dedup found none
            return 0
        return int(pc.count_distinct(named, mode="only_valid").as_py())

    def _group_column(self, name: str, start: int, size: int) -> list[str | None]:
        if self.groups is None or self.at is None:
            return [None] * size
        values = self.groups.column(name).take(self.at.slice(start, size)).to_pylist()
        return [None if v is None else str(v) for v in values]

    def manifest(self, frame: pd.DataFrame, start: int) -> pd.DataFrame:
        """The manifest rows of `frame`, the ingested records at positions start, start + 1, ..."""
        end = start + len(frame)
        pieces = [piece for log in self.logs for piece in log.until(end)]  # in the logs' file order
        found = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(columns=FINDING_COLUMNS)
        resolved = resolve(list(frame["record_id"]), found)
        m = frame
        m[Col.DECISION] = resolved["decision"].to_numpy()
        m[Col.REASONS] = list(resolved["reasons"])
        m[Col.EVIDENCE] = resolved["evidence"].to_numpy()
        # Policy-aware: for a choice of licences the manifest names the option that was taken.
        raws = [raw if isinstance(raw, str) else None for raw in m["license_raw"]]
        for raw in set(raws) - self.licences.keys():
            self.licences[raw] = choose_license(raw, self.cfg)[0]
        m[Col.LICENSE_SPDX] = [self.licences[raw] for raw in raws]
        m[Col.DUPLICATE_OF] = self._group_column("duplicate_of", start, len(frame))
        m[Col.DUPLICATE_GROUP] = self._group_column("duplicate_group", start, len(frame))
        m[Col.NSFW_SCORE] = [
            None if d is None else policy_score(json.loads(d), self.cfg.nsfw.thresholds)
            for d in m["nsfw_detections"]
        ]
        m[Col.SPLIT] = np.array([_SPLIT_NAMES[c] for c in self.codes[start:end]], dtype=object)
        m[Col.DUPLICATE_OF] = m[Col.DUPLICATE_OF].astype("object")
        m[Col.DUPLICATE_GROUP] = m[Col.DUPLICATE_GROUP].astype("object")
        return m[self.columns]


_SORTED_SUMMARY_KEYS = ("reasons", "licenses_all", "licenses_kept", "splits")


def _add_summary(total: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """Two batches' `summarize` results as one (counts added, sorted keys kept sorted)."""
    if not total:
        return part
    total["records_in"] += part["records_in"]
    for key in ("decisions", "sources", "faces", *_SORTED_SUMMARY_KEYS):
        merged = Counter(total[key])
        merged.update(part[key])
        total[key] = dict(sorted(merged.items())) if key in _SORTED_SUMMARY_KEYS else dict(merged)
    attributes = {k: Counter(v) for k, v in total["attributes_kept"].items()}
    for key, values in part["attributes_kept"].items():
        attributes.setdefault(key, Counter()).update(values)
    total["attributes_kept"] = {k: dict(sorted(v.items())) for k, v in sorted(attributes.items())}
    return total


FINALIZE_STEPS = ("manifest", "tables", "datasheet", "attribution", "charts", "digests")


class _Written:
    """What the stream leaves: the two tables, both digests, the summary and the kept licences."""

    def __init__(self) -> None:
        self.manifest_path = self.governed_path = Path()
        self.manifest_digest = self.dataset_digest = ""
        self.summary: dict[str, Any] = {}
        self.licenses_kept: Counter = Counter()
        self.rows = 0


def _stream_tables(cfg: GovernanceConfig, work_dir: Path, seed: int) -> tuple[_Written, int]:
    """Write manifest.parquet and governed.parquet a batch at a time; returns them and the group count."""
    ids = record_ids(work_dir)
    batch = _Batch(cfg, work_dir, seed, ids)
    ranks = _ranks(ids)
    schema = _manifest_schema(work_dir)
    governed_schema = pa.schema([schema.field(c) for c in GOVERNED_COLUMNS])
    placeholder = derive_obligations({}, cfg.licenses.intended_use)  # the real ones need every batch
    out = _Written()
    manifest_out = governed_out = None
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="finalize-") as tmp:
        manifest_digest = _DigestInRecordOrder([str(c) for c in Col], ranks, Path(tmp))
        dataset_digest = _DigestInRecordOrder(DATASET_DIGEST_COLUMNS, ranks, Path(tmp))
        for frame in iter_ingest(work_dir):
            start = out.rows
            m = batch.manifest(frame, start)
            keep = (m[Col.DECISION] == Decision.KEEP).to_numpy()
            kept = m[keep]
            governed = kept[GOVERNED_COLUMNS].reset_index(drop=True)
            rows = pa.Table.from_pandas(m, schema=schema, preserve_index=False)
            kept_rows = pa.Table.from_pandas(governed, schema=governed_schema, preserve_index=False)
            # pandas' metadata of the first batch gives readers the dtypes (Int64 widths, ...)
            manifest_out = manifest_out or AtomicParquetWriter(work_dir / MANIFEST_FILE, rows.schema)
            governed_out = governed_out or AtomicParquetWriter(work_dir / GOVERNED_FILE, kept_rows.schema)
            manifest_out.write(rows)
            governed_out.write(kept_rows)
            at = np.arange(start, start + len(m))
            manifest_digest.add(m, at)
            dataset_digest.add(governed, at[keep])
            out.licenses_kept.update(
                {str(k): int(v) for k, v in kept[Col.LICENSE_SPDX].value_counts().items()}
            )
            out.summary = _add_summary(out.summary, summarize(m, placeholder, 0))
            out.rows += len(m)
        if manifest_out is None or governed_out is None:
            raise ValueError(f"{work_dir}: ingest holds no records, so there is no manifest to write")
        out.manifest_path, out.governed_path = manifest_out.close(), governed_out.close()
        out.manifest_digest, out.dataset_digest = manifest_digest.hexdigest(), dataset_digest.hexdigest()
    if out.rows != len(ids):
        raise RuntimeError(f"finalize wrote {out.rows} manifest rows for {len(ids)} ingested records")
    return out, batch.group_count()


def run_finalize(
    cfg: GovernanceConfig, work_dir: Path, seed: int, progress: ProgressFn | None = None
) -> GovernanceReport:
    """Write the manifest, governed table, attribution list, datasheet and charts; return the report.

    `progress` counts the steps of FINALIZE_STEPS (each a pass over all records). Raises
    RuntimeError when the manifest would not hold every ingested record exactly once.
    """
    steps = WorkProgress(progress, "finalize steps", len(FINALIZE_STEPS), every=1)
    work_dir = Path(work_dir)
    meta = read_source_meta(work_dir)
    written, groups = _stream_tables(cfg, work_dir, seed)
    if written.rows != meta["records"]:
        raise RuntimeError(
            f"the manifest has {written.rows} rows but ingest listed {meta['records']} records: rerun ingest"
        )
    steps.at(1)  # the manifest, the governed table and both digests come out of one stream
    steps.at(2)
    licenses_kept = dict(sorted(written.licenses_kept.items()))
    obligations = derive_obligations(licenses_kept, cfg.licenses.intended_use)
    summary = written.summary | {"duplicate_groups": groups, "obligations": obligations.model_dump()}
    policy = cfg.model_dump(mode="json", include={"licenses", "provenance", "dedup", "nsfw"})
    datasheet_md, datasheet_json = write_datasheet(summary, meta["source"], policy, work_dir)
    steps.at(3)
    # The attribution list names every kept record; it streams the governed table's five columns.
    attribution_md, _ = write_governed_attribution(written.governed_path, work_dir)
    steps.at(4)
    charts = write_charts(summary, work_dir / "charts")
    steps.at(5)
    steps.finish()
    source_kind = "emoji" if meta["source"] == "emoji" else meta["source"].split(":", 1)[0]
    return GovernanceReport(
        source=meta["source"],
        records_in=written.rows,
        decisions=summary["decisions"],
        reasons=summary["reasons"],
        licenses_kept=licenses_kept,
        split_counts=summary["splits"],
        duplicate_groups=groups,
        faces_in_kept=summary["faces"]["faces_in_kept"],
        obligations=obligations,
        stages=_stage_counts(work_dir),
        manifest_path=written.manifest_path,
        governed_path=written.governed_path,
        dataset_digest=written.dataset_digest,
        manifest_digest=written.manifest_digest,
        attribution_path=attribution_md,
        datasheet_path=datasheet_md,
        datasheet_json_path=datasheet_json,
        charts=charts,
        components=governance_components(source_kind, cfg.nsfw.enabled),
    )
