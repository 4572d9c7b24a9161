"""Plain figures about a motion clip: speed, heights, foot contact and clearance, steps, smoothness.

Used by ``python -m isaacgymenvs.motion info`` and to check the built-in clips' conversion against the original's clips.
The feet are the AMP humanoid's boxes (half-sizes 0.0885 x 0.045 x 0.0275 m, centred 0.045 m forward and 0.0225 m below
the ankle); a foot's height is the lowest of its box's corners.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from isaacgymenvs.motion.motion import Motion
from isaacgymenvs.motion.skeleton import AMP_FOOT_BODY_NAMES, AMP_KEY_BODY_NAMES
from isaacgymenvs.utils import rotations as rot

FOOT_BOX_CENTER = (0.045, 0.0, -0.0225)  # m, foot frame
FOOT_BOX_HALF_SIZE = (0.0885, 0.045, 0.0275)  # m
# A foot is planted when it moves slower than CONTACT_SPEED (m/s, ground plane) and its lowest corner is within
# CONTACT_HEIGHT (m) of the clip's ground level: the 5th percentile of the lower foot's height over the frames (robust
# to the few frames where retargeted clips push a toe through the floor).
CONTACT_SPEED = 0.6
CONTACT_HEIGHT = 0.10
GROUND_PERCENTILE = 5.0
# A swing shorter than this (s) is a flicker of the contact test, not a stride.
MIN_SWING = 0.1


@dataclass(frozen=True)
class MotionSummary:
    """Figures of one clip (SI units)."""

    frames: int
    fps: float
    duration: float
    loop: bool
    root_height_min: float
    root_height_max: float
    mean_horizontal_speed: float  # mean of the per-frame root speed in the ground plane (m/s)
    net_speed: float  # start-to-end root displacement in the ground plane / duration (m/s)
    ground_level: float  # 5th percentile of the lower foot's height (m); ~0 means the feet stand on the ground
    lowest_foot_height: float  # lowest foot-box corner over the clip (m); below 0 is penetration
    foot_clearance: float  # highest lift of either foot above the ground level (m)
    stride_length: float  # median ground distance a foot travels per swing (m, two steps); nan without a full swing
    strides: int  # complete swings measured (over three repetitions of a looping clip)
    max_key_body_speed: float  # m/s, hands and feet
    max_key_body_acceleration: float  # m/s^2, hands and feet

    def as_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)


def foot_heights(motion: Motion) -> torch.Tensor:
    """Height (m) of the lowest corner of each foot box, ``[F, 2]`` (right, left)."""
    feet = motion.skeleton.indices(list(AMP_FOOT_BODY_NAMES))
    signs = torch.tensor([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=torch.float64)
    corners = torch.tensor(FOOT_BOX_CENTER, dtype=torch.float64) + signs * torch.tensor(
        FOOT_BOX_HALF_SIZE, dtype=torch.float64
    )
    rotation = motion.global_rotation[:, feet].unsqueeze(-2).expand(-1, -1, 8, -1)  # [F, 2, 8, 4]
    world = rot.quat_rotate(rotation, corners.expand_as(rotation[..., :3])) + motion.global_translation[:, feet, None]
    return world[..., 2].min(dim=-1).values


def ground_level(heights: torch.Tensor) -> float:
    """The clip's ground level (m) from per-frame foot heights ``[F, 2]``."""
    return float(np.percentile(heights.min(dim=-1).values.numpy(), GROUND_PERCENTILE))


def planted_feet(motion: Motion, heights: torch.Tensor) -> np.ndarray:
    """``[F, 2]`` bool: each foot slow and low (:data:`CONTACT_SPEED`, :data:`CONTACT_HEIGHT`)."""
    feet = motion.skeleton.indices(list(AMP_FOOT_BODY_NAMES))
    positions = motion.global_translation[:, feet, :2].numpy()
    speed = np.linalg.norm(np.gradient(positions, axis=0), axis=-1) * motion.fps
    return ((heights - ground_level(heights)).numpy() < CONTACT_HEIGHT) & (speed < CONTACT_SPEED)


def stride_lengths(motion: Motion, heights: torch.Tensor) -> list[float]:
    """Ground distance (m) each foot travels in each swing that starts and ends inside the clip (lift-off to
    touch-down): one stride, i.e. two steps of a symmetric gait."""
    feet = motion.skeleton.indices(list(AMP_FOOT_BODY_NAMES))
    positions = motion.global_translation[:, feet, :2].numpy()
    planted = planted_feet(motion, heights)
    strides = []
    for foot in range(len(feet)):  # two feet
        swinging = np.concatenate([[False], ~planted[:, foot], [False]])
        starts = np.flatnonzero(~swinging[:-1] & swinging[1:])
        ends = np.flatnonzero(swinging[:-1] & ~swinging[1:])
        for start, end in zip(starts, ends, strict=True):
            if start > 0 and end < motion.num_frames and end - start >= MIN_SWING * motion.fps:
                strides.append(float(np.linalg.norm(positions[end, foot] - positions[start - 1, foot])))
    return strides


def repeat_loop(motion: Motion, copies: int = 3) -> Motion:
    """A looping clip played ``copies`` times in a row, each repetition shifted by the clip's ground displacement (its
    last frame is the next repetition's first)."""
    shift = motion.root_translation[-1] - motion.root_translation[0]
    shift[2] = 0.0
    local = [motion.local_rotation] + [motion.local_rotation[1:]] * (copies - 1)
    root = [motion.root_translation] + [motion.root_translation[1:] + k * shift for k in range(1, copies)]
    return replace(
        motion,
        local_rotation=torch.cat(local),
        root_translation=torch.cat(root),
        global_velocity=None,
        global_angular_velocity=None,
    )


def summarize_motion(motion: Motion) -> MotionSummary:
    """Figures of ``motion`` (an AMP humanoid clip)."""
    root = motion.root_translation
    horizontal_velocity = np.gradient(root[:, :2].numpy(), axis=0) * motion.fps
    heights = foot_heights(motion)
    repeated = repeat_loop(motion) if motion.loop else motion
    strides = stride_lengths(repeated, foot_heights(repeated))
    keys = motion.skeleton.indices(list(AMP_KEY_BODY_NAMES))
    key_positions = motion.global_translation[:, keys].numpy()
    key_velocity = np.gradient(key_positions, axis=0) * motion.fps
    key_acceleration = np.gradient(key_velocity, axis=0) * motion.fps
    return MotionSummary(
        frames=motion.num_frames,
        fps=motion.fps,
        duration=motion.duration,
        loop=motion.loop,
        root_height_min=float(root[:, 2].min()),
        root_height_max=float(root[:, 2].max()),
        mean_horizontal_speed=float(np.linalg.norm(horizontal_velocity, axis=-1).mean()),
        net_speed=float((root[-1, :2] - root[0, :2]).norm() / motion.duration),
        ground_level=ground_level(heights),
        lowest_foot_height=float(heights.min()),
        foot_clearance=float(heights.max()) - ground_level(heights),
        stride_length=float(np.median(strides)) if strides else float("nan"),
        strides=len(strides),
        max_key_body_speed=float(np.linalg.norm(key_velocity, axis=-1).max()),
        max_key_body_acceleration=float(np.linalg.norm(key_acceleration, axis=-1).max()),
    )
