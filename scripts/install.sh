#!/usr/bin/env bash
# Set up everything in ./.venv: PyTorch 2.13.0 first (a CPU build from PyTorch's CPU wheel index, TORCH_INDEX_URL, on a
# machine without an NVIDIA GPU; see docs/install.md), then this project with its test tools and the optional skrl
# learner (EXTRAS=test for without). Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
RENDER_PACKAGES="libegl1 libgl1-mesa-dri libosmesa6"

# Offscreen rendering (videos, the motion viewer) needs Mesa's EGL or OSMesa on machines without a display.
if command -v dpkg >/dev/null 2>&1; then
  missing=$(for package in $RENDER_PACKAGES; do dpkg -s "$package" >/dev/null 2>&1 || echo "$package"; done | xargs)
  if [[ -n $missing ]]; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
      echo "[install] installing $missing (offscreen rendering)"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing) \
        >/dev/null || echo "[install] warning: could not install $missing; videos will be disabled"
    else
      echo "[install] note: for videos without a display install $missing (sudo apt-get install $missing)"
    fi
  fi
fi
TORCH_REQUIREMENT=${TORCH_REQUIREMENT:-torch==2.13.0}
# PyTorch's CPU wheels (the index given by pytorch.org's "Get started" page), used when there is no NVIDIA GPU. Set
# TORCH_INDEX_URL empty to use the configured registry instead.
DEFAULT_TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
TORCH_INDEX_URL=${TORCH_INDEX_URL-$DEFAULT_TORCH_INDEX_URL}

# An NVIDIA GPU with its driver: nvidia-smi lists it, or the driver's /proc entries do.
has_nvidia_gpu() {
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    return 0
  fi
  [[ -n $(ls -A /proc/driver/nvidia/gpus 2>/dev/null) ]]
}

# Whether an index answers within a few seconds (a refused or silent one fails fast instead of stalling pip).
index_reachable() {
  python - "$1" <<'PY' 2>/dev/null
import sys
import urllib.request

urllib.request.urlopen(sys.argv[1], timeout=5).close()
PY
}

# The registry pip would use without --index-url (pip's own resolution of its config, environment and default), so
# that torch's dependencies still resolve when the CPU index comes first. Prints nothing if pip cannot tell.
configured_index() {
  python - <<'PY' 2>/dev/null || true
from pip._internal.commands import create_command

options, _ = create_command("install").parse_args([])
print(options.index_url)
PY
}

if [[ ! -x .venv/bin/python ]]; then
  echo "[install] creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
gpu=no
has_nvidia_gpu && gpu=yes
if ! python -c "import torch" 2>/dev/null; then
  if [[ $gpu == yes ]]; then
    echo "[install] NVIDIA GPU found: installing $TORCH_REQUIREMENT from the configured registry"
    pip install --disable-pip-version-check -q "$TORCH_REQUIREMENT"
  elif [[ -z $TORCH_INDEX_URL ]]; then
    echo "[install] no NVIDIA GPU, TORCH_INDEX_URL empty: installing $TORCH_REQUIREMENT from the configured registry"
    pip install --disable-pip-version-check -q "$TORCH_REQUIREMENT"
  elif index_reachable "$TORCH_INDEX_URL"; then
    echo "[install] no NVIDIA GPU: installing $TORCH_REQUIREMENT (CPU build) from $TORCH_INDEX_URL"
    indexes=(--index-url "$TORCH_INDEX_URL")
    registry=$(configured_index)
    if [[ -n $registry && $registry != "$TORCH_INDEX_URL" ]]; then
      indexes+=(--extra-index-url "$registry")
    fi
    pip install --disable-pip-version-check -q "${indexes[@]}" "$TORCH_REQUIREMENT"
  else
    echo "[install] note: no NVIDIA GPU, but PyTorch's CPU wheel index ($TORCH_INDEX_URL) did not answer;" \
      "installing $TORCH_REQUIREMENT from the configured registry (see the build check at the end)"
    pip install --disable-pip-version-check -q "$TORCH_REQUIREMENT"
  fi
fi
# Extras: the test tools, and skrl (the optional second AMP learner, so that its tests run too).
EXTRAS=${EXTRAS:-test,skrl}
echo "[install] installing the project with extras [$EXTRAS]"
pip install --disable-pip-version-check -q -e ".[$EXTRAS]"
python - "$gpu" "$DEFAULT_TORCH_INDEX_URL" <<'PY'
import sys

import mujoco
import rl_games
import torch

import isaacgymenvs

# (the imports above check the installation)
gpu, cpu_index = sys.argv[1:3]
if torch.version.cuda:
    build = f"CUDA {torch.version.cuda} build"
elif getattr(torch.version, "hip", None):
    build = f"ROCm {torch.version.hip} build"
else:
    build = "CPU-only build"
print(f"[install] ready: torch {torch.__version__} ({build}), mujoco {mujoco.__version__}")
if gpu == "no" and torch.version.cuda:
    print(
        "[install] warning: this machine has no NVIDIA GPU, yet torch is a CUDA build (GBs of CUDA libraries\n"
        "  it cannot use; the project runs the same on a CPU build). To replace it, remove it with its CUDA\n"
        f"  packages and run this script again where PyTorch's CPU wheel index ({cpu_index}, or\n"
        "  TORCH_INDEX_URL) answers:\n"
        "    .venv/bin/pip uninstall -y torch triton $(.venv/bin/pip list --format=freeze | grep -o '^nvidia-[^=]*')\n"
        "    bash scripts/install.sh"
    )
PY
