#!/usr/bin/env bash
# Set up everything in ./.venv: PyTorch 2.13.0 first (on a machine without a GPU, make sure this resolves to a CPU
# build, see docs/install.md), then this project and its test tools. Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
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
echo "[install] installing the project and its test tools"
pip install --disable-pip-version-check -q -e ".[test]"
python -c "import torch, mujoco, rl_games, isaacgymenvs; print(f'[install] ready: torch {torch.__version__}, mujoco {mujoco.__version__}')"
