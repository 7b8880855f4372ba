#!/usr/bin/env bash
# Download the wheels a GPU machine lacks for `pipeline run` and cut them into bundles that fit one
# device call each (a call carries 64 MiB in all, the working tree included). Run it here, where the
# registry is reachable; benchmarks/gpu_check.sh installs the bundles there, offline.
#
#   bash benchmarks/gpu_wheels.sh [--no-onnxruntime-gpu] [--max-mib N]    # download and bundle
#   bash benchmarks/gpu_wheels.sh --stage core/1                           # copy one bundle into .whl/
#
# Wheels go to $GPU_WHEELS (default ~/.cache/t2i-pipeline/gpu-wheels), never into the repo: wheels/
# holds them, bundles/core/N and bundles/onnxruntime-gpu/N the bundles. onnxruntime-gpu (the CUDA 13
# build, 256 MB, for NudeNet on the CUDA execution provider) is bundled apart, so a session short of
# device time can carry only core/ and let NudeNet run on the CPU. `--stage B` replaces .whl/ (ignored
# by git) with bundle B, which a device call then names in `carry: [".whl"]`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cache=${GPU_WHEELS:-$HOME/.cache/t2i-pipeline/gpu-wheels}
python=${PYTHON:-$repo/.venv/bin/python}
ort=1 max_mib= stage=
while [ $# -gt 0 ]; do
    case $1 in
        --no-onnxruntime-gpu) ort=0 ;;
        --max-mib) max_mib=$2; shift ;;
        --stage) stage=$2; shift ;;
        *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
    esac
    shift
done

if [ -n "$stage" ]; then
    [ -f "$cache/bundles/$stage/manifest.json" ] || { echo "no bundle $cache/bundles/$stage" >&2; exit 2; }
    rm -rf "$repo/.whl" && mkdir -p "$repo/.whl/${stage%%/*}"
    cp -r "$cache/bundles/$stage" "$repo/.whl/$stage"
    du -sh "$repo/.whl"
    exit 0
fi

if [ -z "$max_mib" ]; then
    # What travels besides the bundle: tracked and untracked-not-ignored files (and ../shared is not sent)
    tree=$(cd "$repo" && git ls-files -co --exclude-standard -z | xargs -0 stat -c %s 2>/dev/null \
        | awk '{s += $1} END {print int(s / 1048576) + 1}')
    max_mib=$(( 62 - tree < 60 ? 62 - tree : 60 ))
fi
echo "bundles of at most $max_mib MiB (working tree: ${tree:-?} MiB; a call carries 64 MiB)"

# The GPU image's Python (3.12, manylinux x86-64); pip matches each manylinux_2_N exactly.
platforms=()
for n in 17 24 27 28 31 34 35; do platforms+=(--platform "manylinux_2_${n}_x86_64"); done
platforms+=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform linux_x86_64)
download() {  # DEST PIN...
    local dest=$1; shift
    mkdir -p "$dest"
    "$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --abi cp312 --abi abi3 --abi none "${platforms[@]}" --platform any -d "$dest" "$@"
}

mkdir -p "$cache"
"$python" "$here/gpu_wheels.py" list --no-onnxruntime-gpu >"$cache/pins.txt"
rm -rf "$cache/wheels/core"
# shellcheck disable=SC2046  # one pin a line, no spaces
download "$cache/wheels/core" $(cat "$cache/pins.txt")
"$python" "$here/gpu_wheels.py" bundle "$cache/wheels/core" "$cache/bundles/core" --max-mib "$max_mib"
if [ "$ort" = 1 ]; then
    pin=$("$python" -c "import sys; sys.path.insert(0, '$here'); import gpu_wheels; print(gpu_wheels.ONNXRUNTIME_GPU)")
    rm -rf "$cache/wheels/onnxruntime-gpu"
    download "$cache/wheels/onnxruntime-gpu" "$pin"
    "$python" "$here/gpu_wheels.py" bundle "$cache/wheels/onnxruntime-gpu" "$cache/bundles/onnxruntime-gpu" \
        --max-mib "$max_mib"
fi
du -sh "$cache"/wheels/* "$cache"/bundles/*
