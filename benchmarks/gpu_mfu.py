"""GPU throughput and MFU of the `base` transformer preset (DiT-style, 256 px, pixel space) in bf16.

Self-contained on purpose (torch + diffusers only, synthetic data), so a bare GPU machine runs it:

    python benchmarks/gpu_mfu.py benchmarks/results/train_gpu_mfu.json [--compile] [--batch 64]
    python benchmarks/gpu_mfu.py /tmp/smoke.json --smoke      # tiny sizes, runs on a CPU in seconds

MFU = (FLOPs per training image, counted by torch's FlopCounterMode over forward + backward)
      x (images per second) / (the device's dense bf16 peak).
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

# Dense bf16 tensor-core peaks (FLOP/s) from the vendors' datasheets.
PEAKS = {
    "H200": 989.4e12,
    "H100 PCIe": 756.5e12,
    "H100 NVL": 835.5e12,
    "H100": 989.4e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L4": 121e12,
    "B200": 2250e12,
}

# The `base` preset of training/presets.py (tests/training checks the two agree).
BASE = {
    "resolution": 256,
    "width": 768,
    "depth": 12,
    "heads": 12,
    "patch": 8,
    "text_dim": 384,
    "text_tokens": 32,
}
SMOKE = {"resolution": 32, "width": 64, "depth": 2, "heads": 2, "patch": 4, "text_dim": 384, "text_tokens": 8}


def build(sizes: dict):
    """The DiT-style denoiser: PixArt transformer with cross-attention to caption tokens, no extra conditions."""
    from diffusers import PixArtTransformer2DModel

    return PixArtTransformer2DModel(
        num_attention_heads=sizes["heads"],
        attention_head_dim=sizes["width"] // sizes["heads"],
        in_channels=3,
        out_channels=3,
        num_layers=sizes["depth"],
        cross_attention_dim=sizes["width"],
        caption_channels=sizes["text_dim"],
        sample_size=sizes["resolution"],
        patch_size=sizes["patch"],
        use_additional_conditions=False,
        norm_type="ada_norm_single",
        norm_elementwise_affine=False,
        norm_eps=1e-6,
    )


def peak_for(name: str) -> float | None:
    for key, value in PEAKS.items():
        if key in name:
            return value
    return None


def kernel_kind(name: str) -> str:
    """A kernel's family by its name, to see whether matrix products, attention or the rest bound a step."""
    low = name.lower()
    if any(k in low for k in ("flash", "fmha", "attention", "sdpa", "cudnn")):
        return "attention"
    if any(
        k in low
        for k in ("gemm", "nvjet", "cutlass", "xmma", "matmul", "cublas", "addmm", "aten::mm", "aten::bmm")
    ):
        return "matmul"
    if low.startswith("triton"):
        return "triton (fused by compile)"
    if "adam" in low or "multi_tensor" in low:
        return "optimiser"
    return "other (elementwise, norms, copies)"


