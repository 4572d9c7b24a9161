"""The gait figures of the evaluation against known answers: forward speed along the heading of a root moving in a
straight line (forwards, sideways, backwards, turned), strides of a hand-made foot trajectory, agreement with ``motion
info`` on the built-in clips; and rollouts in whole rounds (each environment's first episode, in environment order)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from isaacgymenvs.eval import evaluate as ev
from isaacgymenvs.eval import metrics
from isaacgymenvs.motion.analysis import foot_heights, repeat_loop, stride_lengths, summarize_motion
from isaacgymenvs.motion.builtin import load_builtin_clip
from isaacgymenvs.motion.skeleton import AMP_FOOT_BODY_NAMES
from isaacgymenvs.utils import rotations as rot

DT = 1 / 30
YAW_90 = [0.0, 0.0, math.sin(math.pi / 4), math.cos(math.pi / 4)]  # 90 degrees about z: x axis -> y axis


def _line(velocity: tuple[float, float], rotation: list[float], frames: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """A root moving at a constant ground-plane ``velocity`` (m/s) with a fixed ``rotation``, 0.9 m up."""
    t = DT * np.arange(frames)
    positions = np.stack([velocity[0] * t, velocity[1] * t, np.full(frames, 0.9)], axis=-1)
    return positions, np.tile(rotation, (frames, 1))


@pytest.mark.parametrize(
    ("velocity", "rotation", "expected"),
    [
        ((2.0, 0.0), [0, 0, 0, 1], 2.0),  # facing +x, moving +x
        ((-2.0, 0.0), [0, 0, 0, 1], -2.0),  # backwards
        ((0.0, 1.5), [0, 0, 0, 1], 0.0),  # sideways
        ((0.0, 1.5), YAW_90, 1.5),  # turned to face +y, moving +y
        ((1.5, 0.0), YAW_90, 0.0),  # turned, moving sideways
        ((1.0, 0.0), [0, math.sin(math.pi / 4), 0, math.cos(math.pi / 4)], 0.0),  # x axis straight down: no heading
    ],
)
def test_forward_speed_of_a_straight_line(velocity: tuple, rotation: list, expected: float) -> None:
    positions, rotations = _line(velocity, rotation)
    np.testing.assert_allclose(metrics.forward_speeds(positions, rotations, DT), expected, atol=1e-9)


def test_forward_speed_heading_is_the_rotated_x_axis() -> None:
    rotations = torch.randn(50, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    rotations = rotations / rotations.norm(dim=-1, keepdim=True)
    velocity = np.random.default_rng(0).normal(size=(50, 2))
    positions = np.concatenate([np.cumsum(velocity * DT, axis=0), np.zeros((50, 1))], axis=-1)
    x_axis = rot.quat_rotate(rotations, torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64).expand(50, 3)).numpy()
    heading = x_axis[:, :2] / np.linalg.norm(x_axis[:, :2], axis=-1, keepdims=True)
    expected = (np.gradient(positions[:, :2], DT, axis=0) * heading).sum(-1)
    np.testing.assert_allclose(metrics.forward_speeds(positions, rotations.numpy(), DT), expected, atol=1e-9)


def _steps(pattern: list[tuple[int, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """A right foot from ``(frames, x (m) at the end of the stretch, height (m))`` stretches (x moves linearly over a
    stretch), and a left foot planted at the origin throughout."""
    xs, heights, x = [], [], 0.0
    for frames, end, height in pattern:
        xs += list(np.linspace(x, end, frames + 1)[1:])
        heights += [height] * frames
        x = end
    frames = len(xs)
    right = np.stack([xs, np.zeros(frames), np.zeros(frames)], axis=-1)
    positions = np.stack([right, np.zeros((frames, 3))], axis=1)
    return positions, np.stack([heights, np.zeros(frames)], axis=-1)


def test_stride_of_a_hand_made_swing() -> None:
    # Planted at 0 for 10 frames, a 10-frame swing 0.3 m up to x = 1.2, planted there for 10 frames: one stride of
    # 1.2 m (from the last planted frame before the swing to the first after it, both at rest).
    positions, heights = _steps([(10, 0.0, 0.0), (10, 1.2, 0.3), (10, 1.2, 0.0)])
    assert metrics.stride_lengths(positions, heights, DT) == pytest.approx([1.2])


def test_flickers_and_cut_swings_are_not_strides() -> None:
    # A 2-frame lift (under 0.1 s) is a flicker; a swing already under way at the start, or still under way at the
    # end, is not a complete stride.
    flicker, heights = _steps([(10, 0.0, 0.0), (2, 0.0, 0.3), (10, 0.0, 0.0)])
    assert metrics.stride_lengths(flicker, heights, DT) == []
    cut, heights = _steps([(10, 0.9, 0.3), (10, 0.9, 0.0), (10, 1.8, 0.3)])
    assert metrics.stride_lengths(cut, heights, DT) == []
    assert metrics.stride_lengths(cut[:1], heights[:1], DT) == []


@pytest.mark.parametrize("name", ["humanoid3d_walk", "humanoid3d_run", "humanoid3d_dance_a"])
def test_gait_figures_agree_with_motion_info(name: str) -> None:
    clip = load_builtin_clip(name)
    motion = repeat_loop(clip)
    heights = foot_heights(motion)
    feet = motion.skeleton.indices(list(AMP_FOOT_BODY_NAMES))
    strides = metrics.stride_lengths(motion.global_translation[:, feet].numpy(), heights.numpy(), 1 / motion.fps)
    assert strides == pytest.approx(stride_lengths(motion, heights))
    if name != "humanoid3d_dance_a":  # the dance moves sideways: no forward speed, but a horizontal one
        speed = metrics.forward_speeds(
            clip.root_translation.numpy(), clip.global_rotation[:, 0].numpy(), 1 / clip.fps
        ).mean()
        assert speed == pytest.approx(summarize_motion(clip).mean_horizontal_speed, rel=0.03)


@pytest.fixture(scope="module")
def task() -> object:
    from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP

    return HumanoidAMP(
        {"env": {"numEnvs": 4, "motion_file": "humanoid3d_walk"}, "sim": {}}, rl_device="cpu", sim_device="cpu"
    )


@pytest.mark.sim
def test_clip_gait_is_motion_info_figures(task: object) -> None:
    figures = ev.clip_gait(task)
    summary = summarize_motion(load_builtin_clip("humanoid3d_walk"))
    assert figures["stride_length_m"] == pytest.approx(summary.stride_length, rel=1e-4)  # float32 positions
    assert figures["forward_speed_mps"] == pytest.approx(0.974, abs=0.002)  # motion info: 0.99 mean horizontal


@pytest.mark.sim
def test_whole_rounds_keep_each_environments_first_episode(task: object) -> None:
    def zero(obs: torch.Tensor) -> torch.Tensor:
        return torch.zeros(obs.shape[0], task.num_actions)

    torch.manual_seed(3)
    task.reset_buf[:] = 1
    starts = task.reset_done()[0]["obs"].numpy().copy()  # the reset states a rollout from this seed starts with
    torch.manual_seed(3)
    rounds = ev.rollout(task, zero, 6, whole_rounds=True)
    assert len(rounds) == 6
    # Round one: environments 0..3 in order, each its first episode from the reset state; round two starts afresh.
    for env in range(4):
        np.testing.assert_array_equal(rounds[env].features[0], starts[env])
    assert not any(np.array_equal(rounds[4].features[0], start) for start in starts)
    torch.manual_seed(3)
    first_to_end = ev.rollout(task, zero, 40)
    for episode in rounds[:4]:  # the same episodes, step by step, as the first-to-end rule records them
        assert any(np.array_equal(episode.features, other.features) for other in first_to_end)
    # The first-to-end rule keeps whichever end first: a fast faller's second and third episodes come before a
    # slower environment's first, so its 4 episodes are never longer in total than one round's.
    torch.manual_seed(3)
    early = ev.rollout(task, zero, 4)
    assert sum(e.length for e in early) <= sum(e.length for e in rounds[:4])
    for episode in rounds:
        assert episode.root.shape == (episode.length, 7)
        assert episode.fell or episode.length - 1 == task.max_episode_length - 1
    assert math.isfinite(ev.gait(rounds)["forward_speed_mps"])
