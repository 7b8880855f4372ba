"""Atomic checkpoints: written into a temporary directory, then renamed; never half-written; rotated.

A checkpoint holds the model and EMA (each loadable on its own with `from_pretrained`), the optimiser
state (safetensors + JSON, no pickle), each process's RNG, the data position, the schedule clock and
the time already spent.
"""

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from training.quiet import library_bars_off

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d{8})$")
STATE_FILE = "state.json"
WEIGHTS_FILE = "diffusion_pytorch_model.safetensors"  # the name diffusers' from_pretrained reads


def checkpoint_name(step: int) -> str:
    return f"checkpoint-{step:08d}"


def tmp_dir_for(checkpoints: Path, step: int) -> Path:
    """Where a checkpoint is assembled before the rename makes it visible."""
    return checkpoints / f".tmp-{checkpoint_name(step)}"


def list_checkpoints(checkpoints: Path) -> list[Path]:
    """Complete checkpoints, oldest first (a complete one has its state file; temporaries are ignored)."""
    if not checkpoints.is_dir():
        return []
    found = [p for p in checkpoints.iterdir() if CHECKPOINT_RE.match(p.name) and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: p.name)


def latest_checkpoint(checkpoints: Path) -> Path | None:
    """The newest complete checkpoint, or None."""
    found = list_checkpoints(checkpoints)
    return found[-1] if found else None


def save_optimizer(sd: dict, directory: Path) -> None:
    """A full optimiser state (`sharding.optimizer_state`) as safetensors + JSON: no pickle."""
    tensors, scalars = {}, {}
    for name, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"{name}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{name}.{key}"] = value
    save_file(tensors, directory / "optimizer.safetensors")
    (directory / "optimizer.json").write_text(
        json.dumps({"param_groups": sd["param_groups"], "scalars": scalars})
    )


def load_optimizer(directory: Path) -> dict:
    """The full optimiser state that `save_optimizer` wrote (for `sharding.load_optimizer_state`)."""
    meta = json.loads((directory / "optimizer.json").read_text())
    tensors = load_file(directory / "optimizer.safetensors")
    state: dict[str, dict[str, Any]] = {}
    for name, value in list(tensors.items()) + list(meta["scalars"].items()):
        param, key = name.rsplit(".", 1)  # parameter names hold dots; the state keys do not
        state.setdefault(param, {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_rng(generators: dict[str, torch.Generator], directory: Path, rank: int) -> None:
    """This process's named generators (data, noise) and torch's global RNG."""
    states = {name: g.get_state() for name, g in generators.items()}
    save_file(states | {"torch": torch.get_rng_state()}, directory / f"rng-rank{rank}.safetensors")


def load_rng(generators: dict[str, torch.Generator], directory: Path, rank: int) -> bool:
    """Restore this process's RNG; False when the checkpoint was written by fewer processes or lacks a
    generator asked for (one written on another kind of device), so the caller reseeds instead."""
    file = directory / f"rng-rank{rank}.safetensors"
    if not file.is_file():
        return False
    states = load_file(file)
    if not set(generators) <= set(states):
        return False
    for name, g in generators.items():
        g.set_state(states[name])
    torch.set_rng_state(states["torch"])
    return True


def write_main_files(
    tmp: Path,
    model: torch.nn.Module,
    weights: dict[str, torch.Tensor],
    ema_model: torch.nn.Module,
    optimizer: dict,
    state: dict,
) -> None:
    """Everything but the per-process RNG files, written by the main process into `tmp`.

    `weights` and `optimizer` are full state dicts (gathered when the model is sharded); `model`
    gives the denoiser's config, so `denoiser/` loads with `from_pretrained` like `ema/`.
    """
    with library_bars_off():
        model.save_config(tmp / "denoiser")
        save_file(
            {k: v.contiguous() for k, v in weights.items()},
            tmp / "denoiser" / WEIGHTS_FILE,
            metadata={"format": "pt"},
        )
        ema_model.save_pretrained(tmp / "ema", safe_serialization=True)
    save_optimizer(optimizer, tmp)
    # the state file goes last: its presence after the rename marks a complete checkpoint
    (tmp / STATE_FILE).write_text(json.dumps(state, indent=1))


def publish(tmp: Path, checkpoints: Path, step: int, keep: int) -> Path:
    """Rename the finished temporary directory into place, then delete the oldest beyond `keep`."""
    final = checkpoints / checkpoint_name(step)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in list_checkpoints(checkpoints)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def read_state(checkpoint: Path) -> dict:
    """The JSON state of a checkpoint."""
    return json.loads((checkpoint / STATE_FILE).read_text())


def clean_temporaries(checkpoints: Path) -> None:
    """Remove leftovers of a checkpoint that was being written when the process died."""
    if checkpoints.is_dir():
        for p in checkpoints.iterdir():
            if p.name.startswith(".tmp-checkpoint-"):
                shutil.rmtree(p, ignore_errors=True)
