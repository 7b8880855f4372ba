"""How numbers and table cells are written."""

import math

import pytest

from model_cards.formatting import fmt_duration, fmt_number, fmt_share, fmt_value, md_cell, md_table


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "not measured"),
        (1234567, "1,234,567"),
        (3511.0, "3,511"),
        (0.4127, "0.4127"),
        (82.3149, "82.31"),
        (1679.44, "1,679.4"),
        (0.0000123, "1.23e-05"),
        (float("nan"), "nan"),
        (True, "yes"),
    ],
)
def test_fmt_number(value, expected):
    assert fmt_number(value) == expected


def test_fmt_number_missing_word_is_chosen_by_the_caller():
    assert fmt_number(None, "not run") == "not run"


def test_fmt_duration_keeps_the_exact_seconds():
    assert fmt_duration(3723.5) == "1h 02m 04s (3,723.5 s)"
    assert fmt_duration(59.0) == "0m 59s (59 s)"
    assert fmt_duration(None) == "not measured"
    assert fmt_duration(math.inf) == "not measured"


def test_fmt_share_and_value():
    assert fmt_share(1, 3) == "33.3%"
    assert fmt_share(1, 0) == "n/a"
    assert fmt_value({"a": 1, "b": [2.5, None]}) == "a: 1, b: 2.5, not measured"


def test_md_cell_escapes_pipes_and_line_breaks():
    assert md_cell("a | b\nc") == "a \\| b c"


def test_md_table_uses_the_union_of_columns():
    table = md_table([{"a": 1}, {"b": "x"}])
    lines = table.splitlines()
    assert lines[0] == "| a | b |"
    assert lines[2] == "| 1 |  |"
    assert lines[3] == "|  | x |"
    assert md_table([]) == ""
