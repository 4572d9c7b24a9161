"""BVH (Biovision hierarchy) files of the AMP humanoid: a standard reader and a Blender-importable writer.

Written files are Y-up (the BVH convention; Blender's importer maps it back to Z-up with its default axes), in metres,
with an ``End Site`` after each leaf body, a 6-channel root (``Xposition Yposition Zposition`` then rotations) and
3 rotation channels per joint in ``Z X Y`` order, angles in degrees. A joint's channel rotations compose intrinsically
in the listed order (``R = Rz Rx Ry``), relative to its parent; the rest pose is the identity, as in poselib.

The reader accepts any channel order, any unit (the scale is inferred from the thigh-to-knee bone, so centimetres and
inches load too) and joints listed in any order, and requires the AMP humanoid's 15 bodies by name with its tree and
bone offsets. Non-root position channels are ignored (the bone lengths are the skeleton's). Frames are one per line,
as every BVH writer puts them. Hostile files are refused in one line before anything large is built: the hierarchy is
parsed with an explicit stack (any nesting depth), lines of the hierarchy are at most 64 KiB, and the file size, the
joint count and the frame count have the limits of :mod:`isaacgymenvs.motion.limits`.
"""

from __future__ import annotations

import math
import warnings
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, TextIO

import numpy as np
import torch

from isaacgymenvs.motion.io_utils import atomic_write, check_file_size
from isaacgymenvs.motion.limits import MAX_BVH_JOINTS, MAX_FRAMES, short_repr
from isaacgymenvs.motion.motion import Motion, MotionFileError, check_motion
from isaacgymenvs.motion.skeleton import AMP_HUMANOID, SkeletonTree, names_difference
from isaacgymenvs.utils import rotations as rot

WRITE_ROTATION_ORDER = "ZXY"
# z-up (project) -> y-up (BVH): a rotation of -90 degrees about x, mapping (x, y, z) to (x, z, -y).
_Z_UP_TO_Y_UP = torch.tensor([-math.sqrt(0.5), 0.0, 0.0, math.sqrt(0.5)], dtype=torch.float64)
# Where each leaf body's End Site sits in its frame (z-up, m): top of the head, hand sphere, toe of the foot box.
_END_SITES = {
    "head": (0.0, 0.0, 0.27),
    "right_hand": (0.0, 0.0, -0.04),
    "left_hand": (0.0, 0.0, -0.04),
    "right_foot": (0.1335, 0.0, -0.0225),
    "left_foot": (0.1335, 0.0, -0.0225),
}
_SCALE_REFERENCE_BODY = "right_shin"
_CHANNEL_NAMES = tuple(f"{axis}{kind}" for kind in ("position", "rotation") for axis in "xyz")


def _to_y_up(vectors: torch.Tensor) -> torch.Tensor:
    return rot.quat_rotate(_Z_UP_TO_Y_UP.expand(*vectors.shape[:-1], 4), vectors)


def _to_z_up(vectors: torch.Tensor) -> torch.Tensor:
    return rot.quat_rotate_inverse(_Z_UP_TO_Y_UP.expand(*vectors.shape[:-1], 4), vectors)


def _conjugate_to_y_up(q: torch.Tensor) -> torch.Tensor:
    frame = _Z_UP_TO_Y_UP.expand_as(q)
    return rot.quat_mul(rot.quat_mul(frame, q), rot.quat_conjugate(frame))


def _conjugate_to_z_up(q: torch.Tensor) -> torch.Tensor:
    frame = _Z_UP_TO_Y_UP.expand_as(q)
    return rot.quat_mul(rot.quat_mul(rot.quat_conjugate(frame), q), frame)


# ---------------------------------------------------------------------------------------------------------------------
# Writing.


def _format(values: np.ndarray) -> str:
    # Adding 0.0 turns -0.0 into 0.0; values that round to zero are written without a sign.
    return " ".join(f"{v + 0.0:.6f}" if abs(v) >= 5e-7 else "0.000000" for v in values)


