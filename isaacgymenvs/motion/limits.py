"""The limits every motion reader enforces, checked before anything large is allocated (``docs/limits.md``).

A motion file comes from anywhere; each limit here turns what would otherwise be a ``MemoryError``, an
out-of-memory kill or an hour of parsing into one line naming the file, the figure and the limit. The checks that
raise live in :mod:`isaacgymenvs.motion.io_utils` (this module imports nothing of the project, so that
:mod:`isaacgymenvs.motion.motion` can use it too).
"""

from __future__ import annotations

import reprlib
from typing import Any

MAX_MOTION_FILE_BYTES = 512 * 2**20
"""Largest motion file read (any format): 512 MiB, room for a clip of :data:`MAX_FRAMES` frames in every format."""
MAX_MOTION_DATA_BYTES = 2**30
"""Most array data a ``.npy`` / ``.npz`` may declare, uncompressed (1 GiB); a ``.npy`` may not declare more than it
holds."""
MAX_MOTION_LIST_BYTES = 2**20
"""Largest ``.yaml`` motion list (1 MiB: tens of thousands of entries)."""
MAX_FRAMES = 500_000
"""Longest clip: 500,000 frames (2 h 19 min at 60 fps); loading one takes about 2.5 GB of memory."""
MAX_FPS = 10_000.0
"""Highest frame rate (frames per second) a clip may declare."""
MAX_BVH_JOINTS = 1_000
"""Most joints a BVH hierarchy may list (the AMP humanoid has 15)."""

_SHORT = reprlib.Repr()
_SHORT.maxstring = 60
_SHORT.maxother = 60
_SHORT.maxlevel = 2
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 4
# Longest quoted value in a message (characters).
_SHORT_LENGTH = 80


def short_repr(value: Any) -> str:
    """``repr`` of a value read from a file, cut short (a nested or huge value cannot flood a message)."""
    try:
        text = _SHORT.repr(value)
    except Exception:  # a value whose own __repr__ fails still gets named
        return f"<{type(value).__name__}>"
    return text if len(text) <= _SHORT_LENGTH else text[: _SHORT_LENGTH - 3] + "..."


def size_text(size: int) -> str:
    """``size`` bytes for a message: ``1.5 GiB``, ``512 MiB``, ``300 bytes``."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.3g} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
