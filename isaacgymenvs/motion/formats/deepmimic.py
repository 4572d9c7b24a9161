"""DeepMimic ``.txt`` motion clips, converted on load to the AMP humanoid.

A DeepMimic clip is JSON with ``Loop`` (``"wrap"`` or ``"none"``) and ``Frames``. Each frame holds 44 numbers: the
frame's duration (s), the root position (3, y up), the root rotation (w, x, y, z), then chest, neck, right hip
(quaternions), right knee (an angle), right ankle, right shoulder (quaternions), right elbow (an angle), left hip, left
knee, left ankle, left shoulder, left elbow. Rotations are local to the parent; knee and elbow angles are about the
joint's z axis. DeepMimic's humanoid is the AMP humanoid's skeleton (``../shared/spec/deepmimic_clips.md``).

Conversion to the AMP humanoid (z up, right side at -y): positions map as (x, y, z) -> (x, -z, y), i.e. a +90 degree
rotation about x; every quaternion is conjugated by that rotation; a hinge about DeepMimic's +z becomes a hinge about
the AMP humanoid's -y, so knee and elbow angles change sign. The wrists are fixed (identity). Frames with unequal
durations are resampled to the clip's most common frame duration.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from isaacgymenvs.motion.io_utils import check_file_size, check_frame_count
from isaacgymenvs.motion.limits import MAX_FRAMES
from isaacgymenvs.motion.motion import Motion, MotionFileError, check_motion
from isaacgymenvs.motion.skeleton import AMP_HUMANOID
from isaacgymenvs.utils import rotations as rot

VALUES_PER_FRAME = 44
# DeepMimic joint order after the root: (AMP body, number of values); angles (1 value) are hinges.
_JOINTS = (
    ("torso", 4), ("head", 4),
    ("right_thigh", 4), ("right_shin", 1), ("right_foot", 4), ("right_upper_arm", 4), ("right_lower_arm", 1),
    ("left_thigh", 4), ("left_shin", 1), ("left_foot", 4), ("left_upper_arm", 4), ("left_lower_arm", 1),
)  # fmt: skip
# y-up -> z-up: +90 degrees about x.
_Y_UP_TO_Z_UP = torch.tensor([math.sqrt(0.5), 0.0, 0.0, math.sqrt(0.5)], dtype=torch.float64)


def _wxyz_to_z_up(wxyz: torch.Tensor) -> torch.Tensor:
    """DeepMimic (w, x, y, z) quaternions, y up -> project (x, y, z, w) quaternions, z up."""
    q = rot.quat_wxyz_to_xyzw(wxyz)
    frame = _Y_UP_TO_Z_UP.expand_as(q)
    return rot.quat_mul(rot.quat_mul(frame, q), rot.quat_conjugate(frame))


def read_deepmimic_txt(path: Path) -> Motion:
    """Read a DeepMimic humanoid clip and convert it to the AMP humanoid."""
    check_file_size(path)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MotionFileError(path, "file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MotionFileError(path, f"not a DeepMimic clip: invalid JSON ({str(error)[:200]})") from None
    except RecursionError:
        raise MotionFileError(path, "not a DeepMimic clip: JSON nested too deeply") from None
    if not isinstance(document, dict) or "Frames" not in document:
        raise MotionFileError(path, "not a DeepMimic clip: no 'Frames' list")
    try:
        frames = np.asarray(document["Frames"], dtype=np.float64)
    except (TypeError, ValueError, RecursionError):
        raise MotionFileError(path, "'Frames' must be a list of equal-length number lists") from None
    if frames.ndim != 2 or frames.shape[1] != VALUES_PER_FRAME:
        raise MotionFileError(
            path,
            f"skeleton is not the AMP humanoid: DeepMimic humanoid frames have "
            f"{VALUES_PER_FRAME} values, found shape {frames.shape}",
        )
    if frames.shape[0] < 2:
        raise MotionFileError(path, f"a motion needs at least 2 frames, found {frames.shape[0]}")
    check_frame_count(frames.shape[0], path)
    if not np.isfinite(frames).all():
        raise MotionFileError(path, "frames contain NaN or inf")
    durations = frames[:-1, 0]
    if (durations <= 0).any():
        raise MotionFileError(path, "every frame but the last needs a positive duration")
    data = torch.from_numpy(frames)
    root_position = data[:, 1:4]
    local = rot.quat_identity((data.shape[0], AMP_HUMANOID.num_bodies), dtype=torch.float64)
    local[:, 0] = _wxyz_to_z_up(data[:, 4:8])
    column = 8
    for body, size in _JOINTS:  # a loop over joints
        index = AMP_HUMANOID.index(body)
        if size == 4:
            local[:, index] = _wxyz_to_z_up(data[:, column : column + 4])
        else:
            y_axis = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64).expand(data.shape[0], 3)
            local[:, index] = rot.quat_from_angle_axis(-data[:, column], y_axis)
        column += size
    root_translation = torch.stack([root_position[:, 0], -root_position[:, 2], root_position[:, 1]], dim=-1)
    local = rot.quat_positive(rot.quat_normalize(local))
    frame_time = float(np.median(durations))
    if np.abs(durations - frame_time).max() > 1e-4:
        times = torch.from_numpy(np.concatenate([[0.0], np.cumsum(durations)]))
        # Resampling to the most common duration must not make a clip longer than any clip may be.
        resampled = float(times[-1]) / frame_time + 1
        if not resampled <= MAX_FRAMES:
            raise MotionFileError(
                path,
                f"frame durations from {durations.min():g} to {durations.max():g} s resample to {resampled:.3g} "
                f"frames of {frame_time:g} s, more than the {MAX_FRAMES} a clip may have (docs/limits.md)",
            )
        local, root_translation = _resample(local, root_translation, times, frame_time)
    fps = 1.0 / frame_time
    if abs(fps - round(fps)) < 1e-3 * fps:  # durations are stored rounded (0.016666, 0.033332)
        fps = float(round(fps))
    motion = Motion(
        skeleton=AMP_HUMANOID,
        local_rotation=local,
        root_translation=root_translation,
        fps=fps,
        loop=document.get("Loop") == "wrap",
        name=Path(path).name,
    )
    return check_motion(motion, path)


def _resample(
    local: torch.Tensor, root: torch.Tensor, times: torch.Tensor, frame_time: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resample frames given at ``times`` ``[F]`` to a uniform grid of ``frame_time`` (slerp and lerp)."""
    grid = torch.arange(0.0, float(times[-1]) + 1e-9, frame_time, dtype=torch.float64)
    upper = torch.searchsorted(times, grid, right=True).clamp(1, len(times) - 1)
    lower = upper - 1
    blend = ((grid - times[lower]) / (times[upper] - times[lower])).clamp(0.0, 1.0)
    new_local = rot.slerp(local[lower], local[upper], blend[:, None, None])
    new_root = root[lower] + (root[upper] - root[lower]) * blend[:, None]
    return new_local, new_root
