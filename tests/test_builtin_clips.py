"""The built-in DeepMimic clips: every one loads as the AMP humanoid, stands on the ground and moves smoothly."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import reference_clip

from isaacgymenvs.motion.analysis import summarize_motion
from isaacgymenvs.motion.builtin import builtin_clip_names
from isaacgymenvs.motion.files import load_motion

EXPECTED_CLIPS = {
    "humanoid3d_backflip", "humanoid3d_cartwheel", "humanoid3d_crawl", "humanoid3d_dance_a", "humanoid3d_dance_b",
    "humanoid3d_getup_facedown", "humanoid3d_getup_faceup", "humanoid3d_jump", "humanoid3d_kick", "humanoid3d_punch",
    "humanoid3d_roll", "humanoid3d_run", "humanoid3d_spin", "humanoid3d_spinkick", "humanoid3d_walk",
}  # fmt: skip


def test_all_clips_are_available() -> None:
    assert set(builtin_clip_names()) == EXPECTED_CLIPS


@pytest.mark.parametrize("name", sorted(EXPECTED_CLIPS))
def test_clip_is_grounded_and_smooth(name: str) -> None:
    motion = load_motion(name)
    summary = summarize_motion(motion)
    assert motion.skeleton.num_bodies == 15 and motion.num_frames >= 25
    # Feet on the ground: the lower foot's usual height is within 6 cm of z = 0, never deep below it.
    assert abs(summary.ground_level) < 0.06, summary
    assert summary.lowest_foot_height > -0.09, summary
    assert 0.05 < summary.root_height_min <= summary.root_height_max < 1.3, summary
    # Smooth: no body faster than 15 m/s between frames (a sprinting foot peaks near 12), human accelerations.
    per_frame = (motion.global_translation[1:] - motion.global_translation[:-1]).norm(dim=-1).max()
    assert float(per_frame) < 15.0 / motion.fps, name
    assert summary.max_key_body_acceleration < 300.0, summary


def test_walk_is_a_plausible_walk() -> None:
    summary = summarize_motion(load_motion("humanoid3d_walk"))
    assert 0.8 < summary.mean_horizontal_speed < 1.3
    assert 0.8 < summary.root_height_min < summary.root_height_max < 0.95
    assert 1.0 < summary.stride_length < 1.5
    assert 0.08 < summary.foot_clearance < 0.2
    assert summary.max_key_body_acceleration < 60.0


def test_walk_compares_with_the_reference_walk() -> None:
    """Same skeleton, same kind of motion: speed, root height and clearance within a factor of two of the CMU walk."""
    ours = summarize_motion(load_motion("humanoid3d_walk"))
    theirs = summarize_motion(load_motion(reference_clip("walk")))
    for field in ("mean_horizontal_speed", "stride_length", "foot_clearance", "root_height_max"):
        ratio = getattr(ours, field) / getattr(theirs, field)
        assert 0.5 < ratio < 2.0, (field, getattr(ours, field), getattr(theirs, field))
    assert np.isfinite(ours.stride_length) and np.isfinite(theirs.stride_length)