def write_bvh(motion: Motion, path: Path) -> None:
    """Write ``motion`` as a Y-up BVH in metres (see the module docstring)."""
    skeleton = motion.skeleton
    offsets = _to_y_up(torch.from_numpy(skeleton.local_translation)).numpy()
    lines = ["HIERARCHY"]
    channel_names = " ".join(f"{axis}rotation" for axis in WRITE_ROTATION_ORDER)

    def emit(body: int, depth: int) -> None:
        pad = "  " * depth
        keyword = "ROOT" if body == 0 else "JOINT"
        lines.append(f"{pad}{keyword} {skeleton.node_names[body]}")
        lines.append(f"{pad}{{")
        offset = np.zeros(3) if body == 0 else offsets[body]
        lines.append(f"{pad}  OFFSET {_format(offset)}")
        if body == 0:
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition {channel_names}")
        else:
            lines.append(f"{pad}  CHANNELS 3 {channel_names}")
        children = skeleton.children(body)
        for child in children:
            emit(child, depth + 1)
        if not children:
            end = _to_y_up(
                torch.tensor(_END_SITES.get(skeleton.node_names[body], (0.0, 0.0, 0.05)), dtype=torch.float64)
            ).numpy()
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {_format(end)}", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    emit(0, 0)
    order = _hierarchy_order(skeleton)
    root_position = _to_y_up(motion.root_translation).numpy()
    local = _conjugate_to_y_up(motion.local_rotation[:, order])
    degrees = np.degrees(rot.quat_to_euler(local, WRITE_ROTATION_ORDER).numpy()).reshape(motion.num_frames, -1)
    frames = np.concatenate([root_position, degrees], axis=1)
    lines.extend(["MOTION", f"Frames: {motion.num_frames}", f"Frame Time: {1.0 / motion.fps:.8f}"])
    lines.extend(_format(row) for row in frames)
    with atomic_write(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def _hierarchy_order(skeleton: SkeletonTree) -> list[int]:
    """Body indices in the depth-first order the hierarchy is written (children in index order)."""
    order: list[int] = []

    def visit(body: int) -> None:
        order.append(body)
        for child in skeleton.children(body):
            visit(child)

    visit(0)
    return order


# ---------------------------------------------------------------------------------------------------------------------
# Reading.


@dataclass
class _Joint:
    name: str
    parent: int
    offset: np.ndarray
    channels: list[str] = field(default_factory=list)
    first_channel: int = 0


class _Tokens:
    """Whitespace-separated tokens of a text file, read a line at a time (a line of at most ``MAX_LINE`` characters)
    and kept with the line number, for error messages."""

    MAX_LINE = 65536

    def __init__(self, handle: TextIO, path: Path) -> None:
        self.handle = handle
        self.path = path
        self.line = 0
        self.pending: deque[str] = deque()

    def fail(self, problem: str) -> NoReturn:
        raise MotionFileError(self.path, f"line {self.line}: {problem}")

    def next(self, expected: str | None = None) -> str:
        while not self.pending:
            text = self.handle.readline(self.MAX_LINE + 1)
            if not text:
                raise MotionFileError(
                    self.path, f"unexpected end of file{f' (expected {expected!r})' if expected else ''}"
                )
            self.line += 1
            if len(text) > self.MAX_LINE:
                self.fail(f"longer than {self.MAX_LINE} characters; not a BVH hierarchy")
            self.pending.extend(text.split())
        token = self.pending.popleft()
        if expected is not None and token != expected:
            self.fail(f"expected {expected!r}, found {short_repr(token)}")
        return token

    def number(self, what: str = "a number") -> float:
        """The next token as a finite number."""
        token = self.next()
        try:
            value = float(token)
        except ValueError:
            self.fail(f"expected {what}, found {short_repr(token)}")
        if not math.isfinite(value):
            self.fail(f"expected {what}, found {token!r}")
        return value

    def integer(self, what: str, maximum: int) -> int:
        """The next token as an integer from 0 to ``maximum``."""
        token = self.next()
        if not token.isdigit() or int(token) > maximum:
            self.fail(f"{what} must be an integer from 0 to {maximum}, found {short_repr(token)}")
        return int(token)


def _parse_hierarchy(tokens: _Tokens) -> list[_Joint]:
    """The joints of the ``HIERARCHY`` section, parents first; parsed with an explicit stack, so any nesting depth
    parses (up to :data:`~isaacgymenvs.motion.limits.MAX_BVH_JOINTS` joints)."""
    tokens.next("HIERARCHY")
    if tokens.next() != "ROOT":
        tokens.fail("the hierarchy must start with ROOT")
    joints: list[_Joint] = []
    open_joints: list[int] = []  # the joints whose closing brace is still to come, innermost last
    channel_count = 0

    def open_joint(parent: int) -> None:
        if len(joints) >= MAX_BVH_JOINTS:
            tokens.fail(f"more than {MAX_BVH_JOINTS} joints (the AMP humanoid has {AMP_HUMANOID.num_bodies})")
        name = tokens.next()
        tokens.next("{")
        tokens.next("OFFSET")
        joints.append(_Joint(name, parent, np.array([tokens.number("an OFFSET value") for _ in range(3)])))
        open_joints.append(len(joints) - 1)

    open_joint(-1)
    while open_joints:
        joint = joints[open_joints[-1]]
        token = tokens.next()
        if token == "CHANNELS":
            count = tokens.integer("CHANNELS", len(_CHANNEL_NAMES))
            joint.channels = [tokens.next() for _ in range(count)]
            unknown = [name for name in joint.channels if name.lower() not in _CHANNEL_NAMES]
            if unknown:
                tokens.fail(f"joint {short_repr(joint.name)} has unknown channel {short_repr(unknown[0])}")
            joint.first_channel = channel_count
            channel_count += count
        elif token == "JOINT":
            open_joint(open_joints[-1])
        elif token == "End":
            tokens.next("Site")
            tokens.next("{")
            tokens.next("OFFSET")
            for _ in range(3):
                tokens.number("an OFFSET value")
            tokens.next("}")
        elif token == "}":
            open_joints.pop()
        else:
            tokens.fail(f"unexpected {short_repr(token)} in joint {short_repr(joint.name)}")
    return joints


def read_bvh(path: Path) -> Motion:
    """Read a BVH of the AMP humanoid (any units, channel orders and joint order; one frame per line) into a
    :class:`Motion`."""
    check_file_size(path)
    try:
        with open(path, encoding="utf-8") as handle:
            tokens = _Tokens(handle, path)
            joints = _parse_hierarchy(tokens)
            tokens.next("MOTION")
            tokens.next("Frames:")
            num_frames = tokens.integer("Frames:", MAX_FRAMES)
            tokens.next("Frame")
            tokens.next("Time:")
            frame_time = tokens.number("a positive number of seconds after 'Frame Time:'")
            if frame_time <= 0:
                tokens.fail(f"Frame Time must be positive, found {frame_time}")
            if tokens.pending:
                tokens.fail(f"unexpected {short_repr(tokens.pending[0])} after Frame Time")
            num_channels = sum(len(joint.channels) for joint in joints)
            data = _read_frames(handle, num_frames, num_channels, tokens.line, path)
    except FileNotFoundError:
        raise MotionFileError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MotionFileError(path, f"cannot read as text ({error})") from None
    return check_motion(_joints_to_motion(joints, data, frame_time, path), path)


def _read_frames(handle: TextIO, num_frames: int, num_channels: int, line: int, path: Path) -> np.ndarray:
    """The ``MOTION`` section's numbers ``[num_frames, num_channels]``: one frame per line, finite, nothing after."""
    expected = f"expected {num_frames} frames of {num_channels} channels"
    if num_frames < 2:
        raise MotionFileError(path, f"a motion needs at least 2 frames, found {num_frames}")
    if num_channels == 0:
        raise MotionFileError(path, "the hierarchy declares no CHANNELS")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy warns about empty input; the shape check below says it better
        try:
            data = np.loadtxt(handle, dtype=np.float64, comments=None, ndmin=2, max_rows=num_frames)
        except ValueError as error:
            problem = f"{str(error).split(';')[0].strip()[:200]}, counting from line {line + 1}"
            if "could not convert" in problem:
                raise MotionFileError(path, f"motion data is not numeric ({problem})") from None
            raise MotionFileError(path, f"{expected}, one per line ({problem})") from None
    if data.shape[0] != num_frames or (data.size and data.shape[1] != num_channels):
        found = f"{data.shape[0]} lines of {data.shape[1]} numbers" if data.size else "no numbers"
        raise MotionFileError(path, f"{expected} ({num_frames * num_channels} numbers), found {found}")
    while chunk := handle.read(65536):
        if chunk.strip():
            raise MotionFileError(path, f"{expected}, found more numbers after the last frame")
    if not np.isfinite(data).all():
        raise MotionFileError(path, "motion data contain NaN or inf")
    return data


def _joints_to_motion(joints: list[_Joint], data: np.ndarray, frame_time: float, path: Path) -> Motion:
    names = [joint.name for joint in joints]
    if sorted(names) != sorted(AMP_HUMANOID.node_names):
        # A short list is shown whole; a long one (mostly the same names) only by what differs.
        shown = f" ({', '.join(short_repr(name)[1:-1] for name in names)})" if len(names) <= 6 else ""
        raise MotionFileError(
            path,
            f"skeleton is not the AMP humanoid: found {len(names)} joints{shown}, the AMP humanoid has "
            f"{AMP_HUMANOID.num_bodies}: {names_difference(names, AMP_HUMANOID.node_names)}",
        )
    order = [names.index(name) for name in AMP_HUMANOID.node_names]
    parents = tuple(-1 if joints[i].parent < 0 else AMP_HUMANOID.index(names[joints[i].parent]) for i in order)
    if parents != AMP_HUMANOID.parent_indices:
        raise MotionFileError(path, "skeleton is not the AMP humanoid: the joint tree differs")
    offsets = _to_z_up(torch.from_numpy(np.stack([joints[i].offset for i in order]))).numpy()
    scale_index = AMP_HUMANOID.index(_SCALE_REFERENCE_BODY)
    reference_length = np.linalg.norm(AMP_HUMANOID.local_translation[scale_index])
    scale = np.linalg.norm(offsets[scale_index]) / reference_length
    if not scale > 0:
        raise MotionFileError(path, f"joint {_SCALE_REFERENCE_BODY!r} has a zero offset; cannot infer the units")
    offsets = offsets / scale
    offsets[0] = AMP_HUMANOID.local_translation[0]

    num_frames = data.shape[0]
    local = torch.zeros((num_frames, len(order), 4), dtype=torch.float64)
    root_position = torch.from_numpy(joints[order[0]].offset).expand(num_frames, 3).clone()
    for slot, joint_index in enumerate(order):  # a loop over joints
        joint = joints[joint_index]
        rotation_axes = "".join(c[0].upper() for c in joint.channels if c.lower().endswith("rotation"))
        columns = [joint.first_channel + k for k, c in enumerate(joint.channels) if c.lower().endswith("rotation")]
        if len(columns) == 3 and len(set(rotation_axes)) == 3:
            angles = torch.from_numpy(np.radians(data[:, columns]))
            local[:, slot] = rot.quat_from_euler(angles, rotation_axes)
        elif not columns:
            local[:, slot, 3] = 1.0
        else:
            raise MotionFileError(
                path, f"joint {joint.name!r} has rotation channels {rotation_axes!r}; expected three distinct axes"
            )
        if slot == 0:
            for k, channel in enumerate(joint.channels):
                if channel.lower().endswith("position"):
                    axis = "XYZ".index(channel[0].upper())
                    root_position[:, axis] += torch.from_numpy(data[:, joint.first_channel + k])
    fps = 1.0 / frame_time
    if abs(fps - round(fps)) < 1e-4 * fps:  # Frame Time is written with limited digits: 1/60 reads as 59.9999996
        fps = float(round(fps))
    return Motion(
        skeleton=SkeletonTree(AMP_HUMANOID.node_names, parents, offsets),
        local_rotation=_conjugate_to_z_up(local),
        root_translation=_to_z_up(root_position) / scale,
        fps=fps,
        name=Path(path).name,
    )
