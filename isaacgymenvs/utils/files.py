"""Writing files whole or not at all: :func:`atomic_write`, for checkpoints, exported motions and anything else that
a crash or Ctrl-C must not leave half-written; :func:`remove_stale_temporaries` for what a killed process left, and
:func:`check_creatable` for a folder that is about to be written."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

# Attempts at a free temporary name before giving up (each name has 48 random bits: collisions mean something is off).
_NAME_ATTEMPTS = 100


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Write ``path`` through a temporary file beside it, moved into place only when the block finishes.

    Usage::

        with atomic_write(path) as stream:
            torch.save(state, stream)

        with atomic_write(path, "w") as stream:  # text, UTF-8
            stream.write(text)

    On success the data is flushed and fsynced, then the temporary file replaces ``path`` in one step
    (``os.replace``), so readers see either the previous file or the complete new one. On any exception in the block,
    KeyboardInterrupt included, the temporary file is removed, the previous ``path`` (if any) is left as it was, and
    the exception propagates. The new file gets the permissions an ordinary ``open(path, "w")`` gives a new file
    (``0o666`` minus the umask), not ``tempfile.mkstemp``'s ``0o600``.

    Args:
        path: the file to write.
        mode: ``"wb"`` (default) or ``"w"`` (text, UTF-8); ``"+"`` is accepted too.

    Raises:
        OSError: the temporary file cannot be created, e.g. :class:`FileNotFoundError` when the folder does not exist or
            :class:`PermissionError` when it is not writable; ``filename`` is then the folder. Errors of the block and
            of the final move propagate unchanged.
        ValueError: ``mode`` is not a write mode.
    """
    if not mode.startswith("w") or any(flag in mode for flag in "arx"):
        raise ValueError(f"atomic_write writes whole files: mode must be 'w', 'wb', 'w+' or 'w+b', got {mode!r}")
    path = Path(path)
    folder = path.parent
    handle, temporary = _create_temporary(path, readable="+" in mode)
    try:
        stream = os.fdopen(handle, mode) if "b" in mode else os.fdopen(handle, mode, encoding="utf-8")
    except BaseException:
        os.close(handle)
        _remove(temporary)
        raise
    try:
        with stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        _remove(temporary)
        raise
    # Make the rename itself durable; some file systems refuse to sync a folder, which costs nothing but durability.
    with contextlib.suppress(OSError):
        folder_handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(folder_handle)
        finally:
            os.close(folder_handle)


def _create_temporary(path: Path, *, readable: bool) -> tuple[int, str]:
    """Create a new, hidden file beside ``path``; return its descriptor and name.

    Created with ``os.open(..., 0o666)`` so that the kernel applies the umask (and any default ACL) as for an ordinary
    new file; ``O_EXCL`` makes sure the name is ours.
    """
    flags = os.O_CREAT | os.O_EXCL | (os.O_RDWR if readable else os.O_WRONLY) | getattr(os, "O_CLOEXEC", 0)
    folder = path.parent
    for _ in range(_NAME_ATTEMPTS):
        temporary = str(folder / f".{path.name}.{secrets.token_hex(6)}.partial")
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:
            continue
        except OSError as error:
            # Name the folder, not the temporary file the caller never asked for.
            raise OSError(error.errno, error.strerror, str(folder)) from None
    raise FileExistsError(f"{folder}: no free temporary name for {path.name!r} after {_NAME_ATTEMPTS} attempts")


def _remove(temporary: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)


# The names _create_temporary gives: ".<name>.<12 hex digits>.partial".
_TEMPORARY_NAME = re.compile(r"^\..+\.[0-9a-f]{12}\.partial$")


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporary files :func:`atomic_write` left in ``folder`` when its process was killed mid-write
    (SIGKILL, power loss); return what was removed. Only for a folder no other process is writing into: a live
    write's temporary file looks the same."""
    removed = []
    with contextlib.suppress(OSError):
        for path in Path(folder).iterdir():
            if _TEMPORARY_NAME.match(path.name) and path.is_file():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed


def check_creatable(folder: str | Path, what: str = "the folder") -> None:
    """Raise an :class:`OSError` whose ``filename`` is the nearest existing folder above ``folder`` when ``folder``
    cannot be created (or written) there: that path is a file, or it is not writable. Nothing is created."""
    existing = Path(os.path.abspath(folder))
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"is not a folder, so {what} {folder} cannot go there", str(existing))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(
            errno.EACCES,
            f"not writable, so {what} {folder} cannot be created (run from a folder you can write to)",
            str(existing),
        )
