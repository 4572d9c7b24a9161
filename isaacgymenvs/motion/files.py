"""Loading and saving motions by file extension, motion lists, and how a ``motion_file`` setting is resolved.

Formats (chosen by extension): ``.npy`` poselib (read, write), ``.npz`` Isaac Lab (read, write), ``.bvh`` (read, write),
``.txt`` DeepMimic (read), ``.yaml``/``.yml`` motion lists (read). A motion list is

.. code-block:: yaml

    motions:
      - file: walk.npy        # relative to the yaml's folder, or a built-in clip name
        weight: 0.7           # finite, >= 0; normalised over the list to sampling probabilities
      - file: run.bvh
        weight: 0.3

A ``motion_file`` setting is looked up as given (absolute, or relative to the working directory), then in the
project's ``assets/amp/motions/`` folder (where the original kept its clips), then among the built-in clips
(``humanoid3d_walk``, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from isaacgymenvs.motion.builtin import builtin_clip_names, builtin_clip_path, load_builtin_clip
from isaacgymenvs.motion.formats.bvh import read_bvh, write_bvh
from isaacgymenvs.motion.formats.deepmimic import read_deepmimic_txt
from isaacgymenvs.motion.formats.isaaclab_npz import read_isaaclab_npz, write_isaaclab_npz
from isaacgymenvs.motion.formats.poselib_npy import read_poselib_npy, write_poselib_npy
from isaacgymenvs.motion.io_utils import check_file_size
from isaacgymenvs.motion.limits import MAX_FRAMES, MAX_MOTION_LIST_BYTES, short_repr
from isaacgymenvs.motion.motion import Motion, MotionFileError

READERS: dict[str, Callable[[Path], Motion]] = {
    ".npy": read_poselib_npy,
    ".npz": read_isaaclab_npz,
    ".bvh": read_bvh,
    ".txt": read_deepmimic_txt,
}
WRITERS: dict[str, Callable[[Motion, Path], None]] = {
    ".npy": write_poselib_npy,
    ".npz": write_isaaclab_npz,
    ".bvh": write_bvh,
}
LIST_EXTENSIONS = (".yaml", ".yml")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
MOTION_ASSET_FOLDER = PROJECT_ROOT / "assets" / "amp" / "motions"


@dataclass(frozen=True)
class WeightedMotion:
    """A motion and its sampling weight (not yet normalised) as listed in a motion list."""

    motion: Motion
    weight: float
    source: str


def _extension(path: Path) -> str:
    return path.suffix.lower()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _exists(path: Path) -> bool:
    """Whether ``path`` exists; a name the system cannot even look up (too long, say) does not."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def load_motion(path: str | Path) -> Motion:
    """Read one motion file (format by extension) or a built-in clip by name.

    Raises:
        MotionFileError: missing file, unknown extension, or unusable content.
    """
    path = Path(path)
    if not _exists(path) and builtin_clip_path(str(path)) is not None:
        return load_builtin_clip(str(path))
    extension = _extension(path)
    if extension in LIST_EXTENSIONS:
        raise MotionFileError(path, "is a motion list; load it with load_motion_set")
    reader = READERS.get(extension)
    if reader is None:
        raise MotionFileError(
            path,
            f"unknown motion format {extension or '(no extension)'!r}; "
            f"readable: {', '.join(sorted(READERS))}, and {'/'.join(LIST_EXTENSIONS)} lists",
        )
    if not _exists(path):
        raise MotionFileError(path, "file not found")
    if not path.is_file():
        raise MotionFileError(path, "is not a file")
    return reader(path)


def save_motion(motion: Motion, path: str | Path) -> None:
    """Write ``motion`` in the format named by ``path``'s extension (nothing is left behind on failure)."""
    path = Path(path)
    writer = WRITERS.get(_extension(path))
    if writer is None:
        raise MotionFileError(
            path,
            f"cannot write format {_extension(path) or '(no extension)'!r}; writable: {', '.join(sorted(WRITERS))}",
        )
    writer(motion, path)


