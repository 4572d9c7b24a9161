"""Motion-quality metrics against known answers: DTW of identical and phase-shifted motion, the Fréchet distance of
Gaussians in closed form, a two-sample classifier on one distribution and on two, the normalised jerk of a
minimum-jerk movement (sqrt(360)), foot skate of a sliding and of a pivoting foot."""

from __future__ import annotations

import math

import numpy as np
import pytest

from isaacgymenvs.eval import metrics


def _cyclic(frames: int, phase: float = 0.0, dt: float = 1 / 30) -> np.ndarray:
    """A smooth cyclic trajectory ``[frames, 3]`` (period 1 s) starting at ``phase`` (s)."""
    t = phase + dt * np.arange(frames)
    return np.stack([np.sin(2 * np.pi * t), np.cos(2 * np.pi * t), 0.5 * np.sin(4 * np.pi * t)], axis=-1)


def _loop_subsequence_dtw(query: np.ndarray, reference: np.ndarray) -> float:
    """The same recurrence as :func:`metrics.subsequence_dtw`, one cell at a time."""
    cost = np.linalg.norm(query[:, None] - reference[None], axis=-1)
    rows, cols = cost.shape
    total = np.full((rows, cols), np.inf)
    length = np.zeros((rows, cols), dtype=int)
    total[0], length[0] = cost[0], 1
    for i in range(1, rows):
        for j in range(cols):
            candidates = [(total[i - 1, j - 1], length[i - 1, j - 1])] if j > 0 else []
            candidates.append((total[i - 1, j], length[i - 1, j]))
            if j > 0:
                candidates.append((total[i, j - 1], length[i, j - 1]))
            best, best_length = min(candidates, key=lambda candidate: candidate[0])
            total[i, j], length[i, j] = best + cost[i, j], best_length + 1
    return float(np.min(total[-1] / length[-1]))


def test_dtw_of_identical_sequences_is_zero_along_the_diagonal() -> None:
    sequence = _cyclic(40)
    distance, path = metrics.subsequence_dtw(sequence, sequence)
    assert distance == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_array_equal(path, np.stack([np.arange(40), np.arange(40)], axis=-1))


def test_dtw_finds_a_phase_shifted_copy_inside_the_reference() -> None:
    reference = _cyclic(90)  # three periods
    query = _cyclic(30, phase=0.4)  # starts 12 frames in
    distance, path = metrics.subsequence_dtw(query, reference)
    assert distance == pytest.approx(0.0, abs=1e-9)
    assert path[0, 1] % 30 == 12


def test_dtw_of_a_slower_copy_is_small_and_of_another_motion_large() -> None:
    reference = _cyclic(90)
    slower = _cyclic(40, dt=1 / 45)  # the same path at two thirds of the speed
    # Its frames fall between the reference's: the error stays below a third of the distance between two frames.
    frame_step = np.linalg.norm(np.diff(reference, axis=0), axis=-1).mean()
    assert metrics.subsequence_dtw(slower, reference)[0] < frame_step / 3
    assert metrics.subsequence_dtw(slower + 1.0, reference)[0] > 0.9


def test_dtw_matches_the_cell_by_cell_recurrence() -> None:
    generator = np.random.default_rng(0)
    for _ in range(5):
        query, reference = generator.normal(size=(12, 3)), generator.normal(size=(17, 3))
        assert metrics.subsequence_dtw(query, reference)[0] == pytest.approx(_loop_subsequence_dtw(query, reference))


def test_frechet_distance_of_gaussians_in_closed_form() -> None:
    generator = np.random.default_rng(1)
    a = generator.normal(size=(20000, 4))
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-4)
    shift = np.array([1.0, -2.0, 0.0, 0.5])
    # Same covariance, shifted mean: |shift|^2. Scaled by 2 in one axis: (2 - 1)^2 more.
    b = generator.normal(size=(20000, 4)) + shift
    assert metrics.frechet_distance(a, b) == pytest.approx(float(shift @ shift), rel=0.03)
    c = generator.normal(size=(20000, 4)) * np.array([2.0, 1.0, 1.0, 1.0])
    assert metrics.frechet_distance(a, c) == pytest.approx(1.0, abs=0.06)


