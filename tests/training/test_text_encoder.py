import torch

from training.text_encoder import cached_text_embeddings, load_text_encoder, token_length


class _Refuse(torch.nn.Module):
    """A stand-in encoder that fails if called: the cache must answer instead."""

    def parameters(self, recurse=True):
        yield torch.zeros(1)

    def forward(self, **kwargs):
        raise AssertionError("the text encoder ran although the embeddings were cached")


def test_embeddings_are_computed_once_per_dataset_and_encoder(tmp_path):
    tokenizer, model, info = load_text_encoder("builtin:minilm")
    assert info.license == "Apache-2.0" and len(info.digest) == 64
    texts = ["red heart", "rocket", "thumbs up: medium skin tone"]
    length = token_length(tokenizer, texts, cap=32)
    assert 4 <= length <= 32
    emb, mask, cached = cached_text_embeddings(
        texts, "d1" * 32, tokenizer, model, info, length, tmp_path, lambda *a: None
    )
    assert not cached and emb.shape == (3, length, 384) and mask.shape == (3, length)
    again, mask2, cached = cached_text_embeddings(
        texts, "d1" * 32, tokenizer, _Refuse(), info, length, tmp_path, lambda *a: None
    )
    rows = [2, 0, 1, 2]  # any order, repeats: a training batch
    assert cached and torch.equal(again[rows], emb[rows]) and torch.equal(mask[rows], mask2[rows])
    # another dataset digest is another cache entry: computed again, never a stale reuse
    _, _, cached = cached_text_embeddings(
        texts, "d2" * 32, tokenizer, model, info, length, tmp_path, lambda *a: None
    )
    assert not cached
    assert len([p for p in tmp_path.glob("text-*") if ".tmp" not in p.name]) == 2
    # the mask marks real tokens: the longest caption uses more of them than the shortest
    assert mask[2].sum() > mask[0].sum()


def test_cached_embeddings_are_the_encoder_output_in_bf16_and_stay_on_disk(tmp_path):
    import numpy as np

    from training.t2i_pipeline import encode_text

    tokenizer, model, info = load_text_encoder("builtin:minilm")
    texts = [f"emoji number {i}" for i in range(7)]
    length = token_length(tokenizer, texts, cap=32)
    emb, mask, _ = cached_text_embeddings(
        texts, "d3" * 32, tokenizer, model, info, length, tmp_path, lambda *a: None, batch_size=3
    )
    direct, direct_mask = encode_text(tokenizer, model, texts, length)
    # written in batches of 3 (the last one short), read back row by row in another order
    order = [6, 3, 0, 5]
    assert emb.shape == (7, length, 384) and len(mask) == 7
    # bf16 rounding of the same vectors (a batch of 3 and one of 7 round their sums slightly apart)
    torch.testing.assert_close(emb[order], direct[order], atol=0.02, rtol=0.01)
    assert torch.equal(mask[order], direct_mask[order].to(torch.int64))
    assert isinstance(emb._rows, np.memmap)  # not loaded: a batch reads only its rows
