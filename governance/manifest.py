"""The manifest: one row per input record, the decision, its reasons and the evidence.

Column names are a contract between governance, training, audits and the model card.
"""

from enum import StrEnum


class Col(StrEnum):
    RECORD_ID = "record_id"  # stable: source name + row index, e.g. "emoji:00042"
    FILE_NAME = "file_name"  # as given in the metadata (untrusted)
    PATH = "path"  # resolved absolute path inside the dataset folder, or null
    TEXT = "text"  # caption
    DECISION = "decision"  # governance.reasons.Decision
    REASONS = "reasons"  # list[str] of governance.reasons.Reason
    EVIDENCE = "evidence"  # JSON string: {check_name: {...}}
    DUPLICATE_OF = "duplicate_of"  # record_id of the kept representative, or null
    DUPLICATE_GROUP = "duplicate_group"  # group id (record_id of the representative), or null
    LICENSE_RAW = "license_raw"
    LICENSE_SPDX = "license_spdx"  # SPDX id, or null when unknown
    SOURCE_URL = "source_url"
    AUTHOR = "author"
    SOURCE = "source"  # dataset source name ("emoji", "imagefolder:<dir>")
    CONTENT_SHA256 = "content_sha256"  # of the file bytes
    WIDTH = "width"
    HEIGHT = "height"
    PHASH = "phash"  # 64-bit perceptual hash as signed int64
    COLOR_HASH = "color_hash"  # colour-aware hash, hex string
    NSFW_SCORE = "nsfw_score"  # max score over labels in the NSFW policy
    NSFW_DETECTIONS = "nsfw_detections"  # JSON string: raw NudeNet detections
    FACE_COUNT = "face_count"
    SPLIT = "split"  # "train" | "eval" for kept records, null otherwise
    ATTRIBUTES = (
        "attributes"  # JSON string: sensitive attributes from the source, e.g. {"skin_tone": "medium"}
    )


class Split(StrEnum):
    TRAIN = "train"
    EVAL = "eval"


MANIFEST_FILE = "manifest.parquet"
GOVERNED_FILE = "governed.parquet"  # kept records only: record_id, path, text, split, attributes, ...
