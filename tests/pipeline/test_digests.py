"""The digest chain catches any edited artifact and names the first one."""

from pipeline.digests import build_chain, first_broken_link


def _tree(root):
    (root / "governance").mkdir()
    (root / "governance" / "manifest.parquet").write_bytes(b"manifest rows")
    (root / "model").mkdir()
    (root / "model" / "weights.safetensors").write_bytes(b"\x00" * 64)
    (root / "model" / "config.json").write_text("{}")
    (root / "card.md").write_text("# card")
    return [("manifest", ["governance/manifest.parquet"]), ("model", ["model"]), ("card", ["card.md"])]


def test_chain_is_deterministic_and_verifies(tmp_path):
    links = _tree(tmp_path)
    a, b = build_chain(tmp_path, links), build_chain(tmp_path, links)
    assert a == b and len(a.top) == 64
    assert first_broken_link(tmp_path, a) is None


def test_each_kind_of_tampering_is_caught_at_its_link(tmp_path):
    links = _tree(tmp_path)
    chain = build_chain(tmp_path, links)
    (tmp_path / "model" / "weights.safetensors").write_bytes(b"\x01" * 64)  # swapped weights
    link, _ = first_broken_link(tmp_path, chain)
    assert link.name == "model"
    (tmp_path / "model" / "weights.safetensors").write_bytes(b"\x00" * 64)
    assert first_broken_link(tmp_path, chain) is None
    (tmp_path / "card.md").write_text("# card, edited")
    assert first_broken_link(tmp_path, chain)[0].name == "card"


def test_missing_artifact_is_named(tmp_path):
    links = _tree(tmp_path)
    chain = build_chain(tmp_path, links)
    (tmp_path / "governance" / "manifest.parquet").unlink()
    link, what = first_broken_link(tmp_path, chain)
    assert link.name == "manifest" and "missing" in what


def test_upstream_change_changes_every_later_link(tmp_path):
    links = _tree(tmp_path)
    before = build_chain(tmp_path, links)
    (tmp_path / "governance" / "manifest.parquet").write_bytes(b"other rows")
    after = build_chain(tmp_path, links)
    assert all(x.chained != y.chained for x, y in zip(before.links, after.links, strict=True))
