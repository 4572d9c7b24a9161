"""The evaluation on the task: the reference scored against itself sits at the floor of every metric and the baselines
above it; episodes are recorded whole; foot corners agree with the clip analysis; the command line on baselines, and
its errors. (Evaluating a launcher checkpoint is in ``test_launcher.py``, next to the run that makes one.)"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_python

from isaacgymenvs.eval import evaluate as ev
from isaacgymenvs.motion.analysis import foot_heights
from isaacgymenvs.motion.builtin import load_builtin_clip
from isaacgymenvs.motion.skeleton import AMP_HUMANOID
from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP

pytestmark = pytest.mark.sim

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def task() -> HumanoidAMP:
    return HumanoidAMP(
        {"env": {"numEnvs": 8, "motion_file": "humanoid3d_walk"}, "sim": {}}, rl_device="cpu", sim_device="cpu"
    )


def test_foot_box_corners_give_the_clip_analysis_foot_heights() -> None:
    clip = load_builtin_clip("humanoid3d_walk")
    feet = [AMP_HUMANOID.index("right_foot"), AMP_HUMANOID.index("left_foot")]
    corners = ev.foot_box_corners(clip.global_translation[:, feet], clip.global_rotation[:, feet])
    assert corners.shape == (clip.num_frames, 2, 8, 3)
    torch.testing.assert_close(corners[..., 2].min(dim=-1).values, foot_heights(clip))


def test_rollout_records_whole_episodes(task: HumanoidAMP) -> None:
    episodes = ev.rollout(task, lambda obs: torch.zeros(obs.shape[0], task.num_actions), episodes=5)
    assert len(episodes) == 5
    for episode in episodes:
        assert episode.features.shape == (episode.length, 105)
        assert episode.key_world.shape == (episode.length, 4, 3)
        assert episode.foot_corners.shape == (episode.length, 2, 8, 3)
        assert episode.dt == pytest.approx(task.dt)
        # An episode ends with a fall or at the cap (the state after the last step is included).
        assert episode.fell or episode.length - 1 == task.max_episode_length - 1


def test_the_reference_scores_the_floor_and_baselines_score_above_it(task: HumanoidAMP) -> None:
    zero = {"zero action": lambda obs: torch.zeros(obs.shape[0], task.num_actions)}
    results = ev.evaluate(task, zero, episodes=8, seed=0)
    reference, baseline = results["reference (resampled)"], results["zero action"]
    assert reference["fall_rate"] == 0.0
    # The clip is found inside itself: DTW errors vanish (up to the float32 features).
    assert reference["key_body_error_m"] < 1e-3
    assert reference["joint_rotation_error_rad"] < 1e-3
    assert reference["key_body_velocity_error_mps"] < 0.05
    assert abs(reference["classifier_accuracy"] - 0.5) < 0.15
    assert baseline["classifier_accuracy"] > 0.9
    assert baseline["frechet_distance"] > 10 * reference["frechet_distance"]
    assert baseline["key_body_error_m"] > 0.05
    for key in ("normalized_jerk", "foot_skate_mps"):
        assert math.isfinite(reference[key]), key
    # The zero-action policy's features lie far from the clip's, its largest gaps listed first.
    gaps = [abs(record["gap_std"]) for record in baseline["feature_gaps"]]
    assert len(gaps) == 10 and gaps == sorted(gaps, reverse=True) and gaps[0] > 1.0, baseline["feature_gaps"]
    table = ev.markdown_table(results)
    assert table.splitlines()[0] == "| metric | reference (resampled) | zero action |"
    assert len(table.splitlines()) == 2 + len(ev.METRIC_LABELS)


def _eval(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return run_python(["-m", "isaacgymenvs.eval", *args], cwd)


def test_command_line_on_the_baselines(tmp_path: Path) -> None:
    result = _eval(
        ["task.env.motion_file=humanoid3d_walk", "num_envs=4", "--episodes", "3", "--json", "out.json"], tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| metric | reference (resampled) | zero action | random |" in result.stdout
    results = json.loads((tmp_path / "out.json").read_text())
    assert set(results) == {"reference (resampled)", "zero action", "random"}
    assert results["random"]["episodes"] == 3
    assert np.isfinite(results["random"]["frechet_distance"])


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["checkpoint=missing.pth"], "missing.pth"),
        (["--episodes", "0"], "--episodes must be at least 1"),
        (["--no-baselines"], "--no-baselines needs checkpoint="),
        (["--feature-gaps"], "--feature-gaps needs checkpoint="),
        (["task.env.motion_file=no_such_clip"], "no_such_clip"),
    ],
)
def test_command_line_errors_are_one_line(tmp_path: Path, args: list[str], fragment: str) -> None:
    result = _eval([*args, "num_envs=2", "--json", "out.json"], tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr[-2000:]
    assert not (tmp_path / "out.json").exists()
