"""The per-record kernel of ingest: bytes -> hashes, dimensions, embedded signals and the small copy.

Runs in worker processes, so it takes and returns plain picklable values.
"""

import hashlib
from dataclasses import dataclass, field

import numpy as np

from governance.color import color_hash
from governance.embedded_signals import scan
from governance.images import ImageFailure, ImageLimits, decode, read_bytes
from governance.perceptual_hash import phash_int64


@dataclass
class ImageTask:
    index: int
    path: str | None
    data: bytes | None


@dataclass
class ImageEvidence:
    index: int
    content_sha256: str | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    phash: int | None = None
    color_hash: str | None = None
    signals: dict = field(default_factory=dict)
    failure: tuple[str, str] | None = None  # (reason code, detail)
    small: np.ndarray | None = None  # shared with NudeNet in the parent process


def image_evidence(task: ImageTask, limits: ImageLimits) -> ImageEvidence:
    """Everything ingest learns from one file; a problem becomes `failure`, never an exception."""
    out = ImageEvidence(task.index)
    data = task.data if task.data is not None else read_bytes(task.path or "", limits)
    if isinstance(data, ImageFailure):
        out.failure = (str(data.reason), data.detail)
        return out
    out.content_sha256 = hashlib.sha256(data).hexdigest()
    decoded = decode(data, limits)
    if isinstance(decoded, ImageFailure):
        out.failure = (str(decoded.reason), decoded.detail)
        out.signals = scan(data).as_dict()
        return out
    out.width, out.height, out.format = decoded.width, decoded.height, decoded.format
    out.phash = phash_int64(decoded.small)
    out.color_hash = color_hash(decoded.small)
    out.signals = scan(data, decoded.info_text).as_dict()
    out.small = decoded.small
    return out


def evidence_batch(tasks: list[ImageTask], limits: ImageLimits) -> list[ImageEvidence]:
    """`image_evidence` over a batch (the unit of work sent to a worker process)."""
    out = []
    for task in tasks:
        try:
            out.append(image_evidence(task, limits))
        except Exception as exc:  # a record must never stop the stage: it becomes a decision instead
            failed = ImageEvidence(task.index)
            failed.failure = ("unreadable_image", f"unexpected {exc.__class__.__name__}: {exc}"[:300])
            out.append(failed)
    return out
