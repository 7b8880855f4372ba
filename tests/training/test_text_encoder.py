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
    assert cached and torch.equal(again, emb) and torch.equal(mask, mask2)
    # another dataset digest is another cache entry: computed again, never a stale reuse
    _, _, cached = cached_text_embeddings(
        texts, "d2" * 32, tokenizer, model, info, length, tmp_path, lambda *a: None
    )
    assert not cached
    assert len(list(tmp_path.glob("text-*.safetensors"))) == 2
    # the mask marks real tokens: the longest caption uses more of them than the shortest
    assert mask[2].sum() > mask[0].sum()
