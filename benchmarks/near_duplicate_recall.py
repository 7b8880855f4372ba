"""Benchmark: near-duplicate recall on real images under the transforms scrapers produce, and
merges among real similar-but-distinct pairs, for the method at HEAD and the current one.

Originals are real third-party images (benchmarks/real_corpus.py: openclipart, Tango, Adwaita,
Twemoji). Each is transformed (resize, crops, brightness and contrast, JPEG/WebP, palette, borders)
and written to a file; a copy is recalled when dedup's pair decision merges it with its original:
ingest's own kernel (`evidence_batch`) gives the hashes and colour grid, the candidate search and
grid check are dedup's, and a candidate the grid rejects goes to `verify_on_pixels` on the two files,
the call `governance/dedup.py` makes (cached thumbnails included). Distinct pairs: Twemoji skin-tone
and gender variants and other emoji of the same base, all pairs of flags, and the icon themes'
recoloured families (folder-*, emblem-*, weather-*, battery-*, face-*, user-*, audio-volume-*, and X
vs X-symbolic); those within the pixel radius again with the second image resized (2x bicubic, 2x
nearest, 0.5x Lanczos), which must stay distinct too. Real resized pairs: the themes' same-named icons
at two sizes (hand-drawn per size, so only partly a resize).

Writes benchmarks/results/near_duplicate_recall.json.

    python benchmarks/near_duplicate_recall.py [--per-source 260] [--no-all-twemoji]
"""

import argparse
import hashlib
import io
import itertools
import json
import os
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).parent))
from real_corpus import debian_images, real_images, twemoji_images

from governance.color import color_array, color_distance
from governance.config import DedupConfig
from governance.evidence import ImageTask, evidence_batch
from governance.images import ImageLimits
from governance.near_duplicates import PairEvidence, candidate_pairs, near_pairs, verify_pairs
from governance.perceptual_hash import grid_dhash_int64, hamming
from governance.pixel_match import verify_on_pixels

RESULTS = Path(__file__).parent / "results" / "near_duplicate_recall.json"
LIMITS = ImageLimits(50_000_000, 40_000_000, 16)  # the data config's defaults, as dedup builds them
HEAD_RADIUS, HEAD_COLOUR = 6, 0.045  # the method before this change: pHash radius, worst-cell limit


