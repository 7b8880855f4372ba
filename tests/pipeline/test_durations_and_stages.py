import pytest

from pipeline.errors import UsageError
from pipeline.stages import ORDER, Stage, resolve_until
from training.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15m", 900), ("24h", 86400), ("1h30m", 5400), ("45s", 45), ("600", 600), (" 2m 30s ", 150), (90, 90)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "10x", "-5m", "0"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration():
    assert format_duration(754.2) == "12m34s"
    assert format_duration(3725) == "1h02m05s"


def test_until_groups_and_stages():
    assert resolve_until("governance") == Stage.DATA_GATE
    assert resolve_until("audits") == Stage.DEEPFAKE
    assert resolve_until("nsfw") == Stage.NSFW
    assert resolve_until(None) == ORDER[-1] == Stage.CARD
    with pytest.raises(UsageError, match="governance"):
        resolve_until("everything")
