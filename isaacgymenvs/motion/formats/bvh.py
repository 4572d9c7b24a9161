"""BVH (Biovision hierarchy) files of the AMP humanoid: a standard reader and a Blender-importable writer.

Written files are Y-up (the BVH convention; Blender's importer maps it back to Z-up with its default axes), in metres,
with an ``End Site`` after each leaf body, a 6-channel root (``Xposition Yposition Zposition`` then rotations) and
3 rotation channels per joint in ``Z X Y`` order, angles in degrees. A joint's channel rotations compose intrinsically
in the listed order (``R = Rz Rx Ry``), relative to its parent; the rest pose is the identity, as in poselib.

The reader accepts any channel order, any unit (the scale is inferred from the thigh-to-knee bone, so centimetres and
inches load too) and joints listed in any order, and requires the AMP humanoid's 15 bodies by name with its tree and
bone offsets. Non-root position channels are ignored (the bone lengths are the skeleton's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from isaacgymenvs.motion.io_utils import atomic_write
from isaacgymenvs.motion.motion import Motion, MotionFileError, check_motion
from isaacgymenvs.motion.skeleton import AMP_HUMANOID, SkeletonTree
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
    """Whitespace-separated tokens with their line numbers, for error messages."""

    def __init__(self, text: str, path: Path) -> None:
        self.items = [(token, number) for number, line in enumerate(text.splitlines(), 1) for token in line.split()]
        self.position = 0
        self.path = path

    def next(self, expected: str | None = None) -> str:
        if self.position >= len(self.items):
            raise MotionFileError(self.path, f"unexpected end of file{f' (expected {expected!r})' if expected else ''}")
        token, line = self.items[self.position]
        self.position += 1
        if expected is not None and token != expected:
            raise MotionFileError(self.path, f"line {line}: expected {expected!r}, found {token!r}")
        return token

    def number(self) -> float:
        token = self.next()
        try:
            return float(token)
        except ValueError:
            raise MotionFileError(
                self.path, f"line {self.items[self.position - 1][1]}: expected a number, found {token!r}"
            ) from None

    def peek(self) -> str | None:
        return self.items[self.position][0] if self.position < len(self.items) else None


def _parse_hierarchy(tokens: _Tokens) -> list[_Joint]:
    tokens.next("HIERARCHY")
    if tokens.next() != "ROOT":
        raise MotionFileError(tokens.path, "the hierarchy must start with ROOT")
    joints: list[_Joint] = []
    channel_count = 0

    def parse_joint(parent: int) -> None:
        nonlocal channel_count
        name = tokens.next()
        tokens.next("{")
        tokens.next("OFFSET")
        joint = _Joint(name, parent, np.array([tokens.number() for _ in range(3)]))
        index = len(joints)
        joints.append(joint)
        while True:
            token = tokens.next()
            if token == "CHANNELS":
                count = int(tokens.number())
                joint.channels = [tokens.next() for _ in range(count)]
                joint.first_channel = channel_count
                channel_count += count
            elif token == "JOINT":
                parse_joint(index)
            elif token == "End":
                tokens.next("Site")
                tokens.next("{")
                tokens.next("OFFSET")
                for _ in range(3):
                    tokens.number()
                tokens.next("}")
            elif token == "}":
                return
            else:
                raise MotionFileError(
                    tokens.path, f"line {tokens.items[tokens.position - 1][1]}: unexpected {token!r} in joint {name!r}"
                )

    parse_joint(-1)
    return joints


def read_bvh(path: Path) -> Motion:
    """Read a BVH of the AMP humanoid (any units, channel orders and joint order) into a :class:`Motion`."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise MotionFileError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MotionFileError(path, f"cannot read as text ({error})") from None
    tokens = _Tokens(text, path)
    joints = _parse_hierarchy(tokens)
    tokens.next("MOTION")
    tokens.next("Frames:")
    num_frames = int(tokens.number())
    tokens.next("Frame")
    tokens.next("Time:")
    frame_time = tokens.number()
    if frame_time <= 0:
        raise MotionFileError(path, f"Frame Time must be positive, found {frame_time}")
    num_channels = sum(len(joint.channels) for joint in joints)
    values = tokens.items[tokens.position :]
    if len(values) != num_frames * num_channels:
        raise MotionFileError(
            path,
            f"expected {num_frames} frames of {num_channels} channels "
            f"({num_frames * num_channels} numbers), found {len(values)} numbers",
        )
    try:
        data = np.array([float(token) for token, _ in values], dtype=np.float64).reshape(num_frames, num_channels)
    except ValueError as error:
        raise MotionFileError(path, f"motion data is not numeric ({error})") from None
    if not np.isfinite(data).all():
        raise MotionFileError(path, "motion data contain NaN or inf")
    return check_motion(_joints_to_motion(joints, data, frame_time, path), path)


def _joints_to_motion(joints: list[_Joint], data: np.ndarray, frame_time: float, path: Path) -> Motion:
    names = [joint.name for joint in joints]
    if sorted(names) != sorted(AMP_HUMANOID.node_names):
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        raise MotionFileError(
            path,
            f"skeleton is not the AMP humanoid: expected its {AMP_HUMANOID.describe()}, "
            f"found {len(names)} joints ({shown})",
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
