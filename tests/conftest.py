"""Shared test fixtures: where the reference data lives (``../shared`` beside the checkout), skipped when absent."""

from __future__ import annotations

import os
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


def spec_file(name: str) -> Path:
    path = SPEC / name
    if not path.is_file():
        pytest.skip(f"spec file not found at {path}")
    return path
