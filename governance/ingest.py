"""The ingest stage: every record read, every image decoded once, all per-image evidence computed.

The source is read as ingest goes (a tar or a Parquet row batch at a time, images by reference), and
each shard is written before more records are read, so ingest's memory does not grow with the
dataset. Work is split into shards of `batch_size` records. NudeNet's runs (threads over one session, its
batches spread over the cores) work on a shard while the next shard is decoded and hashed: by worker
processes (as many as the cores NudeNet leaves free) or, on 2 cores, by the parent's main thread,
which also writes the shard before. Each shard is written as Parquet with its findings, then a
completion marker (`governance.ingest_shards`, which the Ray engine writes with too); a rerun skips shards with markers (their records are read again, their images
not), so a killed ingest resumes without losing or
repeating records. When the last shard is done, the shards are also written as one table and one
findings log, which the later passes read (one file each instead of one per shard).
"""

import hashlib
import json
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from governance.config import GovernanceConfig
from governance.content_credentials import read_trust_anchors
from governance.decisions import (
    FINDINGS_DIR,
    FindingsLog,
    consolidate_findings,
    findings_files,
    findings_path,
    load_findings,
)
from governance.evidence import ImageEvidence, evidence_batch
from governance.images import ImageLimits
from governance.ingest_shards import Shard, ShardTally, image_tasks, numbered, write_shard
from governance.nsfw import Detection, NsfwDetector
from governance.progress import ProgressFn
from governance.reasons import Decision
from governance.records import SourceRecord
from governance.report import StageCounts
from governance.sources import LoadedSource, load_source
from governance.tables import (
    INGEST_DIR,
    RECORDS_FILE,
    SOURCE_FILE,
    atomic_text,
    concat_parquet,
    consolidate_ingest,
)


def worker_count(cfg: GovernanceConfig, detector: NsfwDetector | None) -> int:
    """Decoding processes to use: `num_proc`, or when 0 the cores NudeNet's runs leave free.

    On the CPU, NudeNet runs one batch per core concurrently, up to a shard's batches; decoding workers
    beside it only compete for the same cores. Measured on 2 cores (5 alternating pairs), decoding in
    the parent made ingest of the emoji 14% faster than 2 workers (6.5 s vs 7.6 s) and tied on 240
    1600x1200 JPEG photos. With NudeNet on a GPU, or off, every core decodes. 1 = in the parent.
    """
    if cfg.num_proc:
        return cfg.num_proc
    cores = os.cpu_count() or 1
    if detector is None or detector.concurrent_runs <= 1:
        return cores
    busy = min(detector.concurrent_runs, -(-cfg.batch_size // cfg.nsfw.batch_size))
    return max(1, cores - busy)


def _fingerprint(cfg: GovernanceConfig, loaded: LoadedSource, anchors: str | None) -> str:
    """What the shards depend on; a change (other data, other limits) invalidates them."""
    h = hashlib.sha256()
    h.update(cfg.data.model_dump_json().encode())
    h.update(cfg.nsfw.model_dump_json().encode())
    # the C2PA validation recorded per file depends on the trust anchors' content, not only their path
    h.update((anchors or "").encode())
    h.update(str(cfg.batch_size).encode())
    h.update(f"{loaded.name}\n".encode("utf-8", "replace"))
    # A tar rewritten under the same name holds other images: each file's size and modification
    # time say so without reading it (the records alone name only keys and paths).
    for f in loaded.files:
        try:
            st = f.stat()
            h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "replace"))
        except OSError:
            h.update(f"{f}\0missing\n".encode("utf-8", "replace"))
    if not loaded.files:  # the built-in dataset: its records are small and name its files
        for r in loaded.iter_records():
            h.update(f"{r.record_id}\0{r.path}\0{r.file_name}\n".encode("utf-8", "replace"))
    return h.hexdigest()


FINGERPRINT_FILE = "fingerprint.txt"  # what the shards were computed from; source.json comes last


def _prepare(folder: Path, work_dir: Path, fingerprint: str) -> bool:
    """Clear what does not match `fingerprint`; True when a finished ingest of the same data is there."""
    meta_path, print_path = folder / SOURCE_FILE, folder / FINGERPRINT_FILE
    if print_path.exists() and print_path.read_text(encoding="utf-8") == fingerprint:
        if meta_path.exists() and len(_consolidated(work_dir)) == 2:
            shards = json.loads(meta_path.read_text(encoding="utf-8"))["shards"]
            if all((folder / f"shard-{k:05d}.done").exists() for k in range(shards)):
                return True
        # Unfinished: shards with markers are reused; the one-file copies would hide the new ones.
        for stale in [*_consolidated(work_dir), *([meta_path] if meta_path.exists() else [])]:
            stale.unlink()
        return False
    # Different data or settings: earlier shards describe something else and must not be reused.
    findings = Path(work_dir) / FINDINGS_DIR
    for stale in [*folder.glob("shard-*"), *findings.glob("ingest-*"), *_consolidated(work_dir)]:
        stale.unlink()
    if meta_path.exists():
        meta_path.unlink()
    atomic_text(fingerprint, print_path)
    return False


