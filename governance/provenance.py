"""The provenance pass: licences, required fields, declared hashes, opt-out and AI-generated signals."""

import json
import math
import re
import time
from pathlib import Path

import pyarrow as pa

from governance.config import GovernanceConfig
from governance.decisions import FindingsLog, dropped_ids, findings_path, load_findings
from governance.embedded_signals import EmbeddedSignals
from governance.licenses import license_choices, license_traits, normalize_license
from governance.opt_out import OptOutMatcher, load_opt_out
from governance.progress import ProgressFn, WorkProgress
from governance.reasons import Decision, Reason
from governance.report import StageCounts
from governance.source_urls import source_url_problem
from governance.stage_names import GovernanceStage, decided_before
from governance.tables import AtomicParquetWriter, iter_ingest, read_source_meta

_FIELD_COLUMNS = {
    "license": "license_raw",
    "source_url": "source_url",
    "author": "author",
    "text": "text",
    "sha256": "declared_sha256",
    "file_name": "file_name",
}


def license_decision(spdx: str | None, cfg: GovernanceConfig) -> tuple[Decision, Reason | None, str]:
    """What the licence policy says about one SPDX id."""
    policy = cfg.licenses
    if spdx is None:
        return Decision.QUARANTINE, Reason.LICENSE_UNKNOWN, "licence not recognised: a human must identify it"
    if spdx in policy.deny:
        return Decision.DROP, Reason.LICENSE_NOT_ALLOWED, f"{spdx} is in licenses.deny"
    denied = sorted(license_traits(spdx) & set(policy.deny_traits))
    if denied:
        return (
            Decision.DROP,
            Reason.LICENSE_NOT_ALLOWED,
            f"{spdx} has traits {denied} in licenses.deny_traits",
        )
    if spdx not in policy.allow:
        return Decision.DROP, Reason.LICENSE_NOT_ALLOWED, f"{spdx} is not in licenses.allow"
    return Decision.KEEP, None, "allowed"


def choose_license(
    raw: str | None, cfg: GovernanceConfig
) -> tuple[str | None, Decision, Reason | None, dict]:
    """(SPDX id, decision, reason, evidence) for a raw licence string under the configured policy.

    A disjunctive licence ("MIT OR GPL-3.0") lets the licensee pick: we take the allowed option with the
    fewest obligations (traits), then the one listed first, and record the choice. If no option is
    allowed, the record is dropped under its first option.
    """
    info = normalize_license(raw)
    options = license_choices(raw) if info.spdx is None else None
    if not options:
        decision, reason, why = license_decision(info.spdx, cfg)
        return info.spdx, decision, reason, {"spdx": info.spdx, "policy": why, **info.evidence}
    verdicts = [(spdx, *license_decision(spdx, cfg)) for spdx in options]
    allowed = sorted((v for v in verdicts if v[1] == Decision.KEEP), key=lambda v: len(license_traits(v[0])))
    spdx, decision, reason, why = allowed[0] if allowed else verdicts[0]
    evidence = {
        "spdx": spdx,
        "policy": why,
        "options": options,
        "choice": "a choice of licences (OR): the allowed option with the fewest obligations is taken"
        if allowed
        else "a choice of licences (OR): no option is allowed",
    }
    return spdx, decision, reason, evidence


def _declared_hash(value: str) -> str:
    return re.sub(r"^sha256[:=-]", "", value.strip().lower())


def _field_value(row: dict, cfg: GovernanceConfig, name: str) -> object:
    if name in _FIELD_COLUMNS:
        return row[_FIELD_COLUMNS[name]]
    extra = json.loads(row["extra"] or "{}")
    return extra.get(getattr(cfg.data.fields, name, name))


def _is_empty(value: object) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value.strip())
    )


FINDINGS_SCHEMA = pa.schema(
    [(c, pa.string()) for c in ("record_id", "check", "decision", "reason", "evidence")]
)


def _assess(row: dict, cfg: GovernanceConfig, opt_out: OptOutMatcher, log: FindingsLog) -> bool:
    """Every provenance check on one record, into `log`; True when it carries an AI-generated signal."""
    rid = row["record_id"]
    _, decision, reason, evidence = choose_license(row["license_raw"], cfg)
    log.add(
        rid,
        "license",
        decision,
        reason,
        {"raw": row["license_raw"], "from": row["license_source"], **evidence},
    )
    missing = [name for name in cfg.provenance.required_fields if _is_empty(_field_value(row, cfg, name))]
    if missing:
        log.add(rid, "required_fields", Decision.QUARANTINE, Reason.PROVENANCE_MISSING, {"missing": missing})
    if (url_problem := source_url_problem(row["source_url"])) is not None:
        url_evidence = {"source_url": row["source_url"], "problem": url_problem}
        log.add(rid, "source_url", Decision.QUARANTINE, Reason.SOURCE_URL_INVALID, url_evidence)
    declared = row["declared_sha256"]
    actual = row["content_sha256"]
    has_both = isinstance(declared, str) and declared.strip() and isinstance(actual, str)
    if has_both and _declared_hash(declared) != actual:
        log.add(
            rid,
            "declared_hash",
            Decision.DROP,
            Reason.HASH_MISMATCH,
            {"declared": declared, "actual": actual},
        )
    hits = opt_out.match(row["source_url"], row["author"], row["content_sha256"])
    if hits:
        log.add(rid, "opt_out_list", Decision.DROP, Reason.OPT_OUT, {"matched": hits})
    signals = EmbeddedSignals(**json.loads(row["signals"] or "{}"))
    if cfg.provenance.respect_embedded_signals:
        _embedded_opt_out(rid, signals, log)
    if not signals.ai_generated():
        return False
    ai_evidence = {"digital_source_type": signals.ai_generated(), "policy": cfg.provenance.ai_generated}
    if signals.content_credentials:
        ai_evidence["content_credentials"] = signals.content_credentials
    if cfg.provenance.ai_generated == "exclude":
        log.add(rid, "ai_generated", Decision.DROP, Reason.AI_GENERATED, ai_evidence)
    elif cfg.provenance.ai_generated == "keep":
        log.add(rid, "ai_generated", Decision.KEEP, None, ai_evidence)
    return True


