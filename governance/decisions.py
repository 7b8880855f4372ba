"""The one mechanism that turns check findings into per-record decisions.

Every check reports `Finding`s (record, check, decision, reason, evidence) into a `FindingsLog`;
nobody writes a decision by hand. Resolution is the same everywhere: the most severe decision wins
(drop > quarantine > keep), the reasons are the sorted union of the non-keep findings' codes, and the
evidence is a mapping check -> evidence. Findings are stored per stage as Parquet in
`work_dir/findings/`, so a rerun of one stage replaces exactly its own findings.
"""

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from governance.reasons import Decision, Reason
from governance.report import StageCounts
from governance.tables import atomic_parquet

FINDINGS_DIR = "findings"
_COLUMNS = ["record_id", "check", "decision", "reason", "evidence"]
# The JSON stored per record: keys sorted (digests depend on it). One shared encoder: json.dumps with
# options builds a new one on every call, and this runs once per record and finding.
sorted_json = json.JSONEncoder(sort_keys=True, default=str).encode


@dataclass(frozen=True)
class Finding:
    """One check's verdict on one record. `reason` is None for evidence-only (keep) findings."""

    record_id: str
    check: str
    decision: Decision
    reason: Reason | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class FindingsLog:
    """Collects the findings of one stage (or one ingest shard) and writes them atomically."""

    name: str
    findings: list[Finding] = field(default_factory=list)

    def add(
        self,
        record_id: str,
        check: str,
        decision: Decision,
        reason: Reason | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> None:
        """Record that `check` decided `decision` for `record_id` because of `reason`."""
        if decision is not Decision.KEEP and reason is None:
            raise ValueError(f"check {check!r}: a {decision} finding for {record_id} needs a reason code")
        self.findings.append(Finding(record_id, check, decision, reason, evidence or {}))

    @classmethod
    def from_frame(cls, name: str, frame: pd.DataFrame) -> "FindingsLog":
        """A log holding stored findings (as `load_findings` returns them)."""
        log = cls(name)
        for rid, check, dec, reason, ev in frame[_COLUMNS].itertuples(index=False, name=None):
            log.findings.append(
                Finding(
                    rid,
                    check,
                    Decision(dec),
                    None if reason is None else Reason(reason),
                    json.loads(ev or "{}"),
                )
            )
        return log

    def extend(self, findings: Iterable[Finding]) -> None:
        """Add findings produced elsewhere (e.g. by a worker process)."""
        self.findings.extend(findings)

    def to_frame(self) -> pd.DataFrame:
        """The findings as a table with the stored schema."""
        rows = [
            {
                "record_id": f.record_id,
                "check": f.check,
                "decision": str(f.decision),
                "reason": None if f.reason is None else str(f.reason),
                "evidence": sorted_json(f.evidence),
            }
            for f in self.findings
        ]
        return pd.DataFrame(rows, columns=_COLUMNS).astype({c: "object" for c in _COLUMNS})

    def write(self, work_dir: Path) -> Path:
        """Write `work_dir/findings/<name>.parquet` atomically (tmp file + rename)."""
        return atomic_parquet(self.to_frame(), findings_path(work_dir, self.name))

    def counts(self, stage: str, records_in: int, seconds: float = 0.0) -> StageCounts:
        """What this log decided: per record its most severe decision, and records per reason."""
        worst: dict[str, Decision] = {}
        reasons: dict[str, set[str]] = {}
        for f in self.findings:
            if f.record_id not in worst or f.decision.severity > worst[f.record_id].severity:
                worst[f.record_id] = f.decision
            if f.reason is not None and f.decision is not Decision.KEEP:
                reasons.setdefault(str(f.reason), set()).add(f.record_id)
        decided = Counter(str(d) for d in worst.values() if d is not Decision.KEEP)
        return StageCounts(
            stage=stage,
            records_in=records_in,
            decided=dict(sorted(decided.items())),
            reasons={r: len(ids) for r, ids in sorted(reasons.items())},
            seconds=seconds,
        )


def findings_path(work_dir: Path, name: str) -> Path:
    """Where the log `name` is stored."""
    return Path(work_dir) / FINDINGS_DIR / f"{name}.parquet"


def _shard_of(stem: str) -> str | None:
    """'ingest' for a shard log named 'ingest-00003'; None for a log that is not a shard."""
    match = re.fullmatch(r"(.+)-\d{5}", stem)
    return match.group(1) if match else None


def consolidate_findings(work_dir: Path, name: str) -> Path:
    """Write the shard logs `<name>-NNNNN` as one log `<name>` (which supersedes them when read)."""
    frame = load_findings(work_dir, [name])
    return atomic_parquet(
        frame if len(frame) else FindingsLog(name).to_frame(), findings_path(work_dir, name)
    )


def findings_files(work_dir: Path, names: Iterable[str] | None = None) -> list[Path]:
    """The files holding all stored findings, or those of the named logs, in the order they are read.

    A log may be stored in shards (`ingest-00000`, `ingest-00001`, ...) and later consolidated into
    one file (`ingest`); the name `ingest` reads the consolidated file when it exists, else the shards.
    """
    folder = Path(work_dir) / FINDINGS_DIR
    if not folder.is_dir():
        return []
    wanted = None if names is None else set(names)
    paths = sorted(folder.glob("*.parquet"))
    stems = {p.stem for p in paths}
    out = []
    for path in paths:
        base = _shard_of(path.stem)
        if base is not None and base in stems:
            continue  # superseded by the consolidated log
        if wanted is not None and path.stem not in wanted and base not in wanted:
            continue
        out.append(path)
    return out


def load_findings(
    work_dir: Path, names: Iterable[str] | None = None, columns: list[str] | None = None
) -> pd.DataFrame:
    """All stored findings, or those of the named logs (see `findings_files`).

    `columns` reads only those: a pass that needs decisions does not load every finding's evidence.
    """
    frames = [pd.read_parquet(path, columns=columns) for path in findings_files(work_dir, names)]
    if not frames:
        return pd.DataFrame(columns=columns or _COLUMNS)
    return pd.concat(frames, ignore_index=True)


def decisions_so_far(record_ids: list[str], findings: pd.DataFrame) -> list[Decision]:
    """The most severe decision of each record (in the given order); records without findings are kept.

    What a pass needs to skip what earlier ones dropped, without `resolve`'s reasons and evidence.
    """
    decision = dict.fromkeys(record_ids, Decision.KEEP)
    for rid, check, dec in zip(findings["record_id"], findings["check"], findings["decision"], strict=True):
        if rid not in decision:
            raise ValueError(f"finding of check {check!r} names record {rid!r}, which is not in the dataset")
        d = Decision(dec)
        if d.severity > decision[rid].severity:
            decision[rid] = d
    return [decision[r] for r in record_ids]


def resolve(record_ids: list[str], findings: pd.DataFrame) -> pd.DataFrame:
    """One row per record id: `decision` (most severe wins), `reasons` (sorted list), `evidence` (JSON).

    Records without findings are kept. The result is indexed by record_id in the given order.
    """
    decisions = decisions_so_far(record_ids, findings)  # also rejects findings on unknown records
    reasons: dict[str, set[str]] = {rid: set() for rid in record_ids}
    evidence: dict[str, dict[str, Any]] = {rid: {} for rid in record_ids}
    for rid, check, dec, reason, ev in findings[_COLUMNS].itertuples(index=False, name=None):
        if reason is not None and dec != Decision.KEEP:
            reasons[rid].add(reason)
        loaded = json.loads(ev) if ev else {}
        # Two findings of one check on one record (e.g. two signals) are kept side by side.
        if check in evidence[rid]:
            previous = evidence[rid][check]
            evidence[rid][check] = (previous if isinstance(previous, list) else [previous]) + [loaded]
        else:
            evidence[rid][check] = loaded
    return pd.DataFrame(
        {
            "decision": [str(d) for d in decisions],
            "reasons": [sorted(reasons[r]) for r in record_ids],
            "evidence": [sorted_json(evidence[r]) for r in record_ids],
        },
        index=pd.Index(record_ids, name="record_id"),
    )


def dropped_ids(work_dir: Path, names: Iterable[str]) -> set[str]:
    """Records that the named logs already dropped: later passes do not assess them again."""
    findings = load_findings(work_dir, names, ["record_id", "decision"])
    return set(findings.loc[findings["decision"] == str(Decision.DROP), "record_id"])