def _consolidated(work_dir: Path) -> list[Path]:
    """The one-file copies of all shards (records and findings) that exist in `work_dir`."""
    paths = [work_dir / INGEST_DIR / RECORDS_FILE, findings_path(work_dir, "ingest")]
    return [p for p in paths if p.exists()]


def _evidence_stream(
    shards: Iterable[Shard],
    limits: ImageLimits,
    workers: int,
    trust_anchors: str | None = None,
    help_while_booting: bool = True,
) -> Iterator[tuple[int, list[SourceRecord], list[ImageEvidence]]]:
    """(shard, records, evidence) in shard order; at most 2 shards per worker in flight, and the
    source is read only as far as that (bounded memory).

    Worker processes take a few seconds to start (spawn imports the main module again), so the parent
    decodes shards itself until the first worker answers: no core idles while the pool boots.
    """
    work = partial(evidence_batch, limits=limits, trust_anchors=trust_anchors)
    queue = iter(shards)
    first = next(queue, None) if workers > 1 else None
    second = next(queue, None) if first is not None else None
    if second is None:  # one process, or a single shard: no pool to start
        for k, records in _chain(first, second, queue):
            yield k, records, work(image_tasks(records))
        return
    queue = _chain(first, second, queue)
    # spawn, not fork: the parent may hold onnxruntime / torch thread pools that fork would corrupt.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        booted = pool.apply_async(os.getpid)
        pending: deque = deque()

        def submit(shard: Shard) -> None:
            pending.append((shard[0], shard[1], pool.apply_async(work, (image_tasks(shard[1]),))))

        for k, records in queue:
            if booted.ready() or not help_while_booting:
                submit((k, records))
                break
            yield k, records, work(image_tasks(records))
        while pending and len(pending) < 2 * workers:
            nxt = next(queue, None)
            if nxt is None:
                break
            submit(nxt)
        while pending:
            k, records, result = pending.popleft()
            nxt = next(queue, None)
            if nxt is not None:
                submit(nxt)
            yield k, records, result.get()


def _chain(first: Shard | None, second: Shard | None, rest: Iterator[Shard]) -> Iterator[Shard]:
    """The shards taken to look ahead, put back in front of the rest."""
    yield from (shard for shard in (first, second) if shard is not None)
    yield from rest


class _Pending:
    """One NudeNet submission's detections as stored dicts, computed when first asked for."""

    def __init__(self, wait: Callable[[], list[list[Detection]]]):
        self.wait: Callable[[], list[list[Detection]]] | None = wait
        self.found: list[list[dict]] = []

    def get(self) -> list[list[dict]]:
        if self.wait is not None:
            self.found = [[d.as_dict() for d in dets] for dets in self.wait()]
            self.wait = None  # the futures and their Detection objects can go
        return self.found


class _NsfwOncePerContent:
    """NudeNet over ingest's shards. Byte-identical copies (common in scraped data) are run once in
    the whole ingest and share the result; `submit` returns at once, `gather` waits."""

    def __init__(self, detector: NsfwDetector | None):
        self.detector = detector
        self.known: dict[str, tuple[_Pending, int]] = {}  # content sha256 -> (submission, position)
        self.reused = 0  # images that took an earlier copy's detections

    def submit(self, evidence: list[ImageEvidence]) -> list[tuple[int, str]]:
        """Start the shard's new contents on NudeNet; returns (record index, content hash) to gather."""
        if self.detector is None:
            return []
        with_pixels = [(e.index, str(e.content_sha256), e) for e in evidence if e.small is not None]
        first_copies = {}
        for _, sha, e in with_pixels:
            if sha not in self.known:
                first_copies.setdefault(sha, e)
        todo = list(first_copies.values())
        pending = _Pending(self.detector.submit([e.small for e in todo], [(e.width, e.height) for e in todo]))  # type: ignore[misc]
        for position, sha in enumerate(first_copies):
            self.known[sha] = (pending, position)
        self.reused += len(with_pixels) - len(todo)
        return [(index, sha) for index, sha, _ in with_pixels]

    def gather(self, submitted: list[tuple[int, str]]) -> dict[int, list[dict]]:
        """Each submitted record's detections (waits for NudeNet where it is still running)."""
        out = {}
        for index, sha in submitted:
            pending, position = self.known[sha]
            out[index] = pending.get()[position]
        return out


def _with_detections(
    stream: Iterator[tuple[int, list[SourceRecord], list[ImageEvidence]]], nsfw: _NsfwOncePerContent
) -> Iterator[tuple[int, list[SourceRecord], list[ImageEvidence], dict[int, list[dict]]]]:
    """(shard, records, evidence, NudeNet detections) in shard order.

    NudeNet's runs (threads that release the GIL) work on shard k while the stream decodes shard
    k+1 and the caller writes shard k-1, and shard k+1's batches queue behind shard k's on the same
    runs, so no core waits for a shard's last batch or for the next shard's decoding. Emoji ingest in
    the throughput benchmark: 5.0 s (fastest of 5) against 6.1 s (fastest of 3) when each shard's
    NudeNet ran after its decoding. At most two shards wait (bounded memory).
    """
    waiting: deque = deque()
    for k, records, batch_evidence in stream:
        waiting.append((k, records, batch_evidence, nsfw.submit(batch_evidence)))
        if len(waiting) > 1:
            k_prev, records_prev, evidence_prev, submitted = waiting.popleft()
            yield k_prev, records_prev, evidence_prev, nsfw.gather(submitted)
    for k, records, batch_evidence, submitted in waiting:
        yield k, records, batch_evidence, nsfw.gather(submitted)


