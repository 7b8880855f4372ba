"""How numbers and table cells are written in the card.

The template never formats a number itself: every value reaches it as a string made here, so one place
decides precision and what "missing" looks like.
"""

import math
from collections.abc import Iterable, Mapping

from audits.report import verdict_of
from governance.markdown_text import Markdown
from governance.markdown_text import md_cell as governance_md_cell

NOT_RUN = "not run"
NOT_MEASURED = "not measured"


def verdict_word(passed: bool, threshold: object, measured: object) -> str:
    """`pass`, `FAIL`, `recorded`, `not measured` or `NOT MEASURED`: what a gate's row means.

    One rule for every display (`audits.report.verdict_of`): a row with no threshold only records, and
    `NOT MEASURED` is a required check that could not be measured, which withholds approval.
    """
    return str(verdict_of(passed, threshold, measured))


def fmt_number(value: float | int | None, missing: str = NOT_MEASURED) -> str:
    """A number as the card shows it: integers with thousands separators, floats to 4 significant digits."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)  # "nan" / "inf": shown, never hidden
    if value.is_integer() and abs(value) < 1e15:  # 3511.0 from a float field reads as the count it is
        return f"{int(value):,}"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-4):
        return f"{value:.4g}"
    if abs(value) >= 1000:
        return f"{value:,.1f}"
    return f"{value:.4g}"


def fmt_value(value: object, missing: str = NOT_MEASURED) -> str:
    """Any report value (number, string, path, list) as one line of text."""
    if value is None or isinstance(value, int | float):
        return fmt_number(value, missing)  # type: ignore[arg-type]
    if isinstance(value, list | tuple):
        return ", ".join(fmt_value(v, missing) for v in value) or "none"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {fmt_value(v, missing)}" for k, v in value.items()) or "none"
    return str(value)


def fmt_duration(seconds: float | None, missing: str = NOT_MEASURED) -> str:
    """Seconds as `1h 02m 03s (3,723 s)`: readable and still exact."""
    if seconds is None or not math.isfinite(seconds):
        return missing
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    readable = f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"
    return f"{readable} ({fmt_number(float(seconds))} s)"


def fmt_share(part: int, whole: int) -> str:
    """`part` as a percentage of `whole` (one decimal)."""
    if whole <= 0:
        return "n/a"
    return f"{100.0 * part / whole:.1f}%"


def md_cell(value: object, missing: str = NOT_MEASURED) -> str:
    """One Markdown table cell on one line: text is escaped (inert), `Markdown` is kept, pipes escaped.

    Report text can hold dataset strings (captions, group names, licence ids), so a plain string is
    always escaped; cells with markup of our own (`**FAIL**`, a code span) arrive as `Markdown`.
    """
    if not isinstance(value, str):
        value = fmt_value(value, missing)
    return governance_md_cell(value)


def md_table(rows: Iterable[Mapping[str, object]], missing: str = "") -> Markdown:
    """A Markdown table from dict rows; the columns are the union of keys in first-seen order."""
    rows = list(rows)
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    if not columns:
        return Markdown("")
    lines = [
        "| " + " | ".join(md_cell(c) for c in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(md_cell(row.get(c), missing) for c in columns) + " |" for row in rows]
    return Markdown("\n".join(lines))
