"""Do the bias audit's neutral prompts draw images that show skin? Base captions vs prompts that ask for it.

On the default emoji data every people emoji also has its yellow default under the bare caption
('thumbs up'), so a neutral prompt made by stripping the tone ('thumbs up: medium skin tone' ->
'thumbs up') asks for the yellow emoji, and few images show skin. `neutral_prompts_showing_attribute`
strips the value alone for those ('thumbs up: skin tone'). This script generates the same families'
prompts both ways with an already trained model on its own governed table and counts the images
that show skin (the audit's own measurement, `audits.skin_tone.skin_lab`). With `--audit` it also
runs the whole bias audit (`audits.api.run_bias`, default BiasConfig) on that model.

    python benchmarks/bias_neutral_prompts.py RUN_DIR [--prompts 12] [--seeds 4] [--audit]

RUN_DIR is a `pipeline run` folder (runs/<id>, with training/model and governance/governed.parquet).
Writes benchmarks/results/bias_neutral_prompts.json.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from audits.api import _caller_threads, _model_generator, run_bias
from audits.bias import _calibrate
from audits.config import BiasConfig
from audits.governed_data import load_images, read_governed, train_and_eval
from audits.representation import (
    neutral_prompt,
    neutral_prompts_from_data,
    strip_attribute,
)
from audits.skin_tone import NO_SKIN, nearest_reference, skin_lab

RESULT = Path(__file__).resolve().parent / "results" / "bias_neutral_prompts.json"


def _pairs(texts: list[str], values: list[str | None], n: int, seed: int) -> list[tuple[str, str]]:
    """(base caption, the prompt `neutral_prompt` makes) for `n` families drawn at random."""
    plain = {t.strip().lower() for t, v in zip(texts, values, strict=True) if not v}
    made = {
        strip_attribute(t, v): neutral_prompt(t, v, plain) for t, v in zip(texts, values, strict=True) if v
    }
    bases = neutral_prompts_from_data(texts, values)
    chosen = sorted(np.random.default_rng(seed).choice(bases, min(n, len(bases)), replace=False).tolist())
    return [(b, made[b]) for b in chosen]


def _measure(generate, prompts: list[str], seeds: int, refs, min_fraction: float) -> dict:
    images = generate([p for p in prompts for _ in range(seeds)], [s for _ in prompts for s in range(seeds)])
    labs, _ = skin_lab(images, min_fraction)
    groups = nearest_reference(labs, refs)
    per_prompt = {
        p: sum(1 for g in groups[k * seeds : (k + 1) * seeds] if g != NO_SKIN) for k, p in enumerate(prompts)
    }
    shown = [g for g in groups if g != NO_SKIN]
    return {
        "images": len(images),
        "with_skin": len(shown),
        "skin_share": len(shown) / len(images),
        "measured_groups": {g: shown.count(g) for g in sorted(set(shown))},
        "with_skin_per_prompt": per_prompt,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--prompts", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--audit", action="store_true")
    args = parser.parse_args()
    model_dir, governed = (
        args.run_dir / "training" / "model",
        args.run_dir / "governance" / "governed.parquet",
    )
    cfg = BiasConfig()
    load_before = os.getloadavg()
    train, _ = train_and_eval(read_governed(governed))
    labels = train.attribute(cfg.attribute)
    plain = {t for t, v in zip(train.texts, labels, strict=True) if not v}
    bases = neutral_prompts_from_data(train.texts, labels)
    pairs = _pairs(train.texts, labels, args.prompts, 0)
    start = time.time()
    with _caller_threads():
        generate, resolution = _model_generator(
            model_dir, cfg.sample_steps, cfg.guidance_scale, cfg.batch_size
        )
        train_images = load_images(train, resolution)
        refs = _calibrate(train, train_images, cfg).refs
        before = _measure(generate, [b for b, _ in pairs], args.seeds, refs, cfg.min_skin_fraction)
        after = _measure(generate, [p for _, p in pairs], args.seeds, refs, cfg.min_skin_fraction)
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "run_dir": str(args.run_dir),
        "model_digest": json.loads((args.run_dir / "reports" / "training.json").read_text()).get(
            "model_digest"
        ),
        "training_steps": json.loads((args.run_dir / "reports" / "training.json").read_text()).get("steps"),
        "records": {"train": len(train.texts), "labelled": sum(1 for v in labels if v)},
        "base_captions": len(bases),
        "base_captions_that_are_a_plain_records_caption": sum(1 for b in bases if b in plain),
        "seeds_per_prompt": args.seeds,
        "min_skin_fraction": cfg.min_skin_fraction,
        "base_caption_prompts": before,
        "showing_attribute_prompts": after,
        "probe_seconds": time.time() - start,
    }
    if args.audit:
        start = time.time()
        report = run_bias(cfg, model_dir, governed, Path("/tmp/bias-neutral-audit"), 0, lambda *a: None)
        result["audit"] = {
            "seconds": time.time() - start,
            "checks": {
                c.name: {"measured": c.measured, "verdict": str(c.verdict), "message": c.message}
                for c in report.checks
            },
            "metrics": {m.name: {"value": m.value, "details": m.details} for m in report.metrics},
        }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k.endswith("prompts")}, indent=1))


if __name__ == "__main__":
    main()
