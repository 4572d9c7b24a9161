"""poselib ``.npy`` motion files (the original's ``SkeletonMotion`` format), read safely and written compatibly.

A poselib file is ``np.save`` of a 0-d object array holding an ``OrderedDict``: ``rotation`` (local, xyzw),
``root_translation``, ``global_velocity``, ``global_angular_velocity``, ``skeleton_tree`` (``node_names``,
``parent_indices``, ``local_translation``), ``is_local``, ``fps`` and ``__name__ = "SkeletonMotion"``. Each array leaf
is ``{"arr": ndarray, "context": {"dtype": name}}`` (spec section 7.1).

Object arrays are stored as pickles, and ``np.load(allow_pickle=True)`` would run whatever code a malicious file names.
This reader parses the ``.npy`` header itself and unpickles the payload with an unpickler that only admits plain
containers, numpy arrays and dtypes: a file naming anything else is refused before any of it is built.
"""

from __future__ import annotations

import io
import math
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from isaacgymenvs.motion.io_utils import atomic_write, check_file_size, check_frame_count, read_npy_header
from isaacgymenvs.motion.limits import short_repr, size_text
from isaacgymenvs.motion.motion import Motion, MotionFileError, check_motion
from isaacgymenvs.motion.skeleton import SkeletonTree, global_to_local_rotation

try:  # numpy 2
    from numpy._core.multiarray import _reconstruct, scalar
except ImportError:  # numpy 1
    from numpy.core.multiarray import _reconstruct, scalar

# (module, name) pairs a poselib file may name; numpy 1 pickles say numpy.core, numpy 2 numpy._core.
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): scalar,
    ("numpy._core.multiarray", "scalar"): scalar,
}


class _RefusedPickle(pickle.UnpicklingError):
    """The payload asks for something a motion file never needs (a function to call, a class to build)."""


