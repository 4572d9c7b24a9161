"""Shared test fixtures: where the reference data lives (``../shared`` beside the checkout), skipped when absent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ISAACGYMENVS_SHARED", PROJECT_ROOT.parent / "shared"))
REFERENCE_DATA = SHARED / "reference_data"
SPEC = SHARED / "spec"
REFERENCE_CLIPS = ("walk", "run", "dance", "hop", "backflip", "cartwheel")


def reference_clip(name: str) -> Path:
    """Path of the original's clip ``amp_humanoid_<name>.npy``; skips the test when the reference data is absent."""
    path = REFERENCE_DATA / f"amp_humanoid_{name}.npy"
    if not path.is_file():
        pytest.skip(f"reference data not found at {REFERENCE_DATA}")
    return path


def run_python(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` in ``cwd`` with this checkout importable (the way a user runs the commands), capturing text
    output; ``env`` adds variables."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})},
    )


def spec_file(name: str) -> Path:
    path = SPEC / name
    if not path.is_file():
        pytest.skip(f"spec file not found at {path}")
    return path


# A small, fast training configuration for end-to-end runs: 16 environments, 8-step rollouts, small buffers and
# networks, the walk clip.
SMALL_RUN = [
    "task=HumanoidAMP",
    "num_envs=16",
    "train.params.config.horizon_length=8",
    "train.params.config.minibatch_size=64",
    "train.params.config.amp_minibatch_size=64",
    "train.params.config.mini_epochs=2",
    "train.params.config.amp_obs_demo_buffer_size=1024",
    "train.params.config.amp_replay_buffer_size=2048",
    "train.params.config.amp_batch_size=128",
    "train.params.network.mlp.units=[64,32]",
    "train.params.network.disc.units=[64,32]",
    "task.env.motion_file=humanoid3d_walk",
]
