#!/usr/bin/env bash
# The GPU check of issue #18, in one script for the device machine (no internet there): installs the
# carried wheels offline, then measures generation (benchmarks/gpu_generation.py) and `pipeline run`
# end to end at the base preset (benchmarks/gpu_pipeline.py), about 8 minutes in all, JSON into $OUT.
#
#   bash benchmarks/gpu_check.sh --receive     # a call that only carries a bundle: keep it, say what is missing
#   bash benchmarks/gpu_check.sh               # the last call: keep its bundle, install, measure
#   bash benchmarks/gpu_check.sh --cpu         # dry run on a CPU (smoke sizes; wheels optional; ~3 min)
#   bash benchmarks/gpu_check.sh --only generation|pipeline    # one of the two measurements
#
# Time: generation at most GEN_TIMEOUT (150 s), then `pipeline run` with run.budget PIPE_BUDGET (5m)
# killed at PIPE_TIMEOUT (380 s: the data and stand-in model are made first); with the install, under
# 9.5 minutes, inside one 10-minute device call. Exit status: 0 when both wrote their JSON.
#
# Wheels come in bundles made by benchmarks/gpu_wheels.sh, one per call in .whl/ (`carry: [".whl"]`):
# each call moves its bundle to $GPU_WHEELS (default /tmp/gpu-wheels), which lasts while the machine
# stays warm (30 s after a call), so the calls follow one another at once. Without the
# onnxruntime-gpu bundles NudeNet runs on the CPU and the result says so.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
wheels=${GPU_WHEELS:-/tmp/gpu-wheels}
out=${OUT:-/tmp/gpu-check-out}
work=${GPU_CHECK_WORK:-/tmp/gpu-check}
receive_only=0 cpu=0 only=
gen_timeout=${GEN_TIMEOUT:-150} pipe_budget=${PIPE_BUDGET:-5m} pipe_timeout=${PIPE_TIMEOUT:-380}
while [ $# -gt 0 ]; do
    case $1 in
        --receive) receive_only=1 ;;
        --cpu) cpu=1 ;;
        --only) only=$2; shift ;;
        *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
    esac
    shift
done
# The GPU image's python3 holds torch; on a CPU dry run, the project's own environment
python=${PYTHON:-$([ "$cpu" = 1 ] && [ -x "$repo/.venv/bin/python" ] && echo "$repo/.venv/bin/python" || echo python3)}
mkdir -p "$out" "$wheels" "$work"
: >"$out/summary.txt"
shopt -s nullglob
export PYTHONUNBUFFERED=1

# Keep this call's bundle(s), then join every bundle seen so far, per set, checking each sha256.
if [ -d "$repo/.whl" ]; then
    for bundle in "$repo"/.whl/*/*/; do
        [ -f "$bundle/manifest.json" ] || continue
        set_name=$(basename "$(dirname "$bundle")")
        mkdir -p "$wheels/$set_name" && cp -r "$bundle" "$wheels/$set_name/"
    done
fi
status=0
for set_dir in "$wheels"/*/; do
    set_name=$(basename "$set_dir")
    [ "$set_name" = joined ] && continue
    # an incomplete core set stops the measurement; an incomplete onnxruntime-gpu only leaves NudeNet on CPU
    report=$("$python" "$here/gpu_wheels.py" assemble "$set_dir"*/ --into "$wheels/joined") \
        || { [ "$set_name" = core ] && status=1; }
    echo "wheels $set_name: $report" | tee -a "$out/wheels.txt"
done
[ "$receive_only" = 1 ] && exit "$status"
[ "$status" = 0 ] || [ "$cpu" = 1 ] || { echo "core wheels incomplete: send the missing bundles" >&2; exit 1; }

if [ "$cpu" = 1 ]; then
    export PYTHONPATH=$repo  # the wheels are cp312 builds for the GPU image: nothing to install here
elif compgen -G "$wheels/joined/*.whl" >/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        "$wheels"/joined/*.whl || { echo "wheel install failed" | tee -a "$out/wheels.txt"; exit 1; }
    export PYTHONPATH=/tmp/site:$repo
else
    echo "no wheels received: carry the bundles of benchmarks/gpu_wheels.sh first" >&2
    exit 1
fi
{
    "$python" -m pip check 2>&1 | head -40
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | head -3
    "$python" - <<'EOF'
import onnxruntime, torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available())
print("onnxruntime", onnxruntime.__version__, onnxruntime.get_available_providers())
EOF
} >"$out/environment.txt" 2>&1

smoke=() gen=(--bf16 --min-seconds 3) pipe=(--images 3000 --budget "$pipe_budget")
if [ "$cpu" = 1 ]; then
    smoke=(--smoke) gen=() pipe=()
fi
cd "$repo" || exit 1
failed=0
if [ "$only" != pipeline ]; then
    timeout "$gen_timeout" "$python" benchmarks/gpu_generation.py "$work/gen" "${smoke[@]}" "${gen[@]}" \
        >"$work/gen.log" 2>&1
    echo "gpu_generation exit $?" | tee -a "$out/summary.txt"
    cp "$work/gen/result.json" "$out/gpu_generation.json" 2>/dev/null \
        || { failed=1; tail -c 4000 "$work/gen.log" >"$out/gen.log"; }
fi
if [ "$only" != generation ]; then
    timeout "$pipe_timeout" "$python" benchmarks/gpu_pipeline.py "$work/pipe" --stand-in-minilm "${smoke[@]}" \
        "${pipe[@]}" >"$work/pipe.log" 2>&1
    echo "gpu_pipeline exit $? (the run's own exit code is in gpu_pipeline.json)" | tee -a "$out/summary.txt"
    cp "$work/pipe/result.json" "$out/gpu_pipeline.json" 2>/dev/null \
        || { failed=1; tail -c 4000 "$work/pipe.log" >"$out/pipe.log"; }
    tail -c 12000 "$work/pipe/run.log" >"$out/pipeline_run.log" 2>/dev/null
fi
exit "$failed"
