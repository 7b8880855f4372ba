"""The finalize stage: manifest, governed table with splits, attribution, datasheet and the report."""

import json
from pathlib import Path

import pandas as pd

from governance.attribution import write_attribution
from governance.config import GovernanceConfig
from governance.datasheet import summarize, write_charts, write_datasheet
from governance.decisions import load_findings, resolve
from governance.dedup import DEDUP_FILE, read_groups
from governance.digests import table_digest
from governance.manifest import GOVERNED_FILE, MANIFEST_FILE, Col
from governance.nsfw import policy_score
from governance.obligations import derive_obligations
from governance.progress import ProgressFn, WorkProgress
from governance.provenance import choose_license
from governance.reasons import Decision
from governance.report import GovernanceReport, StageCounts
from governance.splits import assign_splits
from governance.tables import atomic_parquet, read_ingest, read_source_meta
from governance.used_components import governance_components

STAGES_DIR = "stages"
GOVERNED_COLUMNS = [
    "record_id", "path", "text", "split", "attributes", "content_sha256", "license_spdx",
    "width", "height", "phash", "color_hash", "face_count", "author", "source_url",
]  # fmt: skip
DATASET_DIGEST_COLUMNS = ["record_id", "content_sha256", "text", "split"]


def save_stage_counts(work_dir: Path, counts: StageCounts) -> None:
    """Keep a stage's counts so that finalize can report every stage, also after a resume."""
    folder = Path(work_dir) / STAGES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{counts.stage}.json").write_text(counts.model_dump_json(indent=2), encoding="utf-8")


def _stage_counts(work_dir: Path) -> list[StageCounts]:
    folder = Path(work_dir) / STAGES_DIR
    order = ["ingest", "provenance", "dedup", "nsfw"]
    found = {
        p.stem: StageCounts.model_validate_json(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")
    }
    return [found[s] for s in order if s in found]


def build_manifest(cfg: GovernanceConfig, work_dir: Path, seed: int) -> pd.DataFrame:
    """One row per input record with its decision, reasons, evidence, split and every Col."""
    table = read_ingest(work_dir)
    ids = list(table["record_id"])
    resolved = resolve(ids, load_findings(work_dir))
    m = table.copy()
    m[Col.DECISION] = resolved["decision"].to_numpy()
    m[Col.REASONS] = list(resolved["reasons"])
    m[Col.EVIDENCE] = resolved["evidence"].to_numpy()
    # Policy-aware: for a choice of licences the manifest names the option that was taken.
    raws = [raw if isinstance(raw, str) else None for raw in m["license_raw"]]
    chosen = {raw: choose_license(raw, cfg)[0] for raw in set(raws)}
    m[Col.LICENSE_SPDX] = [chosen[raw] for raw in raws]
    groups = read_groups(work_dir) if (Path(work_dir) / DEDUP_FILE).exists() else None

    def group_column(name: str, rids: list[str]) -> list[str | None]:
        if groups is None:
            return [None] * len(rids)
        values = groups[name].reindex(rids)
        return [None if pd.isna(v) else str(v) for v in values]

    m[Col.DUPLICATE_OF] = group_column("duplicate_of", ids)
    m[Col.DUPLICATE_GROUP] = group_column("duplicate_group", ids)
    m[Col.NSFW_SCORE] = [
        None if d is None else policy_score(json.loads(d), cfg.nsfw.thresholds) for d in m["nsfw_detections"]
    ]
    kept = m[Col.DECISION] == Decision.KEEP
    kept_ids = list(m.loc[kept, Col.RECORD_ID])
    clusters = [c or r for c, r in zip(group_column("similar_cluster", kept_ids), kept_ids, strict=True)]
    m[Col.SPLIT] = None
    m.loc[kept, Col.SPLIT] = assign_splits(kept_ids, clusters, cfg.dedup.eval_fraction, seed)
    m[Col.DUPLICATE_OF] = m[Col.DUPLICATE_OF].astype("object")
    m[Col.DUPLICATE_GROUP] = m[Col.DUPLICATE_GROUP].astype("object")
    first = [str(c) for c in Col]
    return m[first + [c for c in m.columns if c not in first]]


FINALIZE_STEPS = ("manifest", "tables", "datasheet", "attribution", "charts", "digests")


def run_finalize(
    cfg: GovernanceConfig, work_dir: Path, seed: int, progress: ProgressFn | None = None
) -> GovernanceReport:
    """Write the manifest, governed table, attribution list, datasheet and charts; return the report.

    `progress` counts the steps of FINALIZE_STEPS (each a pass over all records).
    """
    steps = WorkProgress(progress, "finalize steps", len(FINALIZE_STEPS), every=1)
    work_dir = Path(work_dir)
    meta = read_source_meta(work_dir)
    manifest = build_manifest(cfg, work_dir, seed)
    steps.at(1)
    kept = manifest[manifest[Col.DECISION] == Decision.KEEP]
    governed = kept[GOVERNED_COLUMNS].reset_index(drop=True)
    manifest_path = atomic_parquet(manifest, work_dir / MANIFEST_FILE)
    governed_path = atomic_parquet(governed, work_dir / GOVERNED_FILE)
    steps.at(2)
    licenses_kept = {str(k): int(v) for k, v in kept[Col.LICENSE_SPDX].value_counts().sort_index().items()}
    obligations = derive_obligations(licenses_kept, cfg.licenses.intended_use)
    groups = manifest[Col.DUPLICATE_GROUP].dropna().nunique()
    summary = summarize(manifest, obligations, int(groups))
    policy = cfg.model_dump(mode="json", include={"licenses", "provenance", "dedup", "nsfw"})
    datasheet_md, datasheet_json = write_datasheet(summary, meta["source"], policy, work_dir)
    steps.at(3)
    attribution_md, _ = write_attribution(governed, work_dir)
    steps.at(4)
    charts = write_charts(summary, work_dir / "charts")
    steps.at(5)
    dataset_digest = table_digest(governed, DATASET_DIGEST_COLUMNS)
    manifest_digest = table_digest(manifest, [str(c) for c in Col])
    steps.finish()
    source_kind = "emoji" if meta["source"] == "emoji" else meta["source"].split(":", 1)[0]
    return GovernanceReport(
        source=meta["source"],
        records_in=len(manifest),
        decisions=summary["decisions"],
        reasons=summary["reasons"],
        licenses_kept=licenses_kept,
        split_counts=summary["splits"],
        duplicate_groups=int(groups),
        faces_in_kept=summary["faces"]["faces_in_kept"],
        obligations=obligations,
        stages=_stage_counts(work_dir),
        manifest_path=manifest_path,
        governed_path=governed_path,
        dataset_digest=dataset_digest,
        manifest_digest=manifest_digest,
        attribution_path=attribution_md,
        datasheet_path=datasheet_md,
        datasheet_json_path=datasheet_json,
        charts=charts,
        components=governance_components(source_kind, cfg.nsfw.enabled),
    )
