"""File helpers shared by the motion writers: atomic writes, so that a failed or interrupted write leaves nothing."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from isaacgymenvs.motion.motion import MotionFileError


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path`` and move it into place only if the block finishes without error.

    Raises:
        MotionFileError: the folder does not exist or cannot be written.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise MotionFileError(path, f"cannot write: folder {str(folder)!r} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".partial")
    except OSError as error:
        raise MotionFileError(path, f"cannot write to folder {str(folder)!r} ({error.strerror})") from None
    try:
        with os.fdopen(handle, mode) as stream:
            yield stream
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
