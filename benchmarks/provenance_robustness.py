"""Which provenance marks survive which everyday edit, per watermark method, on real images.

dwtDctSvd (the project's mark): N Twemoji (CC-BY 4.0) at 32 px written exactly as the pipeline writes an
output (upscaled to 512 px, watermark, metadata, signed C2PA manifest with a throw-away key), then every
edit of `audits.provenance_robustness.ATTACKS`, read as `pipeline provenance` reads; N unmarked copies
give the false-positive rate.
RivaGAN (the learned mark bundled with invisible-watermark, ONNX on onnxruntime, offline): the same
emoji at 256 px and scikit-image's public-domain photos at 256 px, read with the library's decoder
(29 of 32 bits) unedited, after JPEG q75, and after a 10% crop scaled back to 256 px (its decoder
refuses anything under 256x256).

    python benchmarks/provenance_robustness.py [--images 64] [--riva-images 16]

writes benchmarks/results/provenance_robustness.json (minutes on 2 shared cores).

    python benchmarks/provenance_robustness.py --crop-search 8

times only the audit's provenance reading (`mark_survival`, every edit plus the unmarked copies) on
N emoji outputs three ways: the crop search as it was (one DWT per pixel alignment, all 2,048
hypotheses), the shared DWT with all hypotheses, and the shared DWT stopping at a 32-of-32 match (what
the audit runs); writes benchmarks/results/watermark_crop_search.json with the rows of each, which
must be equal.

    python benchmarks/provenance_robustness.py --compare-methods 16

writes both methods through the project's own writer and reader (`mark_image(method=...)`, signed,
every edit of `ATTACKS`, the audit's crop search on crops, unmarked copies) on the same N emoji and
the 8 photos scaled to 256 px: benchmarks/results/watermark_methods.json.
"""

import argparse
import io
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from audits.governed_data import load_image
from audits.provenance_robustness import default_marker, mark_survival, unmarked_copy
from tests.audits.emoji_governed import ASSETS
from training.output_credentials import throwaway_credentials
from training.output_marks import MIN_BIT_ACCURACY, watermark_tag

RUN = "benchmark-run"
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "retina", "hubble_deep_field", "cat")


def emoji(n: int) -> list[Image.Image]:
    files = sorted(ASSETS.glob("*.png"))
    step = max(1, len(files) // n)  # spread over the set, not one family of near-identical emoji
    return [Image.fromarray(load_image(f, 32)) for f in files[::step][:n]]


def dwt_table(images: list[Image.Image]) -> dict:
    creds = throwaway_credentials(RUN)
    start = time.perf_counter()
    outputs = [default_marker(RUN, "benchmark", creds)(img) for img in images]
    write_s = time.perf_counter() - start
    start = time.perf_counter()
    rows = mark_survival(outputs, [unmarked_copy(img) for img in images], RUN)
    return {
        "method": "dwtDctSvd (project writer: 512 px, headroom 16, scale 36; signed)",
        "images": len(images),
        "rows": rows,
        "write_seconds_per_image": write_s / len(images),
        "read_seconds_per_image_all_edits": (time.perf_counter() - start) / len(images),
    }


def _riva_read(decoder, bgr: np.ndarray, tag: list[int]) -> bool:
    bits = decoder.decode(np.ascontiguousarray(bgr), "rivaGan")
    return float(np.mean(np.array(bits) == np.array(tag))) >= MIN_BIT_ACCURACY


def riva_table(name: str, images: list[Image.Image]) -> dict:
    import cv2
    from imwatermark import WatermarkDecoder, WatermarkEncoder

    WatermarkEncoder.loadModel()
    tag = watermark_tag(RUN)
    encoder, decoder = WatermarkEncoder(), WatermarkDecoder("bits", 32)
    encoder.set_watermark("bits", tag)
    found = {"none": 0, "jpeg_q75": 0, "crop_0.9_rescaled": 0, "unmarked": 0}
    start = time.perf_counter()
    for img in images:
        bgr = np.ascontiguousarray(np.asarray(img.convert("RGB").resize((256, 256)))[:, :, ::-1])
        marked = encoder.encode(bgr, "rivaGan")
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(marked[:, :, ::-1])).save(buf, "JPEG", quality=75)
        jpeg = np.asarray(Image.open(io.BytesIO(buf.getvalue())))[:, :, ::-1]
        crop = cv2.resize(marked[13:243, 13:243], (256, 256), interpolation=cv2.INTER_CUBIC)
        found["none"] += _riva_read(decoder, marked, tag)
        found["jpeg_q75"] += _riva_read(decoder, jpeg, tag)
        found["crop_0.9_rescaled"] += _riva_read(decoder, crop, tag)
        found["unmarked"] += _riva_read(decoder, bgr, tag)
    return {
        "method": "rivaGan (invisible-watermark 0.2.0 ONNX, 256 px)",
        "images_of": name,
        "images": len(images),
        "read_share": {k: v / len(images) for k, v in found.items()},
        "seconds_per_image": (time.perf_counter() - start) / len(images),
    }


def _per_alignment_grids(bgr: np.ndarray, scale: float):
    """The crop search's grids as computed before the shared DWT: one `block_scores` per alignment."""
    from audits.watermark_search import PIXELS, block_scores

    for dy in range(PIXELS):
        for dx in range(PIXELS):
            yield dy, dx, block_scores(bgr[dy:, dx:], scale)