def _embedded_opt_out(rid: str, signals: EmbeddedSignals, log: FindingsLog) -> None:
    fired = signals.opt_out()
    signed = {"content_credentials": signals.content_credentials} if signals.content_credentials else {}
    if fired:
        log.add(rid, "embedded_opt_out", Decision.DROP, Reason.OPT_OUT, {"signals": fired, **signed})
    elif any("CONSTRAINT" in v.upper() for v in signals.data_mining):
        # "see constraint": the terms live elsewhere, so a human has to read them.
        log.add(
            rid, "embedded_opt_out", Decision.QUARANTINE, Reason.OPT_OUT, {"signals": signals.data_mining}
        )


class _Survivors:
    """What the AI-generated cap needs of the whole dataset: how many records are still alive, and
    which of them carry an AI-generated signal (ids only)."""

    def __init__(self) -> None:
        self.alive = 0
        self.ai_alive: list[str] = []
        self.ai_found = 0

    def add(self, assessed: list[str], ai: list[str], log: FindingsLog) -> None:
        dropped = {f.record_id for f in log.findings if f.decision is Decision.DROP}
        self.alive += sum(rid not in dropped for rid in assessed)
        self.ai_alive.extend(rid for rid in ai if rid not in dropped)
        self.ai_found += len(ai)


def run_provenance(cfg: GovernanceConfig, work_dir: Path, progress: ProgressFn | None = None) -> StageCounts:
    """Record the provenance findings of every ingested record in `work_dir/findings/provenance.parquet`.

    The records are read and their findings written ROW_GROUP at a time, so memory holds one batch
    (and the ids of the records ingest dropped and of those with an AI-generated signal), not the table.
    """
    started = time.perf_counter()
    # What the checks read: not the pixels' evidence (hashes, detections) that later passes need.
    needed = {"record_id", "license_source", "content_sha256", "signals", "extra", *_FIELD_COLUMNS.values()}
    total = read_source_meta(work_dir)["records"]
    opt_out = load_opt_out(cfg.provenance.opt_out)
    # A record that ingest dropped (no file, broken metadata) has no provenance worth assessing.
    dropped = dropped_ids(work_dir, decided_before(GovernanceStage.PROVENANCE))
    survivors = _Survivors()
    out = AtomicParquetWriter(findings_path(work_dir, "provenance"), FINDINGS_SCHEMA)
    bar = WorkProgress(progress, "provenance", total)
    done = 0
    try:
        for batch in iter_ingest(work_dir, sorted(needed)):
            log, assessed, ai = FindingsLog("provenance"), [], []
            # Plain dicts: a pandas row object per record costs more than all the checks together.
            for row in batch.to_dict("records"):
                bar.at(done)
                done += 1
                if row["record_id"] in dropped:
                    continue
                assessed.append(row["record_id"])
                if _assess(row, cfg, opt_out, log):
                    ai.append(row["record_id"])
            survivors.add(assessed, ai, log)
            out.write(pa.Table.from_pandas(log.to_frame(), preserve_index=False))
        if cfg.provenance.ai_generated == "cap" and survivors.ai_alive:
            out.write(
                pa.Table.from_pandas(_cap_ai_generated(cfg, survivors).to_frame(), preserve_index=False)
            )
    except BaseException:
        out.writer.close()
        out.tmp.unlink(missing_ok=True)
        raise
    path = out.close()
    bar.finish()
    counts = _stored_counts(work_dir, total, time.perf_counter() - started)
    counts.artifacts = [path]  # the stage's findings, for review in MLflow
    counts.metrics["ai_generated_found"] = float(survivors.ai_found)
    return counts


def _stored_counts(work_dir: Path, total: int, seconds: float) -> StageCounts:
    """The counts of the stored provenance log, from its deciding findings without their evidence."""
    frame = load_findings(work_dir, ["provenance"], ["record_id", "check", "decision", "reason"])
    deciding = frame[frame["decision"] != str(Decision.KEEP)].copy()
    deciding["evidence"] = None
    return FindingsLog.from_frame("provenance", deciding).counts("provenance", total, seconds)


def _cap_ai_generated(cfg: GovernanceConfig, survivors: _Survivors) -> FindingsLog:
    """Keep AI-generated records only up to `ai_generated_max_share` of what would be kept."""
    log = FindingsLog("provenance")
    ai_alive = sorted(survivors.ai_alive)
    others = survivors.alive - len(ai_alive)
    share = cfg.provenance.ai_generated_max_share
    allowed = len(ai_alive) if share >= 1 else math.floor(share * others / (1 - share))
    for i, rid in enumerate(ai_alive):
        evidence = {"policy": "cap", "max_share": share, "allowed": allowed}
        if i < allowed:
            log.add(rid, "ai_generated_cap", Decision.KEEP, None, evidence)
        else:
            log.add(rid, "ai_generated_cap", Decision.DROP, Reason.AI_GENERATED, evidence)
    return log
