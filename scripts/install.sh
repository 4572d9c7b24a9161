#!/usr/bin/env bash
# Set up everything in ./.venv: PyTorch 2.13.0 first (on a machine without a GPU, make sure this resolves to a CPU
# build, see docs/install.md), then this project with its test tools and the optional skrl learner
# (EXTRAS=test for without). Safe to run again; it only adds what is missing.
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

if [[ ! -x .venv/bin/python ]]; then
  echo "[install] creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
if ! python -c "import torch" 2>/dev/null; then
  echo "[install] installing $TORCH_REQUIREMENT"
  pip install --disable-pip-version-check -q "$TORCH_REQUIREMENT"
fi
# Extras: the test tools, and skrl (the optional second AMP learner, so that its tests run too).
EXTRAS=${EXTRAS:-test,skrl}
echo "[install] installing the project with extras [$EXTRAS]"
pip install --disable-pip-version-check -q -e ".[$EXTRAS]"
python -c "import torch, mujoco, rl_games, isaacgymenvs; print(f'[install] ready: torch {torch.__version__}, mujoco {mujoco.__version__}')"