def resolve_motion_file(name: str | Path, search_folders: tuple[Path, ...] = (MOTION_ASSET_FOLDER,)) -> Path | str:
    """Where ``name`` refers to: an existing path, a file in ``search_folders``, or a built-in clip name (returned as
    the name itself).

    Raises:
        MotionFileError: nothing matches; the message lists the built-in clips.
    """
    path = Path(name).expanduser()
    if _exists(path):
        return path
    if not path.is_absolute():
        for folder in search_folders:
            if _exists(folder / path):
                return folder / path
    if builtin_clip_path(str(name)) is not None:
        return str(name)
    builtins = builtin_clip_names()
    hint = f"built-in clips: {', '.join(builtins)}" if builtins else "no built-in clips (pybullet is not installed)"
    places = ", ".join(["the working directory", *(str(folder) for folder in search_folders)])
    raise MotionFileError(name, f"motion file not found (looked in {places}; {hint})")


def load_motion_set(
    name: str | Path, search_folders: tuple[Path, ...] = (MOTION_ASSET_FOLDER,)
) -> list[WeightedMotion]:
    """The motions a ``motion_file`` setting names: one clip (weight 1) or every clip of a ``.yaml`` list.

    Raises:
        MotionFileError: the setting, the list or any clip in it is unusable; the message names the file at fault.
    """
    resolved = resolve_motion_file(name, search_folders)
    if isinstance(resolved, Path) and _extension(resolved) in LIST_EXTENSIONS:
        return _load_motion_list(resolved)
    return [WeightedMotion(load_motion(resolved), 1.0, str(resolved))]


def _load_motion_list(path: Path) -> list[WeightedMotion]:
    check_file_size(path, MAX_MOTION_LIST_BYTES)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise MotionFileError(path, f"cannot read the motion list ({error})") from None
    except yaml.YAMLError as error:
        raise MotionFileError(path, f"invalid YAML ({str(error).splitlines()[0][:200]})") from None
    except RecursionError:
        raise MotionFileError(path, "invalid YAML (nested too deeply)") from None
    if not isinstance(document, dict) or not isinstance(document.get("motions"), list) or not document["motions"]:
        raise MotionFileError(path, "a motion list needs a non-empty 'motions:' list of {file, weight} entries")
    entries = []
    for number, entry in enumerate(document["motions"], 1):
        if not isinstance(entry, dict) or "file" not in entry:
            raise MotionFileError(path, f"entry {number} needs a 'file' key")
        file = entry["file"]
        if not isinstance(file, str) or not file:
            raise MotionFileError(path, f"entry {number}: file must be a file name, found {short_repr(file)}")
        weight = entry.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight < math.inf:
            problem = f"weight must be a finite number >= 0, found {short_repr(weight)}"
            if isinstance(weight, str) and _is_number(weight):  # YAML 1.1 reads 1e3 and 1.0e3 as text
                problem += " (YAML reads that as text: write the exponent with a dot and a sign, 1.0e+3, or 1000)"
            raise MotionFileError(path, f"entry {number} ({short_repr(file)}): {problem}")
        entries.append((file, float(weight)))
    total = sum(weight for _, weight in entries)  # inf when finite weights overflow (math.fsum would raise)
    if total <= 0:
        raise MotionFileError(path, "all weights are zero; at least one clip needs a positive weight")
    if not math.isfinite(total):
        raise MotionFileError(path, f"the weights add up to {total}; use smaller numbers (only their ratios count)")
    motions: list[WeightedMotion] = []
    total_frames = 0
    for number, (file, weight) in enumerate(entries, 1):
        clip = path.parent / file
        if not _exists(clip) and builtin_clip_path(file) is not None:
            motions.append(WeightedMotion(load_builtin_clip(file), weight, file))
        elif _extension(clip) in LIST_EXTENSIONS:
            raise MotionFileError(path, f"entry {file!r} is itself a motion list; lists cannot be nested")
        elif not _exists(clip):
            raise MotionFileError(path, f"listed clip {file!r} not found (looked for {clip})")
        else:
            motions.append(WeightedMotion(load_motion(clip), weight, str(clip)))
        # The set is held in memory whole: the same bound as one clip, checked as it grows.
        total_frames += motions[-1].motion.num_frames
        if total_frames > MAX_FRAMES:
            raise MotionFileError(
                path,
                f"the clips up to entry {number} hold {total_frames} frames, more than the {MAX_FRAMES} a motion "
                "set may hold in all (docs/limits.md)",
            )
    return motions
