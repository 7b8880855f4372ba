"""Configuration of the governance stages (composed into the pipeline config by `pipeline/config.py`)."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from governance.sizes import Size


class FrozenConfig(BaseModel):
    """The base of every config model: frozen once read, and an unknown key is an error.

    Here only because governance is the leftmost package: training, audits and pipeline import it."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _existing_file(path: Path | None) -> Path | None:
    # Checked when the config is read, so a wrong path is a config error (exit 2) before any work.
    if path is not None and not Path(path).expanduser().is_file():
        raise ValueError(f"{path} does not exist: give an existing file or unset the option")
    return path


class FieldMap(FrozenConfig):
    """Names of the metadata fields in the user's dataset."""

    file_name: str = "file_name"
    text: str = "text"
    license: str = "license"
    source_url: str = "source_url"
    author: str = "author"
    sha256: str = "sha256"


class MetadataJoin(FrozenConfig):
    """A metadata Parquet joined to the webdataset / parquet records (dataset-provided columns)."""

    path: Path = Field(description="a .parquet file, or a folder of them, with one row per sample")
    on: Literal["key", "url"] = Field("url", description="the column both sides share")
    columns: list[str] = Field(default_factory=list, description="columns to bring (empty: all)")
    max: dict[str, float] = Field(
        default_factory=dict,
        description="drop (dataset_score) a record whose column is above, e.g. pwatermark: 0.8",
    )
    min: dict[str, float] = Field(
        default_factory=dict,
        description="drop (dataset_score) a record whose column is below, e.g. similarity: 0.28",
    )

    @field_validator("path")
    @classmethod
    def _exists(cls, path: Path) -> Path:
        if not Path(path).expanduser().exists():
            raise ValueError(f"{path} does not exist: give the metadata .parquet file or its folder")
        return path


class DataConfig(FrozenConfig):
    """Where the dataset comes from."""

    source: Literal["emoji", "imagefolder", "hf_disk", "webdataset", "parquet"] = Field(
        "emoji",
        description="emoji (built in, offline), imagefolder (a folder with metadata.jsonl/csv), "
        "hf_disk (a dataset saved with datasets.save_to_disk), webdataset (img2dataset's .tar shards "
        "with their sidecar .parquet) or parquet (Parquet files with image bytes)",
    )
    path: Path | None = Field(None, description="dataset folder for every source but emoji")
    limit: int | None = Field(None, ge=1, description="use only the first N records (quick runs)")
    fields: FieldMap = FieldMap()
    metadata: MetadataJoin | None = Field(
        None, description="webdataset / parquet: a metadata Parquet to join"
    )
    attribute_fields: list[str] = Field(
        default_factory=lambda: ["skin_tone", "gender"],
        description="metadata fields holding sensitive attributes, carried to the bias audit",
    )
    max_file_bytes: Size = Field(
        50_000_000, description="larger files are dropped (image_too_large); e.g. 50MB, 48MiB or bytes"
    )
    max_image_pixels: int = Field(
        40_000_000, ge=1, description="width*height above this is dropped from the header (image_too_large)"
    )
    min_image_side: int = Field(16, ge=1, description="smaller images are dropped (image_too_small)")
    max_caption_chars: int = Field(1000, ge=1, description="longer captions are dropped (caption_invalid)")


class LicensePolicy(FrozenConfig):
    """Which licences may be trained on, for which use."""

    intended_use: Literal["research", "commercial"] = "research"
    allow: list[str] = Field(
        default_factory=lambda: [
            "CC0-1.0",
            "PDM-1.0",
            "CC-PDDC",
            "CC-BY-1.0",
            "CC-BY-2.0",
            "CC-BY-2.5",
            "CC-BY-3.0",
            "CC-BY-4.0",
            "CC-BY-SA-2.0",
            "CC-BY-SA-3.0",
            "CC-BY-SA-4.0",
            "MIT",
            "Apache-2.0",
            "BSD-2-Clause",
            "BSD-3-Clause",
            "OFL-1.1",
            "Unlicense",
        ],
        description="SPDX ids that may be kept",
    )
    deny: list[str] = Field(default_factory=list, description="SPDX ids always dropped")
    deny_traits: list[
        Literal["attribution", "share-alike", "non-commercial", "no-derivatives", "copyleft"]
    ] = Field(default_factory=lambda: ["no-derivatives"], description="licence families always dropped")


class OptOutList(FrozenConfig):
    domains: list[str] = Field(default_factory=list)
    url_prefixes: list[str] = Field(default_factory=list)
    authors: list[str] = Field(default_factory=list)
    sha256: list[str] = Field(default_factory=list)
    file: Path | None = Field(
        None, description="a text file with one domain, URL prefix, author or sha256 per line"
    )

    _file_exists = field_validator("file")(_existing_file)


