"""Isaac Lab's ``.npz`` motion format (``isaaclab_tasks/direct/humanoid_amp/motions``).

Fields: ``fps``, ``dof_names`` ``[D]``, ``body_names`` ``[B]``, ``dof_positions`` / ``dof_velocities`` ``[F, D]``,
``body_positions`` ``[F, B, 3]``, ``body_rotations`` ``[F, B, 4]`` (**w, x, y, z**, world frame),
``body_linear_velocities`` / ``body_angular_velocities`` ``[F, B, 3]`` (world frame).

Reading uses the body fields only (matched by name, extra bodies ignored): the root position, the global rotations
turned into local ones, and the body velocities. The DOF fields depend on how an exporter defined its joints, so they
are not trusted; the body positions are instead checked against the AMP humanoid's bone lengths.

Writing fills every field. ``dof_positions`` and ``dof_velocities`` use this project's DOF convention, the original
task's: 28 values named after the MJCF joints, where each 3-DOF group is the exponential map of the joint's local
rotation and each hinge its angle (``docs/motion_formats.md``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from isaacgymenvs.motion.io_utils import atomic_write
from isaacgymenvs.motion.motion import Motion, MotionFileError, check_motion
from isaacgymenvs.motion.skeleton import (
    AMP_HUMANOID,
    AMP_JOINT_LAYOUT,
    compute_dof_velocities,
    global_to_local_rotation,
    local_rotation_to_dof_pos,
)
from isaacgymenvs.utils import rotations as rot

REQUIRED_FIELDS = ("fps", "body_names", "body_positions", "body_rotations")
# A body's distance from its parent may differ from the AMP humanoid's bone length by this much (m).
BONE_LENGTH_TOLERANCE = 0.01


def read_isaaclab_npz(path: Path) -> Motion:
    """Read an Isaac Lab motion ``.npz`` of the AMP humanoid into a :class:`Motion`."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            fields = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise MotionFileError(path, "file not found") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as error:
        raise MotionFileError(path, f"not a readable .npz archive ({type(error).__name__}: {error})") from None
    missing = [name for name in REQUIRED_FIELDS if name not in fields]
    if missing:
        raise MotionFileError(path, f"missing Isaac Lab motion fields {missing} (found {sorted(fields)})")
    body_names = [str(name) for name in fields["body_names"].tolist()]
    absent = [name for name in AMP_HUMANOID.node_names if name not in body_names]
    if absent:
        raise MotionFileError(
            path,
            f"skeleton is not the AMP humanoid: bodies {absent} are missing "
            f"(file has {len(body_names)} bodies: {', '.join(body_names[:6])}, ...)",
        )
    order = [body_names.index(name) for name in AMP_HUMANOID.node_names]
    positions = _numeric(fields, "body_positions", path)
    rotations = _numeric(fields, "body_rotations", path)
    frames = positions.shape[0] if positions.ndim == 3 else -1
    if positions.shape != (frames, len(body_names), 3) or rotations.shape != (frames, len(body_names), 4):
        raise MotionFileError(
            path,
            f"body_positions {positions.shape} and body_rotations {rotations.shape} must be "
            f"(frames, {len(body_names)}, 3) and (frames, {len(body_names)}, 4)",
        )
    velocities = {}
    for field in ("body_linear_velocities", "body_angular_velocities"):
        if field in fields:
            value = _numeric(fields, field, path)
            if value.shape != positions.shape:
                raise MotionFileError(path, f"{field} has shape {value.shape}, expected {positions.shape}")
            velocities[field] = torch.from_numpy(value[:, order].astype(np.float64))
    try:
        fps = float(np.asarray(fields["fps"]).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        raise MotionFileError(path, f"fps is not a number ({fields['fps']!r})") from None
    positions = torch.from_numpy(positions[:, order].astype(np.float64))
    global_rotation = rot.quat_wxyz_to_xyzw(torch.from_numpy(rotations[:, order].astype(np.float64)))
    if not torch.isfinite(positions).all() or not torch.isfinite(global_rotation).all():
        raise MotionFileError(path, "body positions or rotations contain NaN or inf")
    _check_bone_lengths(positions, path)
    motion = Motion(
        skeleton=AMP_HUMANOID,
        local_rotation=global_to_local_rotation(rot.quat_normalize(global_rotation), AMP_HUMANOID),
        root_translation=positions[:, 0],
        fps=fps,
        global_velocity=velocities.get("body_linear_velocities"),
        global_angular_velocity=velocities.get("body_angular_velocities"),
        name=Path(path).name,
    )
    return check_motion(motion, path)


def _numeric(fields: dict[str, np.ndarray], name: str, path: Path) -> np.ndarray:
    value = fields[name]
    if not np.issubdtype(value.dtype, np.number):
        raise MotionFileError(path, f"field {name!r} is not numeric (dtype {value.dtype})")
    return value


def _check_bone_lengths(positions: torch.Tensor, path: Path) -> None:
    """Reject body positions whose parent-child distances are not the AMP humanoid's bone lengths."""
    parents = list(AMP_HUMANOID.parent_indices[1:])
    lengths = (positions[:, 1:] - positions[:, parents]).norm(dim=-1).median(dim=0).values
    expected = torch.from_numpy(np.linalg.norm(AMP_HUMANOID.local_translation[1:], axis=-1))
    error = (lengths - expected).abs()
    worst = int(error.argmax())
    if error[worst] > BONE_LENGTH_TOLERANCE:
        name = AMP_HUMANOID.node_names[worst + 1]
        raise MotionFileError(
            path,
            f"skeleton is not the AMP humanoid: body {name!r} is {float(lengths[worst]):.4f} m "
            f"from its parent, expected {float(expected[worst]):.4f} m",
        )


def isaaclab_fields(motion: Motion) -> dict[str, np.ndarray]:
    """The Isaac Lab ``.npz`` fields of ``motion`` (float32 arrays, quaternions w, x, y, z)."""
    motion = motion.with_velocities()
    local = motion.local_rotation
    return {
        "fps": np.array(motion.fps, dtype=np.float64),
        "dof_names": np.array(AMP_JOINT_LAYOUT.dof_names),
        "body_names": np.array(motion.skeleton.node_names),
        "dof_positions": local_rotation_to_dof_pos(local, AMP_JOINT_LAYOUT).numpy().astype(np.float32),
        "dof_velocities": compute_dof_velocities(local, motion.fps, AMP_JOINT_LAYOUT).numpy().astype(np.float32),
        "body_positions": motion.global_translation.numpy().astype(np.float32),
        "body_rotations": rot.quat_xyzw_to_wxyz(motion.global_rotation).numpy().astype(np.float32),
        "body_linear_velocities": motion.global_velocity.numpy().astype(np.float32),
        "body_angular_velocities": motion.global_angular_velocity.numpy().astype(np.float32),
    }


def write_isaaclab_npz(motion: Motion, path: Path) -> None:
    """Write ``motion`` (AMP humanoid) as an Isaac Lab ``.npz``."""
    fields = isaaclab_fields(motion)
    with atomic_write(path) as handle:
        np.savez(handle, **fields)
