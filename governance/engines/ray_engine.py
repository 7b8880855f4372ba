"""The Ray engine: ingest's per-record evidence as Ray Data tasks, NudeNet as an actor pool.

What runs where: the driver (the `pipeline run` process) reads the source's records and their raw
image bytes, a window of shards at a time; Ray Data tasks on the cluster run the same evidence
kernel as the local engine (`governance.evidence.evidence_batch`: hashes, dimensions, embedded
signals, the small copy) over those bytes, about one task per ingest shard; a pool of NudeNet actors (one
onnxruntime session each, a GPU each when onnxruntime has CUDA) adds the detections; the results
are written as Parquet in the work folder. The driver then reads them back, keeps exactly one row
per record and writes the ingest shards exactly as the local engine does, so every later pass and
the manifest are the same whichever engine ran.

Exactly once: Ray retries a task whose worker died, and a retried write may leave a second copy of
its rows. A record's problems are rows (a failure reason), never exceptions, so no record makes a
task fail; the driver deduplicates by record id, fails loudly when two copies of a record disagree
or when a record is missing, and writes a shard's completion marker only after its rows are whole.
"""

import json
import logging
import os
import shutil
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from governance.config import GovernanceConfig
from governance.engines.errors import EngineUnavailable
from governance.evidence import ImageEvidence, ImageTask, evidence_batch, read_task_bytes
from governance.images import ImageFailure, ImageLimits
from governance.ingest_shards import image_tasks, numbered, write_shard
from governance.progress import ProgressFn
from governance.reasons import Reason

INSTALL_FIX = "pip install 't2i-pipeline[ray]'  (or: pip install 'ray[data]')"
RAY_DIR = "ray"  # under the ingest folder: the Ray tasks' Parquet output, removed once written as shards
WINDOW_SHARDS = 64  # shards per Ray Data run: bounds the raw bytes the driver holds ...
WINDOW_BYTES = 512 * 2**20  # ... and so does this
CONNECT_TIMEOUT_S = 5.0

EVIDENCE_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("shard", pa.int64()),
        ("index", pa.int64()),
        ("content_sha256", pa.string()),
        ("width", pa.int64()),
        ("height", pa.int64()),
        ("format", pa.string()),
        ("phash", pa.int64()),
        ("color_hash", pa.string()),
        ("signals", pa.string()),
        ("failure_reason", pa.string()),
        ("failure_detail", pa.string()),
        ("detections", pa.string()),
        ("small", pa.binary()),
        ("small_shape", pa.list_(pa.int64())),
    ]
)


def check_ray() -> None:
    """Raise EngineUnavailable unless Ray Data imports and RAY_ADDRESS (when set) answers."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise EngineUnavailable(
            f"governance.engine is 'ray' but Ray Data cannot be imported ({exc}); install it with "
            f"{INSTALL_FIX}, or set governance.engine=local"
        ) from None
    problem = _address_problem(os.environ.get("RAY_ADDRESS", ""))
    if problem:
        raise EngineUnavailable(problem)


def _address_problem(address: str) -> str | None:
    """Why RAY_ADDRESS cannot be used, or None. `auto` and `local` are checked by ray.init itself."""
    if address in ("", "auto", "local"):
        return None
    target = address.split("://", 1)[-1].rstrip("/")
    host, _, port = target.rpartition(":")
    fix = (
        "start the cluster (`ray start --head` on its head node), fix RAY_ADDRESS (host:6379 or "
        "ray://host:10001), or unset it to run on a local Ray instance"
    )
    if not host or not port.isdigit():
        return f"RAY_ADDRESS={address!r} is not host:port or ray://host:port; {fix}"
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            return None
    except OSError as exc:
        return f"RAY_ADDRESS={address!r} does not answer ({exc.__class__.__name__}: {exc}); {fix}"


def _connect() -> bool:
    """Join the cluster RAY_ADDRESS names (else start a local one); True when this call started Ray."""
    import ray

    if ray.is_initialized():
        return False
    address = os.environ.get("RAY_ADDRESS") or None
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, TimeoutError) as exc:
        raise EngineUnavailable(
            f"Ray could not start or reach its cluster (RAY_ADDRESS={address!r}): {exc}; start one with "
            "`ray start --head`, or unset RAY_ADDRESS to run on a local Ray instance"
        ) from None
    return True


def _quiet() -> None:
    """No Ray Data progress bars or per-run INFO lines: the pipeline draws its own progress."""
    import ray.data

    logging.getLogger("ray.data").setLevel(logging.ERROR)  # also its note that the bars are off
    ray.data.DataContext.get_current().enable_progress_bars = False


@dataclass
class RayNsfwTally:
    """What ingest reports about NudeNet: the Ray engine runs it on every copy (no reuse)."""

    reused: int = 0


def _raw_row(task: ImageTask, shard: int, record_id: str, limits: ImageLimits) -> dict:
    """One Ray input row: the record's image bytes as the local kernel would read them, or why not."""
    row: dict[str, Any] = {"record_id": record_id, "shard": shard, "index": task.index}
    try:
        data = read_task_bytes(task, limits)
    except Exception as exc:  # a record never stops the stage
        data = ImageFailure(Reason.UNREADABLE_IMAGE, f"unexpected {exc.__class__.__name__}: {exc}"[:300])
    if isinstance(data, ImageFailure):
        row |= {"data": None, "failure_reason": str(data.reason), "failure_detail": data.detail}
    else:
        row |= {"data": data, "failure_reason": None, "failure_detail": None}
    return row


