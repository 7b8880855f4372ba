"""What signed Content Credentials cost per generated image, at 64, 256 and 512 px model outputs.

Times the three writing steps separately (watermark + metadata PNG, C2PA signing, and the check that
reads everything back) on a real public-domain photo (scikit-image's astronaut) resized to each size,
with the per-run throw-away key. Images under 512 px are upscaled to 512 before marking, so the marked
PNG is 512 px at every size here. Run `python benchmarks/output_signing.py` (under a minute on 2 cores);
writes benchmarks/results/output_signing.json.
"""

import io
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from audits.provenance_check import check_output
from training.output_credentials import manifest_definition, sign_png, throwaway_credentials
from training.output_marks import marked_png_bytes, watermark_payload

SIDES = (64, 256, 512)
REPEATS = 8
RUN, MODEL = "benchmark-run", "benchmark-model"


def _median_ms(times: list[float]) -> float:
    return round(1000 * statistics.median(times), 2)


def measure(photo: Image.Image, side: int, creds) -> dict:
    img = photo.resize((side, side), Image.Resampling.LANCZOS)
    mark_t, sign_t, check_t = [], [], []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        marked = marked_png_bytes(img, RUN, MODEL)
        t1 = time.perf_counter()
        signed = sign_png(
            marked, creds, manifest_definition(RUN, MODEL, watermark_payload(RUN), "notAllowed", "x.png")
        )
        t2 = time.perf_counter()
        with tempfile.NamedTemporaryFile(suffix=".png") as fh:
            fh.write(signed)
            fh.flush()
            report = check_output(Path(fh.name))
        t3 = time.perf_counter()
        if not (report.c2pa_state == "Valid" and report.recognised):
            raise RuntimeError(f"{side} px: the signed image did not check ({report.reason})")
        mark_t.append(t1 - t0), sign_t.append(t2 - t1), check_t.append(t3 - t2)
    return {
        "model_side_px": side,
        "written_side_px": Image.open(io.BytesIO(signed)).size[0],
        "watermark_and_metadata_ms": _median_ms(mark_t),
        "c2pa_sign_ms": _median_ms(sign_t),
        "check_ms": _median_ms(check_t),
        "marked_png_bytes": len(marked),
        "manifest_bytes_added": len(signed) - len(marked),
    }


def main() -> None:
    from skimage import data

    photo = Image.fromarray(data.astronaut())
    t0 = time.perf_counter()
    creds = throwaway_credentials(RUN)
    keygen_ms = round(1000 * (time.perf_counter() - t0), 2)
    sign_png(
        marked_png_bytes(photo.resize((64, 64)), RUN, MODEL),
        creds,
        manifest_definition(RUN, MODEL, None, "notAllowed", "w"),
    )
    rows = [measure(photo, side, creds) for side in SIDES]
    result = {
        "what": "per-image cost of watermark+metadata, C2PA signing (ES256, no thumbnail) and the check",
        "repeats": REPEATS,
        "statistic": "median",
        "throwaway_ca_and_leaf_ms": keygen_ms,
        "rows": rows,
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
    }
    out = Path(__file__).resolve().parent / "results" / "output_signing.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