def _png(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _flat(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")


def _tone(image: Image.Image, gain: float, pivot: float = 0.0) -> Image.Image:
    """Colour channels mapped to (x - pivot) * gain + pivot, transparency kept."""
    rgba = np.asarray(image.convert("RGBA")).astype(np.float32)
    rgba[..., :3] = np.clip((rgba[..., :3] - pivot) * gain + pivot, 0, 255)
    return Image.fromarray(rgba.round().astype(np.uint8), "RGBA")


def _crop(image: Image.Image, left: int, top: int, right: int, bottom: int) -> Image.Image:
    return image.crop((left, top, image.width - right, image.height - bottom))


def _crop_share(image: Image.Image, share: float) -> Image.Image:
    dx, dy = max(1, round(image.width * share)), max(1, round(image.height * share))
    return _crop(image, dx // 2, dy // 2, dx - dx // 2, dy - dy // 2)


def _resized(image: Image.Image, factor: float, method: Image.Resampling) -> Image.Image:
    return image.resize((max(16, round(image.width * factor)), max(16, round(image.height * factor))), method)


TRANSFORMS = {
    "resize_down_0.5": lambda im: _png(_resized(im, 0.5, Image.Resampling.LANCZOS)),
    "resize_down_0.75": lambda im: _png(_resized(im, 0.75, Image.Resampling.BILINEAR)),
    "resize_up_2x": lambda im: _png(_resized(im, 2, Image.Resampling.BICUBIC)),
    "resize_up_2x_nearest": lambda im: _png(_resized(im, 2, Image.Resampling.NEAREST)),
    "crop_1px": lambda im: _png(_crop(im, 1, 1, 0, 0)),
    "crop_3px": lambda im: _png(_crop(im, 3, 0, 0, 3)),
    "crop_5pct": lambda im: _png(_crop_share(im, 0.05)),
    "crop_10pct": lambda im: _png(_crop_share(im, 0.10)),
    "darker_6pct": lambda im: _png(_tone(im, 0.94)),
    "brighter_6pct": lambda im: _png(_tone(im, 1.06)),
    "darker_6pct_flattened": lambda im: _png(_tone(_flat(im), 0.94)),
    "contrast_minus_10pct": lambda im: _png(_tone(im, 0.9, 128)),
    "contrast_plus_10pct": lambda im: _png(_tone(im, 1.1, 128)),
    "jpeg_q75": lambda im: _png(_flat(im), "JPEG", quality=75),
    "webp_q75": lambda im: _png(im.convert("RGBA"), "WEBP", quality=75),
    "palette_256": lambda im: _png(im.convert("RGBA").quantize(256)),
    "border_2px_white": lambda im: _png(ImageOps.expand(im.convert("RGBA"), 2, (255, 255, 255, 255))),
    "border_4pct_black": lambda im: _png(
        ImageOps.expand(im.convert("RGBA"), max(1, round(0.04 * im.width)), (0, 0, 0, 255))
    ),
}


# Not in the recall above: what JPEG/WebP copies lose (chroma subsampling or quality), one at a time.
LOSSY_DIAGNOSIS = {
    "jpeg_q75_no_chroma_subsampling": lambda im: _png(_flat(im), "JPEG", quality=75, subsampling=0),
    "jpeg_q90": lambda im: _png(_flat(im), "JPEG", quality=90),
    "jpeg_q95_no_chroma_subsampling": lambda im: _png(_flat(im), "JPEG", quality=95, subsampling=0),
    "webp_q75_flattened": lambda im: _png(_flat(im), "WEBP", quality=75),
    "webp_lossless": lambda im: _png(im.convert("RGBA"), "WEBP", lossless=True),
}


def _head_grid(small: np.ndarray) -> bytes:
    """The colour grid as HEAD computed it: the whole small copy, margin included."""
    return np.asarray(Image.fromarray(small).resize((16, 16), Image.Resampling.BOX), dtype=np.uint8).tobytes()


def signature(path: Path) -> tuple[int, bytes, bytes, str] | None:
    """What ingest stores for one file (its own kernel: pHash, colour grid), HEAD's grid, and the path.

    The path is what dedup's pixel check reads the pair from again (`verify_on_pixels`).
    """
    (found,) = evidence_batch([ImageTask(0, str(path), None)], LIMITS)
    if found.phash is None:
        return None
    return found.phash, bytes.fromhex(found.color_hash), _head_grid(found.small), str(path)


class Copies:
    """Transformed copies written as files (the pixel check reads files, as in a dataset folder)."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="near_dup_copies_")
        self._count = 0

    def write(self, data: bytes) -> Path:
        """A new file holding `data`."""
        self._count += 1
        path = Path(self._dir.name) / f"{self._count:07d}.img"
        path.write_bytes(data)
        return path


def _twemoji_pairs() -> list[tuple[str, Path, Path]]:
    """Distinct Twemoji pairs: skin tones, genders, others of one base, and every pair of flags."""
    by_stem = {image.path.stem: image.path for image in twemoji_images()}
    no_tone = {s: re.sub(r"-1f3f[b-f]", "", s) for s in by_stem}
    no_gender = {s: re.sub(r"-(200d-)?(2640|2642|1f468|1f469)(-fe0f)?", "", t) for s, t in no_tone.items()}
    family = defaultdict(list)
    for stem in by_stem:
        if not re.fullmatch(r"1f1[ef][0-9a-f]-1f1[ef][0-9a-f]", stem):
            family[stem.split("-")[0]].append(stem)
    pairs = []
    for members in family.values():
        for a, b in itertools.combinations(sorted(members), 2):
            if no_tone[a] == no_tone[b]:
                kind = "twemoji_skin_tone"
            elif no_gender[a] == no_gender[b]:
                kind = "twemoji_gender"
            else:
                kind = "twemoji_same_base_other"
            pairs.append((kind, by_stem[a], by_stem[b]))
    flags = sorted(s for s in by_stem if re.fullmatch(r"1f1[ef][0-9a-f]-1f1[ef][0-9a-f]", s))
    pairs += [("twemoji_flags", by_stem[a], by_stem[b]) for a, b in itertools.combinations(flags, 2)]
    return pairs


ICON_FAMILIES = ("folder", "emblem", "weather", "battery", "face-", "user-", "audio-volume")


def _icon_pairs(package: str) -> list[tuple[str, Path, Path]]:
    """Differently named icons of one recoloured family in one folder, and X vs X-symbolic."""
    by_dir = defaultdict(dict)
    for image in debian_images(package):
        by_dir[image.path.parent][image.path.name.replace(".symbolic", "")] = image.path
    pairs = []
    for names in by_dir.values():
        for fam in ICON_FAMILIES:
            group = sorted(n for n in names if n.startswith(fam) and "symbolic" not in n)
            pairs += [
                (f"icons_{fam.strip('-')}", names[a], names[b]) for a, b in itertools.combinations(group, 2)
            ]
        for name in names:
            base = name.replace("-symbolic.png", ".png")
            if name.endswith("-symbolic.png") and base in names:
                pairs.append(("icons_symbolic_variant", names[base], names[name]))
    return pairs


def _theme_size_pairs(package: str) -> list[tuple[str, Path, Path]]:
    """Same-named icons of one theme: each size against the largest (real resized pairs)."""
    sizes = defaultdict(dict)
    for image in debian_images(package):
        size = next((p for p in image.path.parts if re.fullmatch(r"\d+x\d+", p)), None)
        if size and "symbolic" not in image.path.name:
            sizes[(image.path.parts[-2], image.path.name)][int(size.split("x")[0])] = image.path
    pairs = []
    for by_size in sizes.values():
        largest = max(by_size)
        pairs += [
            (f"theme_size_{s}_vs_{largest}", by_size[s], by_size[largest]) for s in by_size if s < largest
        ]
    return pairs


def _unique_pairs(pairs: list[tuple[str, Path, Path]]) -> list[tuple[str, Path, Path]]:
    """Drop links to one file, byte-identical files (exact duplicates, not this check's business), repeats."""
    digest = {}
    out, seen = [], set()
    for kind, a, b in pairs:
        ra, rb = os.path.realpath(a), os.path.realpath(b)
        for r in (ra, rb):
            if r not in digest:
                digest[r] = hashlib.sha256(Path(r).read_bytes()).digest()
        key = tuple(sorted((ra, rb)))
        if ra == rb or digest[ra] == digest[rb] or key in seen:
            continue
        seen.add(key)
        out.append((kind, Path(a), Path(b)))
    return out


def _signatures(paths) -> dict[Path, tuple | None]:
    return {p: signature(Path(p)) for p in sorted(set(paths))}


def _opened(path: Path) -> Image.Image:
    with Image.open(path) as opened:
        opened.load()
        return opened.copy()


def transformed_pairs(
    per_source: int, copies: Copies, transforms: dict = TRANSFORMS
) -> list[tuple[str, str, tuple, tuple, str]]:
    """(transform, source, original signature, copy signature, original) for every original and transform."""
    out = []
    for image in real_images(per_source=per_source):
        base = signature(image.path)
        if base is None:  # refused by ingest (too large, unreadable): never opened here either
            continue
        original = _opened(image.path)
        for name, transform in transforms.items():
            copy = signature(copies.write(transform(original)))
            if copy is not None:
                out.append((name, image.source, base, copy, str(image.path)))
    return out


def _short(path: Path) -> str:
    """A path from the package's icon folder (or the file name) for the report."""
    parts = Path(path).parts
    return "/".join(parts[-3:]) if "icons" in parts else Path(path).name


def path_pairs(pairs: list[tuple[str, Path, Path]]) -> list[tuple[str, str, tuple, tuple]]:
    signatures = _signatures([p for _, a, b in pairs for p in (a, b)])
    return [
        (kind, "", signatures[a], signatures[b], f"{_short(a)} vs {_short(b)}")
        for kind, a, b in pairs
        if signatures[a] is not None and signatures[b] is not None
    ]


def _pixel_checked(rows, grid: np.ndarray, e: PairEvidence, cfg: DedupConfig) -> tuple[np.ndarray, list]:
    """The pixel check on the candidates within its radius that the colour grid rejected.

    The call dedup makes (`governance.dedup._pixel_check`): `verify_on_pixels` on the two files with
    the config's limits, its cached thumbnails included, so this measures what `pipeline run` decides.
    """
    near = np.minimum(e.phash_distance, e.dhash_distance) <= cfg.pixel_candidate_distance
    ok, evidence = np.zeros(len(rows), dtype=bool), [None] * len(rows)
    for k in np.flatnonzero(near & ~grid):
        ok[k], evidence[k] = verify_on_pixels(
            rows[k][2][3], rows[k][3][3], LIMITS, cfg.pixel_max_difference, cfg.pixel_max_share_ratio
        )
    return ok, evidence


def decisions(rows: list[tuple[str, str, tuple, tuple]], cfg: DedupConfig) -> dict[str, np.ndarray]:
    """Per pair: merged at HEAD, merged by the colour grid alone, merged now (grid or pixels), evidence."""
    ph = np.array([[r[2][0], r[3][0]] for r in rows], dtype=np.int64).reshape(-1, 2)
    grids = color_array([g.hex() for r in rows for g in (r[2][1], r[3][1])])
    head_grids = color_array([g.hex() for r in rows for g in (r[2][2], r[3][2])])
    index = np.arange(2 * len(rows)).reshape(-1, 2)
    head = (hamming(ph[:, 0], ph[:, 1]) <= HEAD_RADIUS) & (
        color_distance(head_grids[0::2], head_grids[1::2]) <= HEAD_COLOUR
    )
    dh = grid_dhash_int64(grids)
    now: PairEvidence = verify_pairs(
        ph.reshape(-1), dh, grids, index, cfg.near_max_distance, cfg.color_max_distance
    )
    pixel_ok, pixel = _pixel_checked(rows, now.matched, now, cfg)
    return {"head": head, "grid": now.matched, "now": now.matched | pixel_ok, "evidence": now, "pixel": pixel}


def summarise(rows, merged, key_index: int = 0) -> dict[str, dict]:
    groups = defaultdict(list)
    for k, r in enumerate(rows):
        groups[r[key_index]].append(k)
    return {
        g: {
            "pairs": len(ks),
            "merged_head": int(merged["head"][ks].sum()),
            "merged_grid_only": int(merged["grid"][ks].sum()),
            "merged_now": int(merged["now"][ks].sum()),
        }
        for g, ks in sorted(groups.items())
    }


def _evidence(e: PairEvidence, k: int, radius: int, pixel: list | None = None) -> dict:
    extra = pixel[k] if pixel is not None and pixel[k] is not None else {}
    return extra | {
        "phash_hamming": int(e.phash_distance[k]),
        "dhash_hamming": int(e.dhash_distance[k]),
        "color_distance": round(float(e.color_distance[k]), 4),
        "gain": round(float(e.gain[k]), 3),
    }


def _sweep(same, distinct, evidence_same, evidence_distinct, radius: int) -> list[dict]:
    """Recall and distinct merges for other colour limits (how the default was chosen)."""
    out = []
    for limit in (0.03, 0.035, 0.04, 0.06, 0.08, 0.10, 0.12, 0.15, 0.2):
        hit = ((e_same := evidence_same).phash_distance <= radius) | (e_same.dhash_distance <= radius)
        hit &= e_same.color_distance <= limit
        e_dist = evidence_distinct
        hit_d = ((e_dist.phash_distance <= radius) | (e_dist.dhash_distance <= radius)) & (
            e_dist.color_distance <= limit
        )
        out.append(
            {
                "color_max_distance": limit,
                "recall": round(float(hit.mean()), 4),
                "distinct_merged": int(hit_d.sum()),
            }
        )
    return out


def twemoji_all_candidates(cfg: DedupConfig) -> dict:
    """Every Twemoji pair the candidate search finds, judged as in a dataset: which ones merge."""
    paths = [image.path for image in twemoji_images()]
    signatures = _signatures(paths)
    kept = [p for p in paths if signatures[p] is not None]
    phash = np.array([signatures[p][0] for p in kept], dtype=np.int64)
    grids = color_array([signatures[p][1].hex() for p in kept])
    dhash = grid_dhash_int64(grids)
    started = time.perf_counter()
    pairs = candidate_pairs(phash, dhash, max(cfg.near_max_distance, cfg.pixel_candidate_distance))
    search_seconds = time.perf_counter() - started
    started = time.perf_counter()
    checked = verify_pairs(phash, dhash, grids, pairs, cfg.near_max_distance, cfg.color_max_distance)
    rows = [
        ("", "", signatures[kept[a]], signatures[kept[b]], f"{kept[a].name} vs {kept[b].name}")
        for a, b in pairs
    ]
    pixel_ok, pixel = _pixel_checked(rows, checked.matched, checked, cfg)
    grid_only = checked.matched.copy()
    checked = PairEvidence(
        checked.phash_distance,
        checked.dhash_distance,
        checked.color_distance,
        checked.gain,
        checked.offset,
        checked.matched | pixel_ok,
    )
    verify_seconds = time.perf_counter() - started
    old_pairs = near_pairs(phash, HEAD_RADIUS)
    old_grids = color_array([signatures[p][2].hex() for p in kept])
    head = color_distance(old_grids[old_pairs[:, 0]], old_grids[old_pairs[:, 1]]) <= HEAD_COLOUR
    same_grid = (grids[pairs[:, 0]] == grids[pairs[:, 1]]).all(axis=1)
    merged = [
        {
            "pair": f"{kept[a].name} vs {kept[b].name}",
            "evidence": _evidence(checked, k, cfg.near_max_distance, pixel),
        }
        for k, (a, b) in enumerate(pairs)
        if checked.matched[k] and not same_grid[k]
    ]
    return {
        "images": len(kept),
        "candidate_pairs_head": len(old_pairs),
        "merged_head": int(head.sum()),
        "candidate_pairs_now": len(pairs),
        "merged_grid_only": int(grid_only.sum()),
        "merged_now": int(checked.matched.sum()),
        "candidate_search_seconds": round(search_seconds, 3),
        "verify_seconds": round(verify_seconds, 3),
        "pixel_checked": sum(ev is not None for ev in pixel),
        "nearest_rejected_on_pixels": _nearest_rejected(rows, {"pixel": pixel, "now": checked.matched}),
        "merged_now_with_identical_grids": int((checked.matched & same_grid).sum()),
        "merged_now_different_grids": merged,
    }


RESIZED_MEMBER = {
    # One member of a distinct pair resized as a scraper would: the resize hypothesis tries these kernels.
    "other_up_2x_bicubic": lambda im: _resized(im, 2, Image.Resampling.BICUBIC),
    "other_up_2x_nearest": lambda im: _resized(im, 2, Image.Resampling.NEAREST),
    "other_down_0.5_lanczos": lambda im: _resized(im, 0.5, Image.Resampling.LANCZOS),
}


def resized_distinct_pairs(rows, evidence: PairEvidence, cfg: DedupConfig, copies: Copies) -> list[tuple]:
    """Distinct pairs within the pixel radius, the second image replaced by a resized copy of itself.

    (variant, category, first signature, resized second's signature, label). Only pairs some hash
    already finds close are worth it: a resize keeps the hashes, so the others stay no candidate.
    """
    near = np.minimum(evidence.phash_distance, evidence.dhash_distance) <= cfg.pixel_candidate_distance
    written: dict[tuple[str, str], tuple | None] = {}
    out = []
    for k in np.flatnonzero(near):
        kind, _, first, second, label = rows[k]
        for name, resize in RESIZED_MEMBER.items():
            if (second[3], name) not in written:
                image = _opened(Path(second[3]))
                resized = resize(image)
                same_size = resized.size == image.size  # a 16 px icon is not halved (16 px floor)
                written[second[3], name] = None if same_size else signature(copies.write(_png(resized)))
            if (copy := written[second[3], name]) is not None:
                out.append((name, kind, first, copy, f"{label} ({name})"))
    return out


def _nearest_rejected(rows, merged: dict) -> dict | None:
    """The distinct pair closest to the pixel limit among those the pixel check rejected."""
    checked = [
        (ev["pixel_difference"], k)
        for k, ev in enumerate(merged["pixel"])
        if ev is not None and "pixel_difference" in ev and not merged["now"][k]
    ]
    if not checked:
        return None
    _, k = min(checked)
    return {"pair": rows[k][4], "category": rows[k][1] or rows[k][0], "evidence": merged["pixel"][k]}


def _merged_list(rows, merged: dict, cfg: DedupConfig, label: str) -> list[dict]:
    return [
        {
            label: r[0],
            "pair": r[4],
            "evidence": _evidence(merged["evidence"], k, cfg.near_max_distance, merged["pixel"]),
        }
        for k, r in enumerate(rows)
        if merged["now"][k]
    ]


def _pixel_checked_count(merged: dict) -> int:
    return sum(ev is not None for ev in merged["pixel"])


def _misses_by_stage(missed: np.ndarray, near: np.ndarray, pixel: list, cfg: DedupConfig) -> dict:
    """Where missed copies were lost: no candidate within the pixel radius, or rejected on pixels."""
    on_pixels = [pixel[k] for k in np.flatnonzero(missed & near)]
    differences = np.array([ev["pixel_difference"] for ev in on_pixels if "pixel_difference" in ev])
    alignments = defaultdict(int)
    for ev in on_pixels:
        alignments[ev.get("pixel_alignment", "unreadable")] += 1
    return {
        "missed_not_candidate": int((missed & ~near).sum()),
        "missed_on_pixels": len(on_pixels),
        "missed_on_pixels_by_alignment": dict(sorted(alignments.items())),
        "missed_on_share_ratio_only": int((differences <= cfg.pixel_max_difference).sum()),
        "pixel_difference_of_missed_p10_p50_p90": [
            round(float(q), 4) for q in np.quantile(differences, [0.1, 0.5, 0.9])
        ]
        if len(differences)
        else None,
    }


def recall_section(same, m_same, cfg: DedupConfig) -> dict:
    """Recall overall, per transform (with the candidate recall and colour distances), per source."""
    per_transform = summarise(same, m_same)
    e = m_same["evidence"]
    found = (e.phash_distance <= cfg.near_max_distance) | (e.dhash_distance <= cfg.near_max_distance)
    near = np.minimum(e.phash_distance, e.dhash_distance) <= cfg.pixel_candidate_distance
    for name, row in per_transform.items():
        row["recall_head"] = round(row["merged_head"] / row["pairs"], 4)
        row["recall_grid_only"] = round(row["merged_grid_only"] / row["pairs"], 4)
        row["recall_now"] = round(row["merged_now"] / row["pairs"], 4)
        of_this = np.array([r[0] == name for r in same])
        # Found by a hash but rejected by a check, versus never a candidate.
        row["candidate_recall_now"] = round(float(found[of_this].mean()), 4)
        row["pixel_candidate_recall_now"] = round(float(near[of_this].mean()), 4)
        row["color_distance_of_candidates_p50_p90"] = [
            round(float(q), 4) for q in np.quantile(e.color_distance[of_this & found], [0.5, 0.9])
        ]
        row |= _misses_by_stage(of_this & ~m_same["now"], near, m_same["pixel"], cfg)
    missed = [
        {
            "transform": r[0],
            "image": r[4],
            "evidence": _evidence(e, k, cfg.near_max_distance, m_same["pixel"]),
        }
        for k, r in enumerate(same)
        if not m_same["now"][k]
    ]
    return {
        "originals": len({r[4] for r in same}),
        "transformed_pairs": len(same),
        "recall_head": round(float(m_same["head"].mean()), 4),
        "recall_grid_only": round(float(m_same["grid"].mean()), 4),
        "recall_now": round(float(m_same["now"].mean()), 4),
        "per_transform": per_transform,
        "per_source": summarise(same, m_same, key_index=1),
        "missed_now_examples": missed[:40],
    }


def lossy_section(per_source: int, copies: Copies, cfg: DedupConfig) -> dict:
    """Recall of the diagnostic lossy encodes, with where each miss was lost."""
    rows = transformed_pairs(per_source, copies, LOSSY_DIAGNOSIS)
    merged = decisions(rows, cfg)
    e = merged["evidence"]
    near = np.minimum(e.phash_distance, e.dhash_distance) <= cfg.pixel_candidate_distance
    out = summarise(rows, merged)
    for name, row in out.items():
        of_this = np.array([r[0] == name for r in rows])
        row["recall_now"] = round(row["merged_now"] / row["pairs"], 4)
        row |= _misses_by_stage(of_this & ~merged["now"], near, merged["pixel"], cfg)
    return out


def distinct_section(distinct, m_distinct, cfg: DedupConfig, copies: Copies) -> dict:
    """Merges among the real distinct pairs, and among them with one member resized 2x or 0.5x."""
    resized = resized_distinct_pairs(distinct, m_distinct["evidence"], cfg, copies)
    m_resized = decisions(resized, cfg)
    return {
        "distinct_pairs": len(distinct),
        "distinct_merged_head": int(m_distinct["head"].sum()),
        "distinct_merged_grid_only": int(m_distinct["grid"].sum()),
        "distinct_merged_now": int(m_distinct["now"].sum()),
        "distinct_pixel_checked": _pixel_checked_count(m_distinct),
        "distinct_nearest_rejected_on_pixels": _nearest_rejected(distinct, m_distinct),
        "distinct_by_category": summarise(distinct, m_distinct),
        "distinct_merged_now_list": _merged_list(distinct, m_distinct, cfg, "category"),
        "distinct_one_member_resized": {
            "pairs": len(resized),
            "merged_grid_only": int(m_resized["grid"].sum()),
            "merged_now": int(m_resized["now"].sum()),
            "pixel_checked": _pixel_checked_count(m_resized),
            "nearest_rejected_on_pixels": _nearest_rejected(resized, m_resized),
            "by_resize": summarise(resized, m_resized),
            "by_category": summarise(resized, m_resized, key_index=1),
            "merged_now_list": _merged_list(resized, m_resized, cfg, "resize"),
        },
    }


def run(per_source: int, all_twemoji: bool) -> dict:
    """Every section of the benchmark, with the load average before and after."""
    cfg = DedupConfig()
    load_before = [round(x, 2) for x in os.getloadavg()]
    started = time.perf_counter()
    copies = Copies()
    same = transformed_pairs(per_source, copies)
    named = path_pairs(
        _unique_pairs(_twemoji_pairs() + _icon_pairs("tango-icon-theme") + _icon_pairs("adwaita-icon-theme"))
    )
    # Two names, one picture (Norway's flag for Svalbard, Twemoji families drawn alike): not distinct.
    distinct = [r for r in named if r[2][:3] != r[3][:3]]
    same_picture = [r for r in named if r[2][:3] == r[3][:3]]
    sizes = path_pairs(
        _unique_pairs(_theme_size_pairs("tango-icon-theme") + _theme_size_pairs("adwaita-icon-theme"))
    )
    m_same, m_distinct, m_sizes = decisions(same, cfg), decisions(distinct, cfg), decisions(sizes, cfg)
    size_rows = summarise(sizes, m_sizes)
    for row in size_rows.values():
        row["recall_head"] = round(row["merged_head"] / row["pairs"], 4)
        row["recall_now"] = round(row["merged_now"] / row["pairs"], 4)
    result = {
        "benchmark": "near_duplicate_recall",
        "config": cfg.model_dump(mode="json", exclude={"eval_fraction", "eval_dir"}),
        "per_source_originals": per_source,
        "head_method": f"pHash Hamming <= {HEAD_RADIUS} and worst 16x16 cell colour difference <= {HEAD_COLOUR}",
        "method": "candidates within the radius on pHash or on the colour-grid dHash (multi-index search), "
        "verified by the colour grids of the content square after a fitted brightness/contrast change; "
        "candidates the grid rejects, within the pixel radius, verified by governance.pixel_match."
        "verify_on_pixels on the two files, the call governance/dedup.py makes",
        **recall_section(same, m_same, cfg),
        **distinct_section(distinct, m_distinct, cfg, copies),
        "same_picture_under_two_names": {
            "pairs": len(same_picture),
            "examples": [r[4] for r in same_picture[:20]],
        },
        "theme_sizes": size_rows,
        "lossy_diagnosis": lossy_section(per_source, copies, cfg),
        "colour_limit_sweep": _sweep(
            same, distinct, m_same["evidence"], m_distinct["evidence"], cfg.near_max_distance
        ),
    }
    result["seconds"] = round(time.perf_counter() - started, 1)  # without the all-Twemoji section
    if all_twemoji:
        result["twemoji_all_candidates"] = twemoji_all_candidates(cfg)
    result["load_average_1_5_15_before_after"] = [load_before, [round(x, 2) for x in os.getloadavg()]]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-source", type=int, default=260)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--no-all-twemoji",
        action="store_true",
        help="skip judging every Twemoji candidate pair (the slow part)",
    )
    args = parser.parse_args()
    result = run(args.per_source, not args.no_all_twemoji)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict | list)}, indent=1))


if __name__ == "__main__":
    main()
