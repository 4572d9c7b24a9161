"""Objective motion-quality metrics, as pure functions of arrays (numpy, float64).

* :func:`subsequence_dtw`: dynamic time warping of a query sequence against any stretch of a reference sequence
  (free start and end in the reference), so a motion that starts at another phase of a cyclic clip is not penalised.
* :func:`frechet_distance`: between Gaussians fitted to two sets of feature vectors (the FID formula, no learned
  encoder: the features are the 105-number AMP observations).
* :func:`classifier_accuracy`: held-out accuracy of a freshly trained two-sample classifier (a small MLP); 0.5 means
  the two sets cannot be told apart.
* :func:`normalized_jerk`: dimensionless jerk of trajectories (Hogan and Sternad 2009): ``sqrt(0.5 * integral
  |jerk|^2 dt * T^5 / L^2)`` with T the duration and L the path length; lower is smoother. Computed over windows of
  one duration (:func:`windowed_normalized_jerk`) so that episodes of different lengths compare.
* :func:`foot_skate`: mean horizontal speed of feet while they touch the ground (of the slowest touching point).
* :func:`forward_speeds` and :func:`stride_lengths`: the gait's forward speed along the root's heading and the ground
  distance a foot covers per swing, by the rules ``python -m isaacgymenvs.motion info`` applies to clips, so that a
  policy's gait and a clip's compare.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import linalg

from isaacgymenvs.motion.analysis import CONTACT_HEIGHT, CONTACT_SPEED, GROUND_PERCENTILE, MIN_SWING


def subsequence_dtw(query: np.ndarray, reference: np.ndarray) -> tuple[float, np.ndarray]:
    """Align ``query`` ``[Q, F]`` to the best-matching stretch of ``reference`` ``[R, F]``.

    Local cost: Euclidean distance between frames. Steps (1, 0), (0, 1) and (1, 1); the alignment starts at any
    reference frame and ends at any reference frame.

    Returns:
        the mean local cost along the alignment, and the alignment ``[L, 2]`` of (query index, reference index).
    """
    query = np.asarray(query, dtype=np.float64).reshape(len(query), -1)
    reference = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    cost = np.sqrt(((query[:, None, :] - reference[None, :, :]) ** 2).sum(-1))  # [Q, R]
    rows, cols = cost.shape
    total = np.full((rows, cols), np.inf)
    length = np.zeros((rows, cols), dtype=np.int64)
    total[0] = cost[0]  # free start anywhere in the reference
    length[0] = 1
    for i in range(1, rows):  # a loop over query frames; each row is vectorised
        # Diagonal and vertical predecessors are known; horizontal ones are resolved with a cumulative scan below.
        diagonal = np.concatenate([[np.inf], total[i - 1, :-1]])
        vertical = total[i - 1]
        best = np.minimum(diagonal, vertical)
        best_length = np.where(diagonal <= vertical, np.concatenate([[0], length[i - 1, :-1]]), length[i - 1])
        row, row_length = best + cost[i], best_length + 1
        for j in range(1, cols):  # horizontal moves: a short scan over the reference
            candidate = row[j - 1] + cost[i, j]
            if candidate < row[j]:
                row[j], row_length[j] = candidate, row_length[j - 1] + 1
        total[i], length[i] = row, row_length
    end = int(np.argmin(total[-1] / length[-1]))
    path = _backtrack(total, cost, end)
    return float(cost[path[:, 0], path[:, 1]].mean()), path


def _backtrack(total: np.ndarray, cost: np.ndarray, end: int) -> np.ndarray:
    i, j = total.shape[0] - 1, end
    path = [(i, j)]
    while i > 0:
        options = [(total[i - 1, j - 1], i - 1, j - 1)] if j > 0 else []
        options.append((total[i - 1, j], i - 1, j))
        if j > 0:
            options.append((total[i, j - 1], i, j - 1))
        _, i, j = min(options)
        path.append((i, j))
    return np.array(path[::-1])


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray, epsilon: float = 1e-6) -> float:
    """Fréchet distance between Gaussians fitted to ``features_a`` ``[Na, F]`` and ``features_b`` ``[Nb, F]``:
    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``. ``epsilon`` on the diagonals keeps it defined when a
    feature is constant."""
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a = np.cov(a, rowvar=False) + epsilon * np.eye(a.shape[1])
    cov_b = np.cov(b, rowvar=False) + epsilon * np.eye(b.shape[1])
    root = linalg.sqrtm(cov_a @ cov_b)
    if np.iscomplexobj(root):
        root = root.real
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * root))


def classifier_accuracy(
    features_a: np.ndarray, features_b: np.ndarray, seed: int = 0, epochs: int = 300, test_fraction: float = 0.3
) -> float:
    """Held-out accuracy of a small MLP trained to tell ``features_a`` from ``features_b`` (balanced by subsampling
    the larger set; inputs standardised on the training split)."""
    generator = np.random.default_rng(seed)
    count = min(len(features_a), len(features_b))
    a = np.asarray(features_a, dtype=np.float32)[generator.permutation(len(features_a))[:count]]
    b = np.asarray(features_b, dtype=np.float32)[generator.permutation(len(features_b))[:count]]
    inputs = np.concatenate([a, b])
    labels = np.concatenate([np.zeros(count), np.ones(count)]).astype(np.float32)
    order = generator.permutation(len(inputs))
    split = int(len(inputs) * (1.0 - test_fraction))
    train, test = order[:split], order[split:]
    mean, std = inputs[train].mean(0), inputs[train].std(0) + 1e-6
    x = torch.from_numpy((inputs - mean) / std)
    y = torch.from_numpy(labels)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    train_x, train_y = x[train], y[train]
    for _ in range(epochs):  # full-batch training: a few thousand frames at most
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(train_x).squeeze(-1), train_y)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        predictions = (model(x[test]).squeeze(-1) > 0).float()
    return float((predictions == y[test]).float().mean())


def normalized_jerk(positions: np.ndarray, dt: float) -> float:
    """Dimensionless jerk of a trajectory ``[T, 3]`` sampled every ``dt`` s (needs T >= 4; nan if it does not move).

    It grows with the duration for a repeating movement (the jerk integral grows like T while the path length does
    too, times T^5), so compare trajectories of one duration: see :func:`windowed_normalized_jerk`."""
    positions = np.asarray(positions, dtype=np.float64)
    if len(positions) < 4:
        return float("nan")
    jerk = np.diff(positions, n=3, axis=0) / dt**3
    duration = (len(positions) - 1) * dt
    path_length = np.linalg.norm(np.diff(positions, axis=0), axis=-1).sum()
    if path_length < 1e-9:
        return float("nan")
    integral = (np.sum(jerk**2, axis=-1) * dt).sum()
    return float(np.sqrt(0.5 * integral * duration**5 / path_length**2))


def windowed_normalized_jerk(positions: np.ndarray, dt: float, window: float = 0.5) -> list[float]:
    """:func:`normalized_jerk` of each non-overlapping stretch of ``window`` seconds of ``positions`` ``[T, 3]`` (a
    shorter tail is dropped; stretches that do not move are left out)."""
    frames = max(4, round(window / dt) + 1)
    values = [
        normalized_jerk(positions[start : start + frames], dt)
        for start in range(0, len(positions) - frames + 1, frames - 1)
    ]
    return [value for value in values if np.isfinite(value)]


def foot_skate(foot_corners: np.ndarray, dt: float, contact_height: float = 0.02) -> float:
    """Mean horizontal speed (m/s) of the feet over the frames they touch the ground.

    A foot touches the ground over a frame step when any corner of its box stays within ``contact_height`` of the
    ground (z = 0) at both ends; its speed is that of its slowest such corner -- a foot rolling over its heel or toe
    pivots about that point, which does not slide. Motion capture is not clean here either: a clip's foot often skims
    the floor within a few centimetres at the end of a swing, so the reference itself scores above zero.

    Args:
        foot_corners: ``[T, feet, corners, 3]`` world positions of each foot box's corners.
        dt: seconds per frame.
        contact_height: m.
    """
    corners = np.asarray(foot_corners, dtype=np.float64)
    if len(corners) < 2:
        return float("nan")
    speed = np.linalg.norm(np.diff(corners[..., :2], axis=0), axis=-1) / dt  # [T-1, feet, corners]
    low = corners[..., 2] < contact_height
    touching = low[1:] & low[:-1]
    contact = touching.any(axis=-1)  # [T-1, feet]
    if not contact.any():
        return float("nan")
    slowest = np.where(touching, speed, np.inf).min(axis=-1)
    return float(slowest[contact].mean())


def forward_speeds(root_positions: np.ndarray, root_rotations: np.ndarray, dt: float) -> np.ndarray:
    """Per-frame speed (m/s) of the root along its heading: the ground-plane velocity (central differences) projected
    on the ground-plane direction of the root's x axis, the humanoid's forward. Negative when moving backwards; 0 on
    frames where the x axis points (nearly) straight up or down (no heading).

    Args:
        root_positions: ``[T, 3]`` world positions (m), T >= 2.
        root_rotations: ``[T, 4]`` world rotations, quaternions (x, y, z, w).
        dt: seconds per frame.

    Returns:
        ``[T]`` forward speeds.
    """
    positions = np.asarray(root_positions, dtype=np.float64)
    x, y, z, w = np.moveaxis(np.asarray(root_rotations, dtype=np.float64), -1, 0)
    # The first column of the rotation matrix, ground-plane part.
    heading = np.stack([1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + w * z)], axis=-1)
    norm = np.linalg.norm(heading, axis=-1, keepdims=True)
    heading = np.where(norm > 1e-6, heading / np.maximum(norm, 1e-6), 0.0)
    velocity = np.gradient(positions[:, :2], dt, axis=0)
    return (velocity * heading).sum(axis=-1)


def stride_lengths(foot_positions: np.ndarray, foot_heights: np.ndarray, dt: float) -> list[float]:
    """Ground distance (m) each foot travels in each swing (lift-off to touch-down) that starts and ends inside the
    sequence: one stride, i.e. two steps of a symmetric gait.

    The rules of :mod:`isaacgymenvs.motion.analysis` (``motion info``): a foot is planted while it moves slower than
    ``CONTACT_SPEED`` in the ground plane and its lowest point is within ``CONTACT_HEIGHT`` of the ground level (the
    ``GROUND_PERCENTILE``-th percentile of the lower foot's height); swings shorter than ``MIN_SWING`` are flickers of
    that test and are skipped; a stride runs from the last planted frame before a swing to the first after it.

    Args:
        foot_positions: ``[T, feet, 2 or 3]`` world positions of the feet (m).
        foot_heights: ``[T, feet]`` height of each foot's lowest point (m).
        dt: seconds per frame.
    """
    positions = np.asarray(foot_positions, dtype=np.float64)[..., :2]
    heights = np.asarray(foot_heights, dtype=np.float64)
    frames = len(positions)
    if frames < 2:
        return []
    ground = np.percentile(heights.min(axis=-1), GROUND_PERCENTILE)
    speed = np.linalg.norm(np.gradient(positions, dt, axis=0), axis=-1)
    planted = (heights - ground < CONTACT_HEIGHT) & (speed < CONTACT_SPEED)
    strides = []
    for foot in range(positions.shape[1]):
        swinging = np.concatenate([[False], ~planted[:, foot], [False]])
        starts = np.flatnonzero(~swinging[:-1] & swinging[1:])  # first swinging frame
        ends = np.flatnonzero(swinging[:-1] & ~swinging[1:])  # first planted frame after the swing
        for start, end in zip(starts, ends, strict=True):
            if start > 0 and end < frames and end - start >= MIN_SWING / dt:
                strides.append(float(np.linalg.norm(positions[end, foot] - positions[start - 1, foot])))
    return strides
