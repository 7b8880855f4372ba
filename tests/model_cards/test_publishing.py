"""publish: DEST/<model-name>/ with the card's files, atomically; refuses to overwrite a different card."""

import json

import pytest
from huggingface_hub import ModelCard

import model_cards.publishing as publishing
from model_cards.api import publish, render_card
from model_cards.publishing import CardPublishError


@pytest.fixture
def card_dir(make_inputs, tmp_path):
    out = tmp_path / "rendered"
    render_card(make_inputs(), out)
    return out


def _leftovers(dest):
    return [p.name for p in dest.iterdir() if p.name.startswith(".")]


def test_publish_writes_the_card_and_everything_it_links(card_dir, tmp_path):
    dest = tmp_path / "published"
    target = publish(card_dir, dest, "emoji-t2i-tiny")
    assert target == dest / "emoji-t2i-tiny"
    listed = json.loads((card_dir / "card.json").read_text())["derived"]["card_files"]
    published = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert published == sorted(listed)
    for rel in listed:
        assert (target / rel).read_bytes() == (card_dir / rel).read_bytes()
    assert any(rel.startswith("assets/") for rel in published)
    assert "attribution.md" in published
    assert ModelCard.load(target / "README.md").data.model_name == "emoji-t2i-tiny"
    assert _leftovers(dest) == []


def test_publish_ignores_files_that_are_not_part_of_the_card(card_dir, tmp_path):
    (card_dir / "scratch.txt").write_text("not part of the card")
    target = publish(card_dir, tmp_path / "published", "m")
    assert not (target / "scratch.txt").exists()


def test_republishing_the_same_card_is_a_no_op(card_dir, tmp_path):
    dest = tmp_path / "published"
    first = publish(card_dir, dest, "m")
    mtime = (first / "README.md").stat().st_mtime_ns
    assert publish(card_dir, dest, "m") == first
    assert (first / "README.md").stat().st_mtime_ns == mtime


def test_a_different_card_is_refused_unless_forced(card_dir, make_inputs, tmp_path):
    dest = tmp_path / "published"
    publish(card_dir, dest, "m")
    other = tmp_path / "other"
    render_card(make_inputs(verdict="not_approved", verdict_reasons=["bias gate failed"]), other)
    with pytest.raises(CardPublishError, match="different card"):
        publish(other, dest, "m")
    assert "NOT APPROVED" not in (dest / "m" / "README.md").read_text()
    publish(other, dest, "m", force=True)
    assert "NOT APPROVED" in (dest / "m" / "README.md").read_text()
    assert _leftovers(dest) == []


def test_nothing_partial_is_left_when_copying_fails(card_dir, tmp_path, monkeypatch):
    dest = tmp_path / "published"
    real_copy = publishing.shutil.copyfile
    calls = []

    def failing_copy(src, dst):
        calls.append(src)
        if len(calls) == 3:
            raise OSError("disk full")
        return real_copy(src, dst)

    monkeypatch.setattr(publishing.shutil, "copyfile", failing_copy)
    with pytest.raises(OSError, match="disk full"):
        publish(card_dir, dest, "m")
    assert list(dest.iterdir()) == []


def test_failed_forced_replace_keeps_the_old_card(card_dir, make_inputs, tmp_path, monkeypatch):
    dest = tmp_path / "published"
    publish(card_dir, dest, "m")
    before = (dest / "m" / "README.md").read_text()
    other = tmp_path / "other"
    render_card(make_inputs(verdict="not_approved"), other)
    real_replace = publishing.os.replace

    def failing_replace(src, dst):
        if str(src).endswith(".partial"):
            raise OSError("rename failed")
        return real_replace(src, dst)

    monkeypatch.setattr(publishing.os, "replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        publish(other, dest, "m", force=True)
    assert (dest / "m" / "README.md").read_text() == before
    assert _leftovers(dest) == []


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "x" * 97, "bad name"])
def test_unsafe_model_names_are_refused(card_dir, tmp_path, name):
    with pytest.raises(ValueError, match="model_name"):
        publish(card_dir, tmp_path / "published", name)


def test_an_unrendered_folder_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CardPublishError, match=r"README\.md"):
        publish(tmp_path / "empty", tmp_path / "published", "m")
    assert not (tmp_path / "published").exists()


def test_a_card_json_listing_paths_outside_the_card_is_refused(card_dir, tmp_path):
    card = json.loads((card_dir / "card.json").read_text())
    card["derived"]["card_files"].append("../secrets.txt")
    (card_dir / "card.json").write_text(json.dumps(card))
    with pytest.raises(CardPublishError, match="outside the card folder"):
        publish(card_dir, tmp_path / "published", "m")
