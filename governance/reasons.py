"""Stable identifiers for decisions and the reasons behind them.

These strings are a public contract: they appear in manifests, MLflow, model cards and the README.
Never rename one; add new ones instead.
"""

from enum import StrEnum


class Decision(StrEnum):
    """What happens to one input record. Exactly one per record."""

    KEEP = "keep"
    DROP = "drop"
    QUARANTINE = "quarantine"  # needs a human decision; never trained on

    @property
    def severity(self) -> int:
        return {Decision.KEEP: 0, Decision.QUARANTINE: 1, Decision.DROP: 2}[self]


class Reason(StrEnum):
    """Why a record was not simply kept (or, for `*_kept` codes, evidence worth recording)."""

    # ingest: the file itself
    FILE_MISSING = "file_missing"
    PATH_OUTSIDE_DATASET = "path_outside_dataset"
    NOT_AN_IMAGE = "not_an_image"
    UNREADABLE_IMAGE = "unreadable_image"
    IMAGE_TOO_LARGE = "image_too_large"
    IMAGE_TOO_SMALL = "image_too_small"
    EMPTY_FILE = "empty_file"
    DUPLICATE_FILE_NAME = "duplicate_file_name"
    DOWNLOAD_FAILED = "download_failed"  # a downloader's sidecar row with no image (its error as evidence)
    # ingest: the metadata
    INVALID_METADATA = "invalid_metadata"
    CAPTION_MISSING = "caption_missing"
    CAPTION_INVALID = "caption_invalid"
    DATASET_SCORE = "dataset_score"  # a dataset-provided score past its data.metadata limit
    # provenance
    LICENSE_UNKNOWN = "license_unknown"
    LICENSE_NOT_ALLOWED = "license_not_allowed"
    PROVENANCE_MISSING = "provenance_missing"
    SOURCE_URL_INVALID = "source_url_invalid"
    HASH_MISMATCH = "hash_mismatch"
    OPT_OUT = "opt_out"
    AI_GENERATED = "ai_generated"
    # dedup
    DUPLICATE_EXACT = "duplicate_exact"
    DUPLICATE_NEAR = "duplicate_near"
    EVAL_LEAK = "eval_leak"
    # content
    NSFW = "nsfw"
    NSFW_UNCONFIRMED = "nsfw_unconfirmed"  # quarantine: a NudeNet hit whose box does not show skin