def evidence_rows(
    batch: pa.Table, limits: ImageLimits, trust_anchors: str | None, keep_small: bool
) -> pa.Table:
    """Ray Data task: raw bytes -> the local engine's evidence for each row (one row out per row in)."""
    rows = batch.to_pylist()
    ids = {r["index"]: (r["record_id"], r["shard"]) for r in rows}
    tasks = [ImageTask(r["index"], None, r["data"]) for r in rows if r["failure_reason"] is None]
    failed = [
        ImageEvidence(r["index"], failure=(r["failure_reason"], r["failure_detail"]))
        for r in rows
        if r["failure_reason"] is not None
    ]
    out = []
    for e in [*evidence_batch(tasks, limits, trust_anchors), *failed]:
        record_id, shard = ids[e.index]
        small = e.small if keep_small else None
        out.append(
            {
                "record_id": record_id,
                "shard": shard,
                "index": e.index,
                "content_sha256": e.content_sha256,
                "width": e.width,
                "height": e.height,
                "format": e.format,
                "phash": e.phash,
                "color_hash": e.color_hash,
                "signals": json.dumps(e.signals, sort_keys=True),
                "failure_reason": None if e.failure is None else e.failure[0],
                "failure_detail": None if e.failure is None else e.failure[1],
                "detections": None,
                "small": None if small is None else small.tobytes(),
                "small_shape": None if small is None else list(small.shape),
            }
        )
    return pa.Table.from_pylist(out, schema=EVIDENCE_SCHEMA)


class NudeNetActor:
    """Ray Data actor: one NudeNet session, kept for the whole run, over batches of small copies."""

    def __init__(self, providers: list[str] | None, upscale_small: bool, batch_size: int, threads: int):
        from governance.nsfw import NsfwDetector

        self.detector = NsfwDetector(
            providers, threads=threads, upscale_small=upscale_small, batch_size=batch_size
        )

    def __call__(self, batch: pa.Table) -> pa.Table:
        import numpy as np

        rows = batch.to_pylist()
        todo = [r for r in rows if r["small"] is not None]
        images = [np.frombuffer(r["small"], dtype=np.uint8).reshape(r["small_shape"]) for r in todo]
        sizes = [(r["width"], r["height"]) for r in todo]
        try:
            found = self.detector.detect(images, sizes)
        except Exception:  # find the image that fails; the others keep their detections
            found = [
                self._one(image, size, row) for image, size, row in zip(images, sizes, todo, strict=True)
            ]
        for row, dets in zip(todo, found, strict=True):
            if dets is not None:
                row["detections"] = json.dumps([d.as_dict() for d in dets])
        for row in rows:
            row["small"] = row["small_shape"] = None  # the pixels go no further than NudeNet
        return pa.Table.from_pylist(rows, schema=EVIDENCE_SCHEMA)

    def _one(self, image: Any, size: tuple[int, int], row: dict) -> list | None:
        try:
            return self.detector.detect([image], [size])[0]
        except Exception as exc:  # a record's failure is a row: its image goes no further
            row["failure_reason"] = "unreadable_image"
            row["failure_detail"] = f"NudeNet failed: {exc.__class__.__name__}: {exc}"[:300]
            return None


def _windows(
    shards: Iterable[tuple[int, list]], limits: ImageLimits
) -> Iterator[list[tuple[int, list, list[dict]]]]:
    """Shards with their Ray input rows, grouped so that a window's raw bytes stay bounded."""
    window: list[tuple[int, list, list[dict]]] = []
    size = 0
    for k, records in shards:
        ids = {r.index: r.record_id for r in records}
        rows = [_raw_row(t, k, ids[t.index], limits) for t in image_tasks(records)]
        window.append((k, records, rows))
        size += sum(len(r["data"] or b"") for r in rows)
        if len(window) >= WINDOW_SHARDS or size >= WINDOW_BYTES:
            yield window
            window, size = [], 0
    if window:
        yield window


