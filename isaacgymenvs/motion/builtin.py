"""Built-in motion clips: DeepMimic's humanoid clips shipped in the pybullet wheel, usable by name.

``humanoid3d_walk`` (or ``humanoid3d_walk.txt``) names ``pybullet_data/data/motions/humanoid3d_walk.txt``; it is
converted to the AMP humanoid on first use (about 10 ms) and kept in memory for the rest of the process. These clips are
what the project's defaults train on, since the original's CMU clips cannot be shipped.
"""

from __future__ import annotations

import functools
from pathlib import Path

from isaacgymenvs.motion.formats.deepmimic import read_deepmimic_txt
from isaacgymenvs.motion.motion import Motion

BUILTIN_PREFIX = "humanoid3d_"


def builtin_motion_folder() -> Path | None:
    """The folder holding the DeepMimic clips, or None if pybullet is not installed."""
    try:
        import pybullet_data
    except ImportError:
        return None
    folder = Path(pybullet_data.getDataPath()) / "data" / "motions"
    return folder if folder.is_dir() else None


def builtin_clip_names() -> list[str]:
    """Names of the built-in clips (``humanoid3d_walk``, ...), sorted; empty without pybullet."""
    folder = builtin_motion_folder()
    if folder is None:
        return []
    return sorted(path.stem for path in folder.glob(f"{BUILTIN_PREFIX}*.txt"))


def builtin_clip_path(name: str) -> Path | None:
    """The source file of built-in clip ``name`` (with or without ``.txt``), or None if there is no such clip."""
    stem = name[:-4] if name.endswith(".txt") else name
    folder = builtin_motion_folder()
    if folder is None or "/" in stem or not stem.startswith(BUILTIN_PREFIX):
        return None
    path = folder / f"{stem}.txt"
    return path if path.is_file() else None


def load_builtin_clip(name: str) -> Motion:
    """The built-in clip ``name`` converted to the AMP humanoid (cached per process)."""
    path = builtin_clip_path(name)
    if path is None:
        raise KeyError(name)
    return _convert_cached(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _convert_cached(path: Path, mtime_ns: int) -> Motion:
    return read_deepmimic_txt(path)
