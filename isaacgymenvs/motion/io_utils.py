"""File helpers shared by the motion writers: atomic writes, so that a failed or interrupted write leaves nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from isaacgymenvs.motion.motion import MotionFileError
from isaacgymenvs.utils import files


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """:func:`isaacgymenvs.utils.files.atomic_write` (a temporary file beside ``path``, moved into place only if the
    block finishes without error; ordinary permissions), with a motion file's one-line errors.

    Raises:
        MotionFileError: the folder does not exist or cannot be written.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise MotionFileError(path, f"cannot write: folder {str(folder)!r} does not exist")
    with contextlib.ExitStack() as stack:
        try:
            stream = stack.enter_context(files.atomic_write(path, mode))
        except OSError as error:
            raise MotionFileError(path, f"cannot write to folder {str(folder)!r} ({error.strerror})") from None
        yield stream