def _run_window(
    cfg: GovernanceConfig, window: list, limits: ImageLimits, anchors: str | None, out: Path
) -> None:
    """One Ray Data run over a window's rows: evidence tasks, NudeNet actors, Parquet in `out`."""
    import ray
    import ray.data

    rows = [row for _, _, shard_rows in window for row in shard_rows]
    if out.exists():
        shutil.rmtree(out)  # left by a killed run: its rows would be mixed with this run's
    if not rows:
        out.mkdir(parents=True)
        return
    # As many blocks as shards (rows split evenly, about a shard each): each is one evidence task.
    ds = ray.data.from_items(rows, override_num_blocks=len(window))
    ds = ds.map_batches(
        evidence_rows,
        batch_size=None,
        batch_format="pyarrow",
        fn_kwargs={"limits": limits, "trust_anchors": anchors, "keep_small": cfg.nsfw.enabled},
        num_cpus=1,
    )
    if cfg.nsfw.enabled:
        from governance.nsfw import default_providers

        providers = cfg.nsfw.providers or default_providers()
        gpus = int(ray.cluster_resources().get("GPU", 0)) if providers[0] == "CUDAExecutionProvider" else 0
        cpus = int(ray.cluster_resources().get("CPU", 1))
        ds = ds.map_batches(
            NudeNetActor,
            batch_size=cfg.nsfw.batch_size,
            batch_format="pyarrow",
            fn_constructor_kwargs={
                "providers": providers,
                "upscale_small": cfg.nsfw.upscale_small,
                "batch_size": cfg.nsfw.batch_size,
                "threads": 1,
            },
            # On CPUs Ray fuses the evidence tasks into these actors (no pixels cross processes), so
            # the pool may grow to every CPU; on GPUs one actor per GPU beside the CPU tasks.
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=max(1, gpus or cpus)),
            num_gpus=1 if gpus else 0,
            num_cpus=1,
        )
    # The writes are small and I/O-bound: a sliver of a CPU, so they never wait behind the actors.
    ds.write_parquet(str(out), ray_remote_args={"num_cpus": 0.1})


def _collect(window: list, out: Path) -> dict[int, tuple[dict[int, ImageEvidence], dict[int, list[dict]]]]:
    """Each shard's evidence and detections, exactly one row per record (copies must agree)."""
    expected = {row["record_id"]: row["index"] for _, _, rows in window for row in rows}
    files = sorted(out.rglob("*.parquet"))
    table = pa.concat_tables([pq.read_table(f, schema=EVIDENCE_SCHEMA) for f in files]) if files else None
    seen: dict[str, dict] = {}
    for row in [] if table is None else table.to_pylist():
        first = seen.setdefault(row["record_id"], row)
        if first is not row and first != row:
            diff = sorted(c for c in row if row[c] != first[c])
            raise RuntimeError(
                f"record {row['record_id']!r} was computed twice by Ray with different results "
                f"(columns {diff}); the evidence kernel is not deterministic here, refusing to pick one"
            )
    missing = sorted(set(expected) - set(seen))
    unknown = sorted(set(seen) - set(expected))
    if missing or unknown:
        raise RuntimeError(
            f"the Ray run under {out} lost records {missing[:5]} ({len(missing)} in all) and returned "
            f"records it was not given {unknown[:5]}; rerun `pipeline run --resume` to redo the unfinished shards"
        )
    shards: dict[int, tuple[dict[int, ImageEvidence], dict[int, list[dict]]]] = {
        k: ({}, {}) for k, _, _ in window
    }
    for row in seen.values():
        if row["index"] != expected[row["record_id"]]:
            raise RuntimeError(f"record {row['record_id']!r} came back from Ray with another index")
        failure = None if row["failure_reason"] is None else (row["failure_reason"], row["failure_detail"])
        evidence, detections = shards[row["shard"]]
        evidence[row["index"]] = ImageEvidence(
            row["index"],
            content_sha256=row["content_sha256"],
            width=row["width"],
            height=row["height"],
            format=row["format"],
            phash=row["phash"],
            color_hash=row["color_hash"],
            signals=json.loads(row["signals"]),
            failure=failure,
        )
        if row["detections"] is not None:
            detections[row["index"]] = json.loads(row["detections"])
    return shards


def ingest_shards(
    cfg: GovernanceConfig, loaded: Any, work_dir: Path, anchors: str | None, tally: Any, progress: ProgressFn
) -> RayNsfwTally:
    """Compute and write every shard without a completion marker, the per-record work on Ray."""
    from governance.tables import INGEST_DIR

    check_ray()
    started_here = _connect()
    _quiet()
    folder = work_dir / INGEST_DIR
    limits = ImageLimits(cfg.data.max_file_bytes, cfg.data.max_image_pixels, cfg.data.min_image_side)
    done = 0
    progress("ingest", 0, loaded.size)
    try:
        todo = tally.todo(numbered(loaded.iter_records(), cfg.batch_size))
        for window in _windows(todo, limits):
            out = folder / RAY_DIR / f"window-{window[0][0]:05d}"
            _run_window(cfg, window, limits, anchors, out)
            results = _collect(window, out)
            for k, records, _ in window:
                write_shard(work_dir, k, records, *results[k])
                done += len(records)
                progress("ingest", done + tally.reused, loaded.size)
            shutil.rmtree(out)
        shutil.rmtree(folder / RAY_DIR, ignore_errors=True)
    finally:
        if started_here:
            import ray

            ray.shutdown()
    return RayNsfwTally()