def profile_step(step, device: torch.device, rows: int = 15) -> tuple[list[dict], dict]:
    """Where one step's time goes: the kernels (or CPU ops) with the most self time, and shares by family."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
    key = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    averages = prof.key_averages()
    events = sorted(averages, key=lambda e: getattr(e, key, 0.0), reverse=True)[:rows]
    total = sum(getattr(e, key, 0.0) for e in averages) or 1.0
    kinds: dict[str, float] = {}
    for e in averages:
        if getattr(e, key, 0.0) > 0:
            kinds[kernel_kind(e.key)] = kinds.get(kernel_kind(e.key), 0.0) + getattr(e, key) / 1000
    shares = {
        k: {"ms": v, "share": v * 1000 / total} for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])
    }
    top = [
        {
            "name": e.key[:120],
            "calls": e.count,
            "self_ms": getattr(e, key, 0.0) / 1000,
            "share": getattr(e, key, 0.0) / total,
        }
        for e in events
    ]
    return top, shares


def attention_backend(name: str):
    """A context that pins SDPA to one backend (or leaves torch's choice)."""
    import contextlib

    from torch.nn.attention import SDPBackend, sdpa_kernel

    backends = {
        "flash": SDPBackend.FLASH_ATTENTION,
        "cudnn": SDPBackend.CUDNN_ATTENTION,
        "efficient": SDPBackend.EFFICIENT_ATTENTION,
    }
    # the masked cross-attention may need another backend than the self-attention: math stays allowed
    return contextlib.nullcontext() if name == "default" else sdpa_kernel([backends[name], SDPBackend.MATH])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="where to write the JSON result")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="torch.compile the denoiser")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and few steps, for a CPU check")
    parser.add_argument(
        "--profile", action="store_true", help="add the top kernels of one step (torch.profiler)"
    )
    parser.add_argument(
        "--no-mask",
        action="store_true",
        help="pass no text attention mask (valid when captions are unpadded): lets SDPA pick flash kernels",
    )
    parser.add_argument(
        "--fuse-qkv",
        action="store_true",
        help="diffusers' fuse_qkv_projections: one matrix product for q, k, v",
    )
    parser.add_argument(
        "--sdpa",
        choices=["default", "flash", "cudnn", "efficient"],
        default="default",
        help="pin scaled_dot_product_attention to one backend",
    )
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else BASE
    if args.smoke:
        args.batch, args.steps, args.warmup = min(args.batch, 4), 2, 1
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True

    model = build(sizes).to(device)  # fp32 master weights; bf16 compute through autocast
    if args.fuse_qkv:
        model.fuse_qkv_projections()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    fwd = torch.compile(model) if args.compile else model
    res, b = sizes["resolution"], args.batch
    gen = torch.Generator(device=device).manual_seed(0)
    x0 = torch.randn(b, 3, res, res, device=device, generator=gen)
    emb = torch.randn(b, sizes["text_tokens"], sizes["text_dim"], device=device, generator=gen)
    mask = None if args.no_mask else torch.ones(b, sizes["text_tokens"], device=device, dtype=torch.long)

    def step(net=fwd):
        # rectified-flow step, as training/flow.py: x = (1 - s) x0 + s noise, target noise - x0
        sigma = torch.sigmoid(torch.randn(b, device=device, generator=gen))
        noise = torch.randn_like(x0)
        s = sigma.view(-1, 1, 1, 1)
        with torch.autocast(device.type, dtype=torch.bfloat16), attention_backend(args.sdpa):
            pred = net(
                (1 - s) * x0 + s * noise,
                encoder_hidden_states=emb,
                timestep=sigma * 1000,
                encoder_attention_mask=mask,
                added_cond_kwargs={"resolution": None, "aspect_ratio": None},
            ).sample
        loss = (pred.float() - (noise - x0)).pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        # counted on the eager module: compile hides ops from the counter, and a first compiled call under
        # the counter's dispatch mode can leave dynamo running the model eagerly from then on
        step(model)
    flops_per_image = counter.get_total_flops() / b

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        step()
    sync()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    step_s = statistics.median(times)
    top_kernels, kinds = profile_step(step, device) if args.profile else (None, None)
    from torch._dynamo.utils import counters

    compiled_graphs = counters["stats"].get("unique_graphs", 0)
    graph_breaks = sum(counters["graph_break"].values())
    ips = b / step_s
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    peak = peak_for(name) if device.type == "cuda" else None
    result = {
        "benchmark": "gpu_mfu",
        "preset": "smoke" if args.smoke else "base",
        "architecture": "PixArtTransformer2DModel (DiT-style, cross-attention), pixel space",
        "sizes": sizes,
        "parameters": params,
        "device": name,
        "device_type": device.type,
        "precision": "bf16 autocast, fp32 master weights",
        "torch": torch.__version__,
        "compile": args.compile,
        "compiled_graphs": compiled_graphs if args.compile else None,
        "graph_breaks": graph_breaks if args.compile else None,
        "fused_qkv": args.fuse_qkv,
        "sdpa_backend": args.sdpa,
        "text_mask": not args.no_mask,
        "batch": b,
        "steps_timed": args.steps,
        "median_step_s": step_s,
        "images_per_s": ips,
        "flops_per_image": flops_per_image,
        "achieved_tflops": flops_per_image * ips / 1e12,
        "peak_tflops": peak / 1e12 if peak else None,
        "mfu": flops_per_image * ips / peak if peak else None,
        "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
        "target_mfu": 0.35,
    }
    if top_kernels is not None:
        result["top_kernels_one_step"] = top_kernels
        result["time_by_kernel_family"] = kinds
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