class ProvenanceConfig(FrozenConfig):
    required_fields: list[str] = Field(
        default_factory=lambda: ["license", "source_url", "author"],
        description="metadata fields (config names, see data.fields) every record must have",
    )
    opt_out: OptOutList = OptOutList()
    respect_embedded_signals: bool = Field(
        True, description="honour IPTC/XMP and C2PA training-mining signals"
    )
    ai_generated: Literal["exclude", "keep", "cap"] = "exclude"
    ai_generated_max_share: float = Field(0.0, ge=0, le=1, description="with ai_generated=cap")
    c2pa_trust_anchors: Path | None = Field(
        None,
        description="PEM file of trusted C2PA signing roots (e.g. the C2PA trust list, fetched by you): "
        "manifests signed under one read 'Trusted' instead of 'Valid'",
    )

    _anchors_exist = field_validator("c2pa_trust_anchors")(_existing_file)


class DedupConfig(FrozenConfig):
    near_max_distance: int = Field(
        6,
        ge=0,
        le=32,
        description="Hamming radius on the 64-bit pHash and the colour-grid dHash (candidates)",
    )
    color_max_distance: float = Field(
        0.035,
        ge=0,
        description="candidates must also be this close in colour: largest difference of the mean colour of any "
        "cell of a 16x16 grid of the picture without its margin, any channel (0..1), after a fitted "
        "brightness/contrast change",
    )
    pixel_candidate_distance: int = Field(
        10,
        ge=0,
        le=32,
        description="candidates the colour grid rejects, within this Hamming radius on either hash, are "
        "verified on the two images' pixels (governance/pixel_match.py); below near_max_distance: no pixel check",
    )
    pixel_max_difference: float = Field(
        0.05,
        ge=0,
        le=1,
        description="pixel check: largest colour difference (0..1, any channel, after a 1 px blur) between the "
        "two images' content aligned at <= 32x32, under the better of same framing and same scale",
    )
    pixel_max_share_ratio: float = Field(
        1.15,
        ge=1,
        description="pixel check, same framing: the margins the two images had may differ by this ratio at most "
        "(one shape drawn on different margins is a different picture)",
    )
    eval_fraction: float = Field(0.05, ge=0, lt=1, description="share of kept records held out for audits")
    eval_dir: Path | None = Field(
        None, description="a user-given evaluation set (imagefolder) to check leakage"
    )


class NsfwConfig(FrozenConfig):
    enabled: bool = True
    thresholds: dict[str, float] = Field(
        default_factory=lambda: {
            "FEMALE_BREAST_EXPOSED": 0.5,
            "FEMALE_GENITALIA_EXPOSED": 0.4,
            "MALE_GENITALIA_EXPOSED": 0.4,
            "ANUS_EXPOSED": 0.4,
            "BUTTOCKS_EXPOSED": 0.5,
        },
        description="NudeNet label -> minimum score at which a detection is a hit",
    )
    min_skin_fraction: float = Field(
        0.5,
        ge=0,
        le=1,
        description="a hit drops the record only if at least this share of its box is skin-coloured; a hit "
        "with less skin, or on a grayscale image, quarantines it (nsfw_unconfirmed) for a human; 0 = every "
        "hit drops",
    )
    batch_size: int = Field(32, ge=1)
    providers: list[str] | None = Field(
        None, description="onnxruntime providers; default: CUDA when present, else CPU"
    )
    upscale_small: bool = Field(
        False,
        description="resize images under 320 px up to 320 as NudeNet does (false: run them at native size, "
        "which avoids false positives on small drawings and is ~10x faster)",
    )


class GovernanceConfig(FrozenConfig):
    data: DataConfig = DataConfig()
    licenses: LicensePolicy = LicensePolicy()
    provenance: ProvenanceConfig = ProvenanceConfig()
    dedup: DedupConfig = DedupConfig()
    nsfw: NsfwConfig = NsfwConfig()
    num_proc: int = Field(
        0,
        ge=0,
        description="worker processes for decoding/hashing; 0 = the cores NudeNet leaves free (all when it runs "
        "on a GPU or is off; in-process on 2 cores); 1 = in-process",
    )
    batch_size: int = Field(256, ge=1, description="records per batch")
    engine: Literal["local", "ray"] = Field(
        "local",
        description="where ingest's per-record work runs: local (this machine, never imports Ray) or ray "
        "(Ray Data on the cluster RAY_ADDRESS names, else a local one; needs pip install 't2i-pipeline[ray]')",
    )
