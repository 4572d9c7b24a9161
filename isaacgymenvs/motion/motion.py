"""The in-memory motion clip every file format reads into and writes from, and its checks.

A :class:`Motion` is what poselib calls a ``SkeletonMotion``: per-frame local joint rotations and the root's world
position on a :class:`~isaacgymenvs.motion.skeleton.SkeletonTree`, sampled at a fixed frame rate, plus (optionally) the
world linear and angular velocity of every body. Missing velocities are computed the way poselib computed the ones
stored in the original clips: finite differences smoothed by a Gaussian filter (sigma 2 frames).

Tensors are float64 on the CPU; the motion library converts to float32 on its device once, at load time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from isaacgymenvs.motion.limits import MAX_FPS, MAX_FRAMES
from isaacgymenvs.motion.skeleton import AMP_HUMANOID, SkeletonTree, forward_kinematics, skeleton_mismatch
from isaacgymenvs.utils import rotations as rot

# poselib smoothed its finite-difference velocities with this Gaussian (frames).
VELOCITY_FILTER_SIGMA = 2.0


class MotionFileError(ValueError):
    """A motion file (or motion list) that cannot be used; the message names the file and the problem in one line."""

    def __init__(self, source: str | Path, problem: str) -> None:
        self.source = str(source)
        self.problem = problem
        # A name with a line break or other control character is quoted, and any such character the problem quotes
        # from the file is escaped, so that the message stays one line.
        shown = self.source if self.source.isprintable() else repr(self.source)
        if not problem.isprintable():
            problem = "".join(c if c.isprintable() else repr(c)[1:-1] for c in problem)
        super().__init__(f"{shown}: {problem}")


@dataclass(eq=False)
class Motion:
    """One motion clip.

    Attributes:
        skeleton: the body tree (J bodies).
        local_rotation: ``[F, J, 4]`` local rotations (xyzw); the root's entry is its world rotation.
        root_translation: ``[F, 3]`` world position of the root body's origin (m, z up).
        fps: frames per second.
        global_velocity: ``[F, J, 3]`` world linear velocity of each body origin (m/s), or None to compute it.
        global_angular_velocity: ``[F, J, 3]`` world angular velocity of each body (rad/s), or None to compute it.
        loop: whether the source marks the clip as cyclic (informational; the motion library clamps time as the
            original did).
        name: a label for messages (usually the file name).
    """

    skeleton: SkeletonTree
    local_rotation: torch.Tensor
    root_translation: torch.Tensor
    fps: float
    global_velocity: torch.Tensor | None = None
    global_angular_velocity: torch.Tensor | None = None
    loop: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        def as_float64(value: torch.Tensor | np.ndarray | None) -> torch.Tensor | None:
            return None if value is None else torch.as_tensor(np.asarray(value), dtype=torch.float64).clone()

        self.local_rotation = as_float64(self.local_rotation)
        self.root_translation = as_float64(self.root_translation)
        self.global_velocity = as_float64(self.global_velocity)
        self.global_angular_velocity = as_float64(self.global_angular_velocity)
        self.fps = float(self.fps)

    @property
    def num_frames(self) -> int:
        return int(self.local_rotation.shape[0])

    @property
    def duration(self) -> float:
        """Length in seconds, ``(num_frames - 1) / fps`` as the original motion library defines it."""
        return (self.num_frames - 1) / self.fps

    @cached_property
    def _global_state(self) -> tuple[torch.Tensor, torch.Tensor]:
        return forward_kinematics(self.local_rotation, self.root_translation, self.skeleton)

    @property
    def global_rotation(self) -> torch.Tensor:
        """``[F, J, 4]`` world rotation of every body."""
        return self._global_state[0]

    @property
    def global_translation(self) -> torch.Tensor:
        """``[F, J, 3]`` world position of every body origin (m)."""
        return self._global_state[1]

    def with_velocities(self) -> Motion:
        """This motion with both velocity fields filled (computed as poselib did where missing)."""
        if self.global_velocity is not None and self.global_angular_velocity is not None:
            return self
        return replace(
            self,
            global_velocity=self.global_velocity
            if self.global_velocity is not None
            else compute_global_velocity(self.global_translation, self.fps),
            global_angular_velocity=self.global_angular_velocity
            if self.global_angular_velocity is not None
            else compute_global_angular_velocity(self.global_rotation, self.fps),
        )

    def root_speed(self) -> float:
        """Mean horizontal speed of the root over the clip (m/s), from its start and end positions."""
        if self.num_frames < 2:
            return 0.0
        displacement = self.root_translation[-1, :2] - self.root_translation[0, :2]
        return float(displacement.norm() / self.duration)


def compute_global_velocity(global_translation: torch.Tensor, fps: float) -> torch.Tensor:
    """World linear velocities ``[F, J, 3]`` (m/s) from positions ``[F, J, 3]``: central differences, then a
    Gaussian filter of sigma 2 frames (``mode="nearest"``), as poselib computed the stored ones."""
    gradient = np.gradient(global_translation.numpy(), axis=0)
    smoothed = gaussian_filter1d(gradient, VELOCITY_FILTER_SIGMA, axis=0, mode="nearest")
    return torch.from_numpy(smoothed * fps)


def compute_global_angular_velocity(global_rotation: torch.Tensor, fps: float) -> torch.Tensor:
    """World angular velocities ``[F, J, 3]`` (rad/s) from rotations ``[F, J, 4]``: the forward increment
    ``R[f+1] ⊗ R[f]^-1`` as a rotation vector per frame (zero for the last frame), then the same Gaussian filter."""
    increment = rot.quat_mul_norm(global_rotation[1:], rot.quat_conjugate(global_rotation[:-1]))
    rotvec = torch.cat([rot.quat_to_exp_map(increment), torch.zeros_like(global_rotation[:1, :, :3])], dim=0)
    smoothed = gaussian_filter1d(rotvec.numpy() * fps, VELOCITY_FILTER_SIGMA, axis=0, mode="nearest")
    return torch.from_numpy(smoothed)


def check_motion(motion: Motion, source: str | Path, *, skeleton: SkeletonTree | None = AMP_HUMANOID) -> Motion:
    """Raise :class:`MotionFileError` if ``motion`` is unusable; else normalise its rotations (w >= 0) and return it.

    Checks shapes, 2 to :data:`~isaacgymenvs.motion.limits.MAX_FRAMES` frames, a positive frame rate up to
    :data:`~isaacgymenvs.motion.limits.MAX_FPS`, finite values, non-degenerate quaternions and
    (unless ``skeleton`` is None) that the skeleton is ``skeleton`` (names, tree and offsets within 1 mm).
    """
    num_bodies = motion.skeleton.num_bodies
    if motion.local_rotation.ndim != 3 or motion.local_rotation.shape[1:] != (num_bodies, 4):
        raise MotionFileError(
            source, f"rotations have shape {tuple(motion.local_rotation.shape)}, expected (frames, {num_bodies}, 4)"
        )
    frames = motion.num_frames
    if motion.root_translation.shape != (frames, 3):
        raise MotionFileError(
            source, f"root translation has shape {tuple(motion.root_translation.shape)}, expected ({frames}, 3)"
        )
    for label, value in (
        ("global velocity", motion.global_velocity),
        ("global angular velocity", motion.global_angular_velocity),
    ):
        if value is not None and value.shape != (frames, num_bodies, 3):
            raise MotionFileError(
                source, f"{label} has shape {tuple(value.shape)}, expected ({frames}, {num_bodies}, 3)"
            )
    if frames < 2:
        raise MotionFileError(source, f"a motion needs at least 2 frames, found {frames}")
    if frames > MAX_FRAMES:
        raise MotionFileError(source, f"{frames} frames, more than the {MAX_FRAMES} a clip may have (docs/limits.md)")
    if not np.isfinite(motion.fps) or motion.fps <= 0 or motion.fps > MAX_FPS:
        raise MotionFileError(source, f"frame rate must be a positive number up to {MAX_FPS:g}, found {motion.fps}")
    for label, value in (
        ("rotations", motion.local_rotation),
        ("root translation", motion.root_translation),
        ("global velocity", motion.global_velocity),
        ("global angular velocity", motion.global_angular_velocity),
    ):
        if value is not None and not torch.isfinite(value).all():
            bad_frame = int((~torch.isfinite(value)).reshape(frames, -1).any(-1).nonzero()[0, 0])
            raise MotionFileError(source, f"{label} contain NaN or inf (first at frame {bad_frame})")
    norms = motion.local_rotation.norm(dim=-1)
    if (norms < 0.5).any() or (norms > 2.0).any():
        raise MotionFileError(
            source,
            f"rotations are not unit quaternions (norms from {float(norms.min()):.3g} to {float(norms.max()):.3g})",
        )
    motion.local_rotation = rot.quat_positive(rot.quat_normalize(motion.local_rotation))
    if skeleton is not None:
        problem = skeleton_mismatch(motion.skeleton, skeleton)
        if problem is not None:
            raise MotionFileError(source, f"skeleton is not the AMP humanoid: {problem}")
    return motion
