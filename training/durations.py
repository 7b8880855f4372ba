"""Durations written the way people write them (`24h`, `90m`, `1h30m`, `45s`, `2d`, or plain seconds).

One parser for every duration in the project: the run budget, the audits' reserve and the training
checkpoint interval. It lives in `training` because that is the leftmost package that reads a
duration; `audits` and `pipeline` import it from here. `Duration` is the pydantic type of every
duration field, so a bad value is a config error when the config is read, never a crash mid-run.
"""

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

ACCEPTED_FORMS = "write it like 24h, 90m, 1h30m, 45s, 1.5h, 2d, or a plain number of seconds such as 600"

_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_UNIT = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str | float | int) -> float:
    """Seconds in a duration; raises ValueError naming the value and the accepted forms."""
    if isinstance(text, bool):  # YAML reads `yes`/`no` as booleans: neither is a duration
        raise ValueError(f"{text!r} is not a duration: {ACCEPTED_FORMS}")
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        s = re.sub(r"\s+", "", str(text).lower())
        if _NUMBER.fullmatch(s):
            seconds = float(s)
        elif s and _PART.sub("", s) == "":
            seconds = sum(float(n) * _UNIT[u] for n, u in _PART.findall(s))
        else:
            raise ValueError(f"{text!r} is not a duration: {ACCEPTED_FORMS}")
    if not seconds > 0:  # also rejects NaN
        raise ValueError(f"duration {text!r} must be longer than zero: {ACCEPTED_FORMS}")
    return seconds


def format_duration(seconds: float) -> str:
    """`754.2` -> `12m34s`."""
    seconds = max(0, round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def _as_text(value: object) -> object:
    # `--set x=90` and YAML `x: 90` arrive as numbers; the config keeps the text the user wrote.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration: {ACCEPTED_FORMS}")
    return value


def _checked(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[str, BeforeValidator(_as_text), AfterValidator(_checked)]
"""A config field holding a duration as written (`"90m"`); validated when the config is read."""
