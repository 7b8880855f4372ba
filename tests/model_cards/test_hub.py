"""push_to_hub fails clearly without a token or network, and never shows the token."""

import huggingface_hub.constants
import pytest

from model_cards.api import push_to_hub, render_card
from model_cards.hub import HubPushError

FAKE_TOKEN = "hf_FakeTokenForTheTest1234567890"


@pytest.fixture
def card_dir(make_inputs, tmp_path):
    out = tmp_path / "rendered"
    render_card(make_inputs(), out)
    return out


def test_without_a_token_it_names_the_variable(card_dir, monkeypatch):
    monkeypatch.delenv("MY_HF_TOKEN", raising=False)
    with pytest.raises(HubPushError, match="MY_HF_TOKEN"):
        push_to_hub(card_dir, "someone/emoji-t2i-tiny", token_env="MY_HF_TOKEN")


def test_without_network_it_fails_clearly_and_hides_the_token(card_dir, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    # Offline mode makes the client refuse every request before it is sent: no network is touched.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubPushError, match="could not push") as info:
        push_to_hub(card_dir, "someone/emoji-t2i-tiny")
    assert FAKE_TOKEN not in str(info.value)
    assert info.value.__cause__ is None


def test_an_unreachable_endpoint_fails_clearly(card_dir, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    with pytest.raises(HubPushError, match="could not push") as info:
        push_to_hub(card_dir, "someone/emoji-t2i-tiny", endpoint="http://127.0.0.1:9")
    assert FAKE_TOKEN not in str(info.value)


def test_an_unrendered_folder_is_refused_before_any_request(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    (tmp_path / "empty").mkdir()
    with pytest.raises(RuntimeError, match="not a rendered card"):
        push_to_hub(tmp_path / "empty", "someone/x")


def test_a_push_is_one_commit_of_exactly_the_card_files(card_dir, monkeypatch):
    import json

    import huggingface_hub

    calls = {}

    class FakeApi:
        def __init__(self, endpoint=None, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, **kwargs):
            calls["create"] = (repo_id, kwargs)

        def upload_folder(self, **kwargs):
            calls.setdefault("uploads", []).append(kwargs)

            class Info:
                commit_url = f"https://huggingface.co/{kwargs['repo_id']}/commit/abc"

            return Info()

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    url = push_to_hub(card_dir, "someone/emoji-t2i-tiny")
    assert url.endswith("/commit/abc")
    assert calls["token"] == FAKE_TOKEN
    assert calls["create"][1]["private"] is True
    (upload,) = calls["uploads"]
    listed = json.loads((card_dir / "card.json").read_text())["derived"]["card_files"]
    assert upload["allow_patterns"] == listed
    assert upload["folder_path"] == card_dir and upload["repo_type"] == "model"