def crop_search_timing(images: list[Image.Image]) -> dict:
    """Seconds per output of the audit's provenance reading under three versions of the crop search."""
    from unittest import mock

    from audits import watermark_search

    creds = throwaway_credentials(RUN)
    outputs = [default_marker(RUN, "benchmark", creds)(img) for img in images]
    unmarked = [unmarked_copy(img) for img in images]
    search = watermark_search.search_bits
    variants = {
        "per_alignment_dwt_exhaustive": (_per_alignment_grids, False),
        "shared_dwt_exhaustive": (watermark_search._alignment_grids, False),
        "shared_dwt_stop_at_full_match": (watermark_search._alignment_grids, True),
    }
    timed = {}
    for name, (grids, stop) in variants.items():

        def patched(bgr, scale, tag, stop=stop):
            return search(bgr, scale, tag, stop_at_full_match=stop)

        with (
            mock.patch.object(watermark_search, "_alignment_grids", grids),
            mock.patch.object(watermark_search, "search_bits", patched),
        ):
            start = time.perf_counter()
            rows = mark_survival(outputs, unmarked, RUN)
            timed[name] = {"seconds_per_output": (time.perf_counter() - start) / len(images), "rows": rows}
    first = next(iter(timed.values()))["rows"]
    return {
        "images": len(images),
        "what": "mark_survival: every edit of ATTACKS read as the audit reads, plus one unmarked copy each",
        "same_rows_in_every_variant": all(v["rows"] == first for v in timed.values()),
        **{k: v["seconds_per_output"] for k, v in timed.items()},
        "rows": first,
    }


def method_table(name: str, images: list[Image.Image], method: str) -> dict:
    """Watermark read rate per edit of `ATTACKS` for outputs written by the project's writer with
    `method` (signed, as any output), read as the audit reads (crop search on crops), plus unmarked."""
    from audits.provenance_marks import read_mark
    from audits.provenance_robustness import ATTACKS, attacked_file
    from training.output_credentials import credentialed_png_bytes

    creds = throwaway_credentials(RUN)
    start = time.perf_counter()
    outputs = [credentialed_png_bytes(img, RUN, "benchmark", creds, method=method) for img in images]
    write_s = time.perf_counter() - start
    found = dict.fromkeys([*ATTACKS, "unmarked"], 0)
    start = time.perf_counter()
    for data in outputs:
        for attack_name in ATTACKS:
            edited = Image.open(io.BytesIO(attacked_file(data, attack_name)))
            mark = read_mark(edited, RUN, search_crop=attack_name.startswith("crop"), method=method)
            found[attack_name] += mark.watermark_found
    for img in images:
        found["unmarked"] += read_mark(unmarked_copy(img), RUN, method=method).watermark_found
    return {
        "method": f"{method} (project writer, >= 512 px outputs, signed)",
        "images_of": name,
        "images": len(images),
        "read_share": {k: v / len(images) for k, v in found.items()},
        "write_seconds_per_image": write_s / len(images),
        "read_seconds_per_image_all_edits": (time.perf_counter() - start) / len(images),
    }


def compare_methods(n_emoji: int, photos: list[Image.Image]) -> dict:
    """Both methods through the project's writer and reader on the same emoji and photos."""
    sets = {"Twemoji at 32 px": emoji(n_emoji), "scikit-image photos at 256 px": photos}
    return {
        f"{method} / {name}": method_table(name, images, method)
        for method in ("dwtDctSvd", "rivaGan")
        for name, images in sets.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--riva-images", type=int, default=16)
    parser.add_argument("--crop-search", type=int, default=0, metavar="N", help="time the crop search only")
    parser.add_argument(
        "--compare-methods", type=int, default=0, metavar="N", help="both methods, project writer, N emoji"
    )
    args = parser.parse_args()
    if args.compare_methods:
        from skimage import data

        load_before = os.getloadavg()
        photos = [
            Image.fromarray(getattr(data, p)()).convert("RGB").resize((256, 256))
            for p in PHOTOS
            if hasattr(data, p)
        ]
        results = {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "loadavg_before": load_before,
            "note": "measured on a CPU machine shared with other jobs: times are under load",
            "tables": compare_methods(args.compare_methods, photos),
            "loadavg_after": os.getloadavg(),
        }
        out = Path(__file__).parent / "results" / "watermark_methods.json"
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2))
        return
    if args.crop_search:
        load_before = os.getloadavg()
        timing = crop_search_timing(emoji(args.crop_search))
        results = {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "loadavg_before": load_before,
            "note": "measured on a CPU machine shared with other jobs: times are under load",
            **timing,
            "loadavg_after": os.getloadavg(),
        }
        out = Path(__file__).parent / "results" / "watermark_crop_search.json"
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps({k: v for k, v in results.items() if k != "rows"}, indent=2))
        return
    from skimage import data

    load_before = os.getloadavg()
    sample = emoji(args.images)
    photos = [Image.fromarray(getattr(data, p)()).convert("RGB") for p in PHOTOS if hasattr(data, p)]
    results = {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "loadavg_before": load_before,
        "note": "measured on a CPU machine shared with other jobs: times are under load",
        "dwtDctSvd": dwt_table(sample),
        "rivaGan_emoji": riva_table("Twemoji at 32 px, resized to 256", emoji(args.riva_images)),
        "rivaGan_photos": riva_table("scikit-image public-domain photos", photos),
        "loadavg_after": os.getloadavg(),
    }
    out = Path(__file__).parent / "results" / "provenance_robustness.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