def _shard_writer(cfg: GovernanceConfig) -> Callable[..., Any]:
    """What computes and writes the shards: this machine's `_ingest_shards`, or Ray's for engine=ray.

    Both hand their evidence to `ingest_shards.write_shard`. Ray is imported only for engine=ray.
    """
    if cfg.engine == "ray":
        from governance.engines.ray_engine import ingest_shards

        return ingest_shards
    return _ingest_shards


def run_ingest(cfg: GovernanceConfig, work_dir: Path, progress: ProgressFn) -> StageCounts:
    """Ingest every record of the configured source into `work_dir/ingest/` shards (resumable)."""
    started = time.perf_counter()
    work_dir = Path(work_dir)
    folder = work_dir / INGEST_DIR
    folder.mkdir(parents=True, exist_ok=True)
    loaded = load_source(cfg.data)
    anchors = read_trust_anchors(cfg.provenance.c2pa_trust_anchors)  # read once: fingerprint and workers
    fingerprint = _fingerprint(cfg, loaded, anchors)
    finished = _prepare(folder, work_dir, fingerprint)
    tally = ShardTally(folder)
    nsfw = _NsfwOncePerContent(None)
    if not finished:
        nsfw = _shard_writer(cfg)(cfg, loaded, work_dir, anchors, tally, progress)
        meta = {
            "source": loaded.name,
            "root": str(loaded.root),
            "records": tally.records,
            "shards": tally.shards,
            "fingerprint": fingerprint,
        }
        # Later passes read one table and one findings file instead of every shard's.
        atomic_text(json.dumps(meta, indent=2), folder / SOURCE_FILE)
        consolidate_ingest(work_dir)
        _consolidate_findings(work_dir)
    total = json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8"))["records"]
    progress("ingest", total, total)
    counts = _stored_counts(work_dir).counts("ingest", total, time.perf_counter() - started)
    counts.metrics["records_ingested_now"] = float(tally.records - tally.reused)
    counts.metrics["records_per_second"] = counts.metrics["records_ingested_now"] / max(counts.seconds, 1e-9)
    counts.metrics["nsfw_reused_for_identical_files"] = float(nsfw.reused)
    counts.artifacts = [findings_path(work_dir, "ingest")]  # the stage's findings, for review in MLflow
    return counts


def _consolidate_findings(work_dir: Path) -> None:
    """The shards' findings as one log, copied a shard at a time (not loaded as one table)."""
    shards = findings_files(work_dir, ["ingest"])
    if shards:
        concat_parquet(shards, findings_path(work_dir, "ingest"))
    else:
        consolidate_findings(work_dir, "ingest")  # no shard: an empty log with the stored schema


def _stored_counts(work_dir: Path) -> FindingsLog:
    """The stored ingest findings that decide something, without their evidence.

    Counts only look at drop and quarantine findings; the evidence-only ones and every finding's
    evidence would cost memory per record for nothing.
    """
    frame = load_findings(work_dir, ["ingest"], ["record_id", "check", "decision", "reason"])
    deciding = frame[frame["decision"] != str(Decision.KEEP)].copy()
    deciding["evidence"] = None
    return FindingsLog.from_frame("ingest", deciding)


def _ingest_shards(
    cfg: GovernanceConfig,
    loaded: LoadedSource,
    work_dir: Path,
    anchors: str | None,
    tally: ShardTally,
    progress: ProgressFn,
) -> _NsfwOncePerContent:
    """Compute and write every shard without a completion marker, reading the source as it goes."""
    limits = ImageLimits(cfg.data.max_file_bytes, cfg.data.max_image_pixels, cfg.data.min_image_side)
    detector = (
        NsfwDetector(cfg.nsfw.providers, upscale_small=cfg.nsfw.upscale_small, batch_size=cfg.nsfw.batch_size)
        if cfg.nsfw.enabled
        else None
    )
    done = 0
    progress("ingest", 0, loaded.size)
    todo = tally.todo(numbered(loaded.iter_records(), cfg.batch_size))
    stream = _evidence_stream(todo, limits, worker_count(cfg, detector), anchors)
    nsfw = _NsfwOncePerContent(detector)
    try:
        for k, records, batch_evidence, detections in _with_detections(stream, nsfw):
            write_shard(work_dir, k, records, {e.index: e for e in batch_evidence}, detections)
            done += len(records)
            progress("ingest", done + tally.reused, loaded.size)
    finally:
        if detector is not None:
            detector.close()  # its run threads end; after a failure, passes not started are cancelled
    return nsfw
