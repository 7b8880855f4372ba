"""Durations written the way people write them: `24h`, `90m`, `1h30m`, `45s`, or plain seconds."""

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([hms])")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str | float | int) -> float:
    """Seconds in a duration string; raises ValueError saying what forms are accepted."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        s = text.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", s):
            seconds = float(s)
        elif s and _PART.sub("", s) == "":
            seconds = sum(float(n) * _UNIT[u] for n, u in _PART.findall(s))
        else:
            raise ValueError(f"{text!r} is not a duration; write it like 24h, 90m, 1h30m, 45s or 600")
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return seconds


def format_duration(seconds: float) -> str:
    """`754.2` -> `12m34s`."""
    seconds = max(0, round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")