class _RestrictedUnpickler(pickle._Unpickler):  # the Python implementation, on purpose
    """Builds only plain containers, numpy arrays, dtypes and numpy scalars.

    It is the Python implementation of the unpickler: the C one sizes its memo table by the largest index a file
    names, so 13 bytes naming index 2**30 make it allocate 16 GB; this one keeps the memo in a dict. A motion file's
    pickle has a few hundred opcodes (the arrays are single byte strings), so the speed is the same.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _RefusedPickle(f"it names {module}.{name}, which a motion file never needs") from None

    def persistent_load(self, pid: Any) -> Any:
        raise _RefusedPickle("it uses persistent ids, which a motion file never needs")


def read_npy_object(path: Path) -> Any:
    """The object stored in a ``.npy`` file, unpickled safely (plain arrays are returned as arrays).

    Nothing larger than the file is allocated: a plain array's header may not declare more data than the file holds,
    and the file's size is bounded (:data:`~isaacgymenvs.motion.limits.MAX_MOTION_FILE_BYTES`).
    """
    size = check_file_size(path)
    try:
        with open(path, "rb") as handle:
            shape, _, dtype = read_npy_header(handle)
            if not dtype.hasobject:
                _check_declared_size(shape, dtype, size - handle.tell(), path)
                handle.seek(0)
                return np.lib.format.read_array(handle, allow_pickle=False)
            payload = handle.read()
    except MotionFileError:
        raise
    except FileNotFoundError:
        raise MotionFileError(path, "file not found") from None
    except (ValueError, OSError, EOFError) as error:
        raise MotionFileError(path, f"not a valid .npy file ({str(error)[:200]})") from None
    try:
        stored = _RestrictedUnpickler(io.BytesIO(payload)).load()
    except _RefusedPickle as error:
        raise MotionFileError(path, f"refused to load: {error}") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        MemoryError,
        OverflowError,
        RecursionError,
    ) as error:
        raise MotionFileError(path, f"truncated or corrupt .npy payload ({type(error).__name__})") from None
    if isinstance(stored, np.ndarray) and stored.shape == () and stored.dtype.hasobject:
        return stored.item()
    return stored


def _check_declared_size(shape: tuple[int, ...], dtype: np.dtype, available: int, path: Path) -> None:
    """Refuse an array header that declares more data than the file holds (before numpy allocates it)."""
    if any(dimension < 0 for dimension in shape):
        raise MotionFileError(path, f"not a valid .npy file (negative shape {shape} in the header)")
    declared = math.prod(shape) * dtype.itemsize
    if declared > available:
        raise MotionFileError(
            path,
            f"truncated or corrupt .npy file: its header declares {size_text(declared)} of data "
            f"(shape {shape}, {dtype}), the file holds {size_text(max(available, 0))}",
        )


def _leaf(value: Any, key: str, path: Path) -> np.ndarray:
    """The array of a poselib leaf (``{"arr": ..., "context": ...}``), or a bare array."""
    if isinstance(value, dict):
        if "arr" not in value:
            raise MotionFileError(path, f"field {key!r} has no 'arr' entry")
        value = value["arr"]
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        raise MotionFileError(path, f"field {key!r} is not a numeric array")
    return value


def read_poselib_npy(path: Path) -> Motion:
    """Read a poselib ``SkeletonMotion`` ``.npy`` into a :class:`Motion` (local rotations, AMP humanoid checked)."""
    stored = read_npy_object(path)
    if not isinstance(stored, dict):
        raise MotionFileError(path, f"expected a poselib motion (a pickled dict), found {type(stored).__name__}")
    check_frame_count(_frames(stored.get("rotation")), path)
    kind = stored.get("__name__")
    if kind == "SkeletonState":
        raise MotionFileError(path, "this is a single pose (poselib SkeletonState), not a motion")
    if kind != "SkeletonMotion":
        raise MotionFileError(path, f"expected __name__ 'SkeletonMotion', found {short_repr(kind)}")
    missing = [k for k in ("rotation", "root_translation", "skeleton_tree", "fps") if k not in stored]
    if missing:
        raise MotionFileError(path, f"missing keys {missing}")
    tree = stored["skeleton_tree"]
    if not isinstance(tree, dict) or any(k not in tree for k in ("node_names", "parent_indices", "local_translation")):
        raise MotionFileError(path, "skeleton_tree needs node_names, parent_indices and local_translation")
    try:
        skeleton = SkeletonTree(
            tuple(str(name) for name in tree["node_names"]),
            tuple(int(p) for p in _leaf(tree["parent_indices"], "parent_indices", path)),
            _leaf(tree["local_translation"], "local_translation", path),
        )
    except (ValueError, TypeError, OverflowError) as error:
        raise MotionFileError(path, f"invalid skeleton_tree ({str(error)[:200]})") from None
    rotation = torch.from_numpy(_leaf(stored["rotation"], "rotation", path).astype(np.float64))
    try:
        fps = float(np.asarray(stored["fps"]))
    except (TypeError, ValueError, OverflowError):
        raise MotionFileError(path, f"fps is not a number ({short_repr(stored['fps'])})") from None
    motion = Motion(
        skeleton=skeleton,
        local_rotation=rotation,
        root_translation=_leaf(stored["root_translation"], "root_translation", path),
        fps=fps,
        global_velocity=_leaf(stored["global_velocity"], "global_velocity", path)
        if "global_velocity" in stored
        else None,
        global_angular_velocity=_leaf(stored["global_angular_velocity"], "global_angular_velocity", path)
        if "global_angular_velocity" in stored
        else None,
        name=Path(path).name,
    )
    if not bool(stored.get("is_local", True)) and rotation.ndim == 3 and rotation.shape[1] == skeleton.num_bodies:
        motion.local_rotation = global_to_local_rotation(motion.local_rotation, skeleton)
    return check_motion(motion, path)


def _frames(rotation: Any) -> int:
    """The frame count a ``rotation`` field declares (0 when it is not an array)."""
    value = rotation.get("arr") if isinstance(rotation, dict) else rotation
    return int(value.shape[0]) if isinstance(value, np.ndarray) and value.ndim > 0 else 0


def _tensor_leaf(array: np.ndarray) -> dict[str, Any]:
    return {"arr": array, "context": {"dtype": array.dtype.name}}


def poselib_dict(motion: Motion) -> OrderedDict:
    """The poselib ``SkeletonMotion`` dict of ``motion``, with the original files' keys, order and leaf layout."""
    motion = motion.with_velocities()
    skeleton = OrderedDict(
        node_names=list(motion.skeleton.node_names),
        parent_indices=_tensor_leaf(np.asarray(motion.skeleton.parent_indices, dtype=np.int64)),
        local_translation=_tensor_leaf(motion.skeleton.local_translation.astype(np.float32)),
    )
    fps = np.array(round(motion.fps), dtype=np.int32) if float(motion.fps).is_integer() else float(motion.fps)
    return OrderedDict(
        rotation=_tensor_leaf(motion.local_rotation.numpy().astype(np.float32)),
        root_translation=_tensor_leaf(motion.root_translation.numpy().astype(np.float32)),
        global_velocity=_tensor_leaf(motion.global_velocity.numpy().astype(np.float32)),
        global_angular_velocity=_tensor_leaf(motion.global_angular_velocity.numpy().astype(np.float32)),
        skeleton_tree=skeleton,
        is_local=True,
        fps=fps,
        __name__="SkeletonMotion",
    )


def write_poselib_npy(motion: Motion, path: Path) -> None:
    """Write ``motion`` as a poselib ``.npy`` that the original ``SkeletonMotion.from_file`` loads."""
    payload = np.empty((), dtype=object)
    payload[()] = poselib_dict(motion)
    with atomic_write(path) as handle:
        np.save(handle, payload, allow_pickle=True)