def test_classifier_accuracy_is_chance_on_one_distribution_and_high_on_two() -> None:
    generator = np.random.default_rng(2)
    a, b = generator.normal(size=(1000, 8)), generator.normal(size=(1000, 8))
    assert abs(metrics.classifier_accuracy(a, b) - 0.5) < 0.07
    c = generator.normal(size=(1000, 8)) + np.array([1.5] + [0.0] * 7)
    assert metrics.classifier_accuracy(a, c) > 0.7
    assert metrics.classifier_accuracy(a, a + 5.0) > 0.98


@pytest.mark.parametrize(("duration", "distance"), [(0.5, 0.1), (2.0, 3.0)])
def test_normalized_jerk_of_a_minimum_jerk_reach_is_sqrt_360(duration: float, distance: float) -> None:
    # x(t) = L (10 s^3 - 15 s^4 + 6 s^5), s = t / T: its jerk integral is 720 L^2 / T^5, so the measure is sqrt(360),
    # whatever the duration and distance.
    dt = duration / 2000
    s = np.linspace(0.0, 1.0, 2001)
    path = distance * (10 * s**3 - 15 * s**4 + 6 * s**5)
    positions = np.stack([path, 0.5 * path, np.zeros_like(path)], axis=-1) / math.hypot(1.0, 0.5)
    assert metrics.normalized_jerk(positions, dt) == pytest.approx(math.sqrt(360.0), rel=0.01)


def test_normalized_jerk_is_nan_for_a_still_or_too_short_trajectory() -> None:
    assert math.isnan(metrics.normalized_jerk(np.zeros((10, 3)), 0.1))
    assert math.isnan(metrics.normalized_jerk(np.ones((3, 3)), 0.1))


def test_windowed_jerk_does_not_grow_with_the_duration() -> None:
    dt = 1 / 30
    short, long = _cyclic(61, dt=dt), _cyclic(241, dt=dt)
    assert metrics.normalized_jerk(long, dt) > 10 * metrics.normalized_jerk(short, dt)
    windows_short = metrics.windowed_normalized_jerk(short, dt, window=0.5)
    windows_long = metrics.windowed_normalized_jerk(long, dt, window=0.5)
    assert len(windows_short) == 4 and len(windows_long) == 16
    assert np.median(windows_long) == pytest.approx(np.median(windows_short), rel=0.05)
    # A jittery copy is rougher.
    jitter = np.random.default_rng(3).normal(scale=0.01, size=long.shape)
    assert np.median(metrics.windowed_normalized_jerk(long + jitter, dt)) > 2 * np.median(windows_long)


def _foot_corners(origins: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """Corners ``[T, 1, 8, 3]`` of a 0.2 x 0.1 x 0.05 m box whose rear bottom edge sits at ``origins`` ``[T, 3]``,
    pitched toe-up by ``pitch`` ``[T]`` (rad) about that edge."""
    local = np.array([[x, y, z] for x in (0.0, 0.2) for y in (-0.05, 0.05) for z in (0.0, 0.05)])
    cos, sin = np.cos(pitch)[:, None], np.sin(pitch)[:, None]
    x = local[None, :, 0] * cos - local[None, :, 2] * sin
    z = local[None, :, 0] * sin + local[None, :, 2] * cos
    world = np.stack([x, np.broadcast_to(local[:, 1], x.shape), z], axis=-1) + origins[:, None]
    return world[:, None]


def test_foot_skate_of_a_sliding_a_pivoting_and_a_lifted_foot() -> None:
    dt, frames = 1 / 30, 30
    steps = np.arange(frames)
    sliding = _foot_corners(np.stack([0.5 * dt * steps, 0 * steps, 0 * steps], axis=-1).astype(float), 0 * steps)
    assert metrics.foot_skate(sliding, dt) == pytest.approx(0.5)
    # Rolling onto the heel: the toe rises and moves back, the heel edge stays put.
    pivoting = _foot_corners(np.zeros((frames, 3)), np.linspace(0.0, 0.6, frames))
    assert metrics.foot_skate(pivoting, dt) == pytest.approx(0.0, abs=1e-9)
    lifted = _foot_corners(np.tile([0.0, 0.0, 0.2], (frames, 1)), 0 * steps)
    assert math.isnan(metrics.foot_skate(lifted, dt))
