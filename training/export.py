"""The final model directory: a self-contained diffusers pipeline (safetensors), plus its digest."""

import hashlib
import json
import os
import shutil
from pathlib import Path

import diffusers
import transformers
from diffusers import FlowMatchEulerDiscreteScheduler

from training import t2i_pipeline
from training.quiet import library_bars_off
from training.t2i_pipeline import T2IPipeline

PIPELINE_FILE = "pipeline.py"  # the Hub convention for a custom pipeline beside the weights
PIPELINE_CLASS = "T2IPipeline"


def make_pipeline(
    denoiser,
    text_encoder,
    tokenizer,
    max_tokens: int,
    steps: int,
    guidance: float,
    vae=None,
    run_id: str | None = None,
    model_name: str | None = None,
    watermark_method: str | None = None,
):
    """An in-memory pipeline around the given modules (used for the sample grids and the export).

    `run_id` and `model_name` are saved in model_index.json, so `pipe.save_image` of the loaded
    pipeline marks and signs its images for that run without `set_provenance`; so is
    `watermark_method` (`training.output_watermark`), the invisible mark `save_image` embeds.
    """
    return T2IPipeline(
        denoiser=denoiser,
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        vae=vae,
        max_text_tokens=max_tokens,
        default_steps=steps,
        default_guidance_scale=guidance,
        run_id=run_id or None,
        model_name=model_name or None,
        watermark_method=watermark_method or None,
    )


def save_model_dir(pipe: T2IPipeline, model_dir: Path) -> Path:
    """Save `pipe` with its class file, atomically: written beside, then renamed over `model_dir`."""
    tmp = model_dir.with_name(f".tmp-{model_dir.name}-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    with library_bars_off():
        pipe.save_pretrained(tmp, safe_serialization=True)
    shutil.copyfile(t2i_pipeline.__file__, tmp / PIPELINE_FILE)
    index_file = tmp / "model_index.json"
    index = json.loads(index_file.read_text())
    # [module file, class]: DiffusionPipeline.from_pretrained(DIR, trust_remote_code=True) imports pipeline.py
    index["_class_name"] = [PIPELINE_FILE.removesuffix(".py"), PIPELINE_CLASS]
    index_file.write_text(json.dumps(index, indent=2, sort_keys=True))
    if model_dir.exists():
        shutil.rmtree(model_dir)
    os.replace(tmp, model_dir)
    return model_dir


def directory_sha256(directory: Path) -> str:
    """sha256 over (relative path, bytes) of every file in the directory, in sorted order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(file.relative_to(directory).as_posix().encode())
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def load_model_dir(model_dir: Path, device: str = "cpu") -> T2IPipeline:
    """Load a saved model directory with the installed class (no remote code, safetensors only)."""
    model_dir = Path(model_dir)
    if not (model_dir / "model_index.json").is_file():
        raise FileNotFoundError(f"{model_dir} is not a model directory (no model_index.json): train first")
    index = json.loads((model_dir / "model_index.json").read_text())
    # Component by component: DiffusionPipeline.from_pretrained would import the directory's pipeline.py
    # (remote code); here the installed class is used and each part is loaded by its own library.
    libraries = {"diffusers": diffusers, "transformers": transformers}
    parts, settings = {}, {}
    for name, value in index.items():
        if name.startswith("_"):
            continue
        if isinstance(value, list) and len(value) == 2:
            library, cls_name = value
            if library is None:
                parts[name] = None
                continue
            if library not in libraries:
                raise ValueError(
                    f"{model_dir}/model_index.json: component {name} comes from {library!r}; "
                    "only diffusers and transformers components are loaded"
                )
            cls = getattr(libraries[library], cls_name)
            kwargs = {"use_safetensors": True} if name not in ("scheduler", "tokenizer") else {}
            with library_bars_off():
                parts[name] = cls.from_pretrained(model_dir / name, **kwargs)
        else:
            settings[name] = value
    return T2IPipeline(**parts, **settings).to(device)
