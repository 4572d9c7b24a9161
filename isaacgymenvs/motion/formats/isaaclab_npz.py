"""Isaac Lab's ``.npz`` motion format (``isaaclab_tasks/direct/humanoid_amp/motions``).

Fields: ``fps``, ``dof_names`` ``[D]``, ``body_names`` ``[B]``, ``dof_positions`` / ``dof_velocities`` ``[F, D]``,
``body_positions`` ``[F, B, 3]``, ``body_rotations`` ``[F, B, 4]`` (**w, x, y, z**, world frame),
``body_linear_velocities`` / ``body_angular_velocities`` ``[F, B, 3]`` (world frame).

Reading uses the body fields only (matched by name, extra bodies ignored): the root position, the global rotations
turned into local ones, and the body velocities. The DOF fields depend on how an exporter defined its joints, so they
are not used, only checked for agreement (``dof_names`` as long as the arrays are wide); the body positions are checked
against the AMP humanoid's bone lengths. The archive is read without pickles and without allocating more than it
declares (:func:`read_npz_arrays`).

Writing fills every field. ``dof_positions`` and ``dof_velocities`` use this project's DOF convention, the original
task's: 28 values named after the MJCF joints, where each 3-DOF group is the exponential map of the joint's local
rotation and each hinge its angle (``docs/motion_formats.md``).
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from isaacgymenvs.motion.io_utils import atomic_write, check_file_size, check_frame_count, read_npy_header
from isaacgymenvs.motion.limits import MAX_MOTION_DATA_BYTES, size_text
from isaacgymenvs.motion.motion import Motion, MotionFileError, check_motion
from isaacgymenvs.motion.skeleton import (
    AMP_HUMANOID,
    AMP_JOINT_LAYOUT,
    compute_dof_velocities,
    global_to_local_rotation,
    local_rotation_to_dof_pos,
    names_difference,
)
from isaacgymenvs.utils import rotations as rot

REQUIRED_FIELDS = ("fps", "body_names", "body_positions", "body_rotations")
# A body's distance from its parent may differ from the AMP humanoid's bone length by this much (m).
BONE_LENGTH_TOLERANCE = 0.01


def read_npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` archive by name, read without pickles and without allocating more than the archive
    declares: the members' uncompressed sizes add up to at most
    :data:`~isaacgymenvs.motion.limits.MAX_MOTION_DATA_BYTES`, and no array header may declare more data than its
    member holds."""
    check_file_size(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = [info for info in archive.infolist() if info.filename.endswith(".npy")]
            total = sum(info.file_size for info in members)
            if total > MAX_MOTION_DATA_BYTES:
                raise MotionFileError(
                    path,
                    f"the archive unpacks to {size_text(total)}, more than the {size_text(MAX_MOTION_DATA_BYTES)} "
                    "a motion file may hold (docs/limits.md)",
                )
            return {info.filename[: -len(".npy")]: _read_member(archive, info, path) for info in members}
    except MotionFileError:
        raise
    except FileNotFoundError:
        raise MotionFileError(path, "file not found") from None
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, KeyError, NotImplementedError) as error:
        problem = f"{type(error).__name__}: {str(error)[:200]}"
        raise MotionFileError(path, f"not a readable .npz archive ({problem})") from None
    except RuntimeError as error:  # zipfile's answer to an encrypted member
        raise MotionFileError(path, f"not a readable .npz archive ({str(error)[:200]})") from None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    name = info.filename[: -len(".npy")]
    with archive.open(info) as member:
        try:
            shape, fortran_order, dtype = read_npy_header(member)
        except ValueError as error:
            raise ValueError(f"field {name!r}: {error}") from None
        if dtype.hasobject:
            raise MotionFileError(path, f"refused to load: field {name!r} holds pickled Python objects")
        if any(dimension < 0 for dimension in shape):
            raise MotionFileError(path, f"field {name!r}: negative shape {shape}")
        declared = math.prod(shape) * dtype.itemsize
        available = info.file_size - member.tell()
        data = member.read(declared) if declared <= available else b""
        if len(data) != declared:
            raise MotionFileError(
                path,
                f"truncated or corrupt .npz archive: field {name!r} declares {size_text(declared)} "
                f"(shape {shape}, {dtype}), the archive holds {size_text(max(available, 0))}",
            )
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape[::-1]).transpose() if fortran_order else array.reshape(shape)


def read_isaaclab_npz(path: Path) -> Motion:
    """Read an Isaac Lab motion ``.npz`` of the AMP humanoid into a :class:`Motion`."""
    fields = read_npz_arrays(path)
    missing = [name for name in REQUIRED_FIELDS if name not in fields]
    if missing:
        raise MotionFileError(path, f"missing Isaac Lab motion fields {missing} (found {sorted(fields)[:20]})")
    body_names = _names(fields, "body_names", path)
    absent = [name for name in AMP_HUMANOID.node_names if name not in body_names]
    repeated = sorted({name for name in body_names if body_names.count(name) > 1 and name in AMP_HUMANOID.node_names})
    if absent or repeated:
        raise MotionFileError(
            path,
            f"skeleton is not the AMP humanoid: found {len(body_names)} bodies: "
            + names_difference(body_names, AMP_HUMANOID.node_names),
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
    check_frame_count(frames, path)
    _check_dof_fields(fields, frames, path)
    velocities = {}
    for field in ("body_linear_velocities", "body_angular_velocities"):
        if field in fields:
            value = _numeric(fields, field, path)
            if value.shape != positions.shape:
                raise MotionFileError(path, f"{field} has shape {value.shape}, expected {positions.shape}")
            velocities[field] = torch.from_numpy(value[:, order].astype(np.float64))
    fps_field = fields["fps"]
    if fps_field.size != 1 or fps_field.dtype.kind not in "iuf":
        raise MotionFileError(path, f"fps must be one number, found {fps_field.dtype} of shape {fps_field.shape}")
    fps = float(fps_field.reshape(-1)[0])
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


def _names(fields: dict[str, np.ndarray], name: str, path: Path) -> list[str]:
    """A field of names: a 1-D array of strings."""
    value = fields[name]
    if value.ndim != 1 or value.dtype.kind not in "US":
        raise MotionFileError(path, f"{name} must be a list of names, found {value.dtype} of shape {value.shape}")
    return [item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item) for item in value.tolist()]


def _check_dof_fields(fields: dict[str, np.ndarray], frames: int, path: Path) -> None:
    """The DOF fields are not used, but a file whose DOF names, positions and velocities disagree is corrupt."""
    names = _names(fields, "dof_names", path) if "dof_names" in fields else None
    shapes = {}
    for field in ("dof_positions", "dof_velocities"):
        if field in fields:
            value = _numeric(fields, field, path)
            if value.ndim != 2 or value.shape[0] != frames:
                raise MotionFileError(path, f"{field} has shape {value.shape}, expected ({frames}, DOFs)")
            shapes[field] = value.shape
    for field, shape in shapes.items():
        if names is not None and shape[1] != len(names):
            raise MotionFileError(
                path, f"dof_names lists {len(names)} names but {field} has {shape[1]} columns; the file is inconsistent"
            )
    if len({shape[1] for shape in shapes.values()}) > 1:
        raise MotionFileError(
            path, f"dof_positions {shapes['dof_positions']} and dof_velocities {shapes['dof_velocities']} differ"
        )


def _numeric(fields: dict[str, np.ndarray], name: str, path: Path) -> np.ndarray:
    value = fields[name]
    if value.dtype.kind not in "iuf":
        raise MotionFileError(path, f"field {name!r} is not real numbers (dtype {value.dtype})")
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
