"""File helpers shared by the motion readers and writers: size limits checked before reading, and atomic writes, so
that a failed or interrupted write leaves nothing."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from isaacgymenvs.motion.limits import MAX_FRAMES, MAX_MOTION_FILE_BYTES, size_text
from isaacgymenvs.motion.motion import MotionFileError
from isaacgymenvs.utils import files


def check_file_size(path: str | Path, limit: int = MAX_MOTION_FILE_BYTES) -> int:
    """The size of ``path`` in bytes, or :class:`MotionFileError` when it is larger than ``limit`` or cannot be
    examined."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise MotionFileError(path, "file not found") from None
    except OSError as error:
        raise MotionFileError(path, f"cannot read ({error.strerror})") from None
    if size > limit:
        raise MotionFileError(
            path, f"file is {size_text(size)}, more than the {size_text(limit)} allowed (docs/limits.md)"
        )
    return size


def read_npy_header(stream: IO[bytes]) -> tuple[tuple[int, ...], bool, Any]:
    """The shape, Fortran-order flag and dtype from a ``.npy`` header, leaving ``stream`` at the data.

    Raises:
        ValueError: a format version other than 1.0 or 2.0 (or a malformed header).
    """
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(stream)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(stream)
    raise ValueError(f"unsupported .npy format version {version}")


def check_frame_count(frames: int, path: str | Path) -> None:
    """:class:`MotionFileError` when a clip declares more than :data:`~isaacgymenvs.motion.limits.MAX_FRAMES`
    frames (checked before the frames are read)."""
    if frames > MAX_FRAMES:
        raise MotionFileError(
            path, f"{frames} frames, more than the {MAX_FRAMES} a clip may have (docs/limits.md); split the clip"
        )


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """:func:`isaacgymenvs.utils.files.atomic_write` (a temporary file beside ``path``, moved into place only if the
    block finishes without error; ordinary permissions), with a motion file's one-line errors.

    Raises:
        MotionFileError: the folder does not exist or cannot be written, ``path`` is a folder, or writing fails
            (a full disk, say); nothing is left behind.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise MotionFileError(path, f"cannot write: folder {str(folder)!r} does not exist")
    if path.is_dir():
        raise MotionFileError(path, "cannot write: it is a folder")
    with contextlib.ExitStack() as stack:
        try:
            stream = stack.enter_context(files.atomic_write(path, mode))
        except OSError as error:
            raise MotionFileError(path, f"cannot write to folder {str(folder)!r} ({error.strerror})") from None
        try:
            yield stream
            stack.close()  # the flush, fsync and move into place, whose errors are the write's
        except OSError as error:
            raise MotionFileError(path, f"cannot write ({error.strerror or error})") from None
