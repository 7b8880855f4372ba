"""Environment secrets never reach the card's text."""

from model_cards.redaction import REDACTED, environment_secrets, redact


def test_secret_named_variables_are_scrubbed(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefghijklmnop")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG")
    monkeypatch.setenv("HOME_DIR_FOR_TEST", "/home/someone-long")
    text = redact("a hf_abcdefghijklmnop b wJalrXUtnFEMI/K7MDENG c /home/someone-long")
    assert text == f"a {REDACTED} b {REDACTED} c /home/someone-long"


def test_short_values_are_not_treated_as_secrets(monkeypatch):
    monkeypatch.setenv("USE_TOKEN", "1")
    assert "1" not in environment_secrets()
