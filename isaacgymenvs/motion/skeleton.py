"""Skeletons, the AMP humanoid's body tree and joint layout, and the kinematics that connect them.

The AMP humanoid has 15 bodies in depth-first order (the Isaac Gym rigid-body index and the poselib skeleton index) and
28 degrees of freedom in 12 joint groups: 8 spherical joints (3 DOFs, an exponential map of the joint's local rotation)
and 4 hinges (knees and elbows, 1 DOF about the local y axis). These facts come from the original's MJCF and task
(``../shared/spec/humanoid_amp_reference.md`` sections 3.1-3.3). They live here, in the data layer, so that both the
motion library and the task read them from one place; the simulator checks its model against them.

Frames: z up, metres, quaternions (x, y, z, w). ``local_rotation[..., j, :]`` is body j's rotation relative to its
parent (for the root, its world rotation); ``local_translation[j]`` is body j's origin in its parent's frame.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch

from isaacgymenvs.motion.limits import short_repr
from isaacgymenvs.utils import rotations as rot


@dataclass(frozen=True, eq=False)
class SkeletonTree:
    """A kinematic tree: body names, parent indices (-1 for the root) and body offsets.

    Attributes:
        node_names: body names, parents before children.
        parent_indices: index of each body's parent, -1 for the root.
        local_translation: ``[num_bodies, 3]`` offset of each body's origin in its parent's frame (m); the root's entry
            is a placeholder overridden by the per-frame root translation.
    """

    node_names: tuple[str, ...]
    parent_indices: tuple[int, ...]
    local_translation: np.ndarray

    def __post_init__(self) -> None:
        offsets = np.asarray(self.local_translation, dtype=np.float64).reshape(len(self.node_names), 3)
        object.__setattr__(self, "local_translation", offsets)
        if len(self.parent_indices) != len(self.node_names):
            raise ValueError("parent_indices and node_names differ in length")
        for index, parent in enumerate(self.parent_indices):
            if not -1 <= parent < index or (parent == -1) != (index == 0):
                raise ValueError(f"body {self.node_names[index]!r}: parent {parent} must precede it (root first)")

    @property
    def num_bodies(self) -> int:
        return len(self.node_names)

    def index(self, name: str) -> int:
        """Index of the body called ``name``."""
        return self.node_names.index(name)

    def indices(self, names: tuple[str, ...] | list[str]) -> list[int]:
        """Indices of several bodies, in the order given."""
        return [self.index(name) for name in names]

    def children(self, index: int) -> list[int]:
        return [child for child, parent in enumerate(self.parent_indices) if parent == index]

    def describe(self, limit: int = 6) -> str:
        """A short description for error messages: the body count and the first names."""
        names = ", ".join(self.node_names[:limit]) + (", ..." if self.num_bodies > limit else "")
        return f"{self.num_bodies} bodies ({names})"


@dataclass(frozen=True)
class JointGroup:
    """The DOFs one body's joint contributes to the DOF vector.

    Attributes:
        body: the body the joint moves (its child body).
        joint_names: MJCF joint names of the group's DOFs (hinges x, y, z for a spherical joint).
        dof_offset: index of the group's first DOF.
        hinge_axis: for a 1-DOF group, its axis in the body frame; ``None`` for a 3-DOF (exp-map) group.
    """

    body: str
    joint_names: tuple[str, ...]
    dof_offset: int
    hinge_axis: tuple[float, float, float] | None = None

    @property
    def num_dofs(self) -> int:
        return len(self.joint_names)


@dataclass(frozen=True, eq=False)
class JointLayout:
    """How a skeleton's local rotations map to the DOF vector (the original's ``DOF_BODY_IDS`` / ``DOF_OFFSETS``)."""

    skeleton: SkeletonTree
    groups: tuple[JointGroup, ...]
    _index_cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def num_dofs(self) -> int:
        return sum(group.num_dofs for group in self.groups)

    @property
    def dof_names(self) -> tuple[str, ...]:
        return tuple(name for group in self.groups for name in group.joint_names)

    @property
    def dof_body_ids(self) -> list[int]:
        """Body index owning each joint group (``DOF_BODY_IDS``)."""
        return [self.skeleton.index(group.body) for group in self.groups]

    @property
    def dof_offsets(self) -> list[int]:
        """Start of each group in the DOF vector, plus the total at the end (``DOF_OFFSETS``)."""
        return [group.dof_offset for group in self.groups] + [self.num_dofs]

    def index_tensors(self, device: torch.device | str) -> dict[str, torch.Tensor]:
        """Gather/scatter indices for the vectorised DOF conversions, cached per device.

        Keys: ``ball_bodies`` ``[G3]`` and ``ball_dofs`` ``[G3, 3]`` for the 3-DOF groups; ``hinge_bodies`` ``[G1]``,
        ``hinge_dofs`` ``[G1]`` and ``hinge_axes`` ``[G1, 3]`` (float64) for the 1-DOF groups.
        """
        key = str(device)
        if key not in self._index_cache:
            balls = [g for g in self.groups if g.hinge_axis is None]
            hinges = [g for g in self.groups if g.hinge_axis is not None]
            long = {"dtype": torch.long, "device": device}
            self._index_cache[key] = {
                "ball_bodies": torch.tensor([self.skeleton.index(g.body) for g in balls], **long),
                "ball_dofs": torch.tensor([[g.dof_offset + i for i in range(3)] for g in balls], **long),
                "hinge_bodies": torch.tensor([self.skeleton.index(g.body) for g in hinges], **long),
                "hinge_dofs": torch.tensor([g.dof_offset for g in hinges], **long),
                "hinge_axes": torch.tensor([g.hinge_axis for g in hinges], dtype=torch.float64, device=device),
            }
        return self._index_cache[key]


# ---------------------------------------------------------------------------------------------------------------------
# The AMP humanoid (facts from the original MJCF; spec section 3).

AMP_BODY_NAMES: tuple[str, ...] = (
    "pelvis", "torso", "head",
    "right_upper_arm", "right_lower_arm", "right_hand",
    "left_upper_arm", "left_lower_arm", "left_hand",
    "right_thigh", "right_shin", "right_foot",
    "left_thigh", "left_shin", "left_foot",
)  # fmt: skip
AMP_PARENT_INDICES: tuple[int, ...] = (-1, 0, 1, 1, 3, 4, 1, 6, 7, 0, 9, 10, 0, 12, 13)
AMP_BODY_OFFSETS = np.array(
    [
        [0.0, 0.0, 1.0],
        [0.0, 0.0, 0.236151],
        [0.0, 0.0, 0.223894],
        [-0.02405, -0.18311, 0.2435],
        [0.0, 0.0, -0.274788],
        [0.0, 0.0, -0.258947],
        [-0.02405, 0.18311, 0.2435],
        [0.0, 0.0, -0.274788],
        [0.0, 0.0, -0.258947],
        [0.0, -0.084887, 0.0],
        [0.0, 0.0, -0.421546],
        [0.0, 0.0, -0.40987],
        [0.0, 0.084887, 0.0],
        [0.0, 0.0, -0.421546],
        [0.0, 0.0, -0.40987],
    ]
)
AMP_KEY_BODY_NAMES: tuple[str, ...] = ("right_hand", "left_hand", "right_foot", "left_foot")
AMP_FOOT_BODY_NAMES: tuple[str, ...] = ("right_foot", "left_foot")

AMP_HUMANOID = SkeletonTree(AMP_BODY_NAMES, AMP_PARENT_INDICES, AMP_BODY_OFFSETS)


def _amp_groups() -> tuple[JointGroup, ...]:
    # (body, joint name prefix, is spherical) in the original's DOF order.
    spec = [
        ("torso", "abdomen", True), ("head", "neck", True),
        ("right_upper_arm", "right_shoulder", True), ("right_lower_arm", "right_elbow", False),
        ("left_upper_arm", "left_shoulder", True), ("left_lower_arm", "left_elbow", False),
        ("right_thigh", "right_hip", True), ("right_shin", "right_knee", False), ("right_foot", "right_ankle", True),
        ("left_thigh", "left_hip", True), ("left_shin", "left_knee", False), ("left_foot", "left_ankle", True),
    ]  # fmt: skip
    groups, offset = [], 0
    for body, prefix, spherical in spec:
        if spherical:
            groups.append(JointGroup(body, (f"{prefix}_x", f"{prefix}_y", f"{prefix}_z"), offset))
            offset += 3
        else:
            groups.append(JointGroup(body, (prefix,), offset, hinge_axis=(0.0, 1.0, 0.0)))
            offset += 1
    return tuple(groups)


AMP_JOINT_LAYOUT = JointLayout(AMP_HUMANOID, _amp_groups())


# ---------------------------------------------------------------------------------------------------------------------
# Kinematics.


def forward_kinematics(
    local_rotation: torch.Tensor, root_translation: torch.Tensor, skeleton: SkeletonTree
) -> tuple[torch.Tensor, torch.Tensor]:
    """Global rotations and positions of every body.

    Args:
        local_rotation: ``[..., J, 4]`` local rotations (xyzw); the root's entry is its world rotation.
        root_translation: ``[..., 3]`` world position of the root body's origin (m).
        skeleton: the tree (J bodies).

    Returns:
        ``(global_rotation [..., J, 4], global_translation [..., J, 3])``; rotations normalised with ``w >= 0`` as
        poselib's ``quat_mul_norm`` gives them.
    """
    offsets = torch.as_tensor(skeleton.local_translation, dtype=local_rotation.dtype, device=local_rotation.device)
    rotations = [rot.quat_positive(rot.quat_normalize(local_rotation[..., 0, :]))]
    positions = [root_translation]
    for body in range(1, skeleton.num_bodies):  # a loop over joints, not frames or envs
        parent = skeleton.parent_indices[body]
        rotations.append(rot.quat_mul_norm(rotations[parent], local_rotation[..., body, :]))
        positions.append(
            rot.quat_rotate(rotations[parent], offsets[body].expand_as(root_translation)) + positions[parent]
        )
    return torch.stack(rotations, dim=-2), torch.stack(positions, dim=-2)


def global_to_local_rotation(global_rotation: torch.Tensor, skeleton: SkeletonTree) -> torch.Tensor:
    """Local rotations ``[..., J, 4]`` from global ones ``[..., J, 4]`` (the root keeps its world rotation)."""
    parents = torch.tensor([max(p, 0) for p in skeleton.parent_indices], device=global_rotation.device)
    local = rot.quat_mul(rot.quat_conjugate(global_rotation[..., parents, :]), global_rotation)
    local = torch.cat([global_rotation[..., :1, :], local[..., 1:, :]], dim=-2)
    return rot.quat_positive(rot.quat_normalize(local))


def local_rotation_to_dof_pos(local_rotation: torch.Tensor, layout: JointLayout = AMP_JOINT_LAYOUT) -> torch.Tensor:
    """DOF positions ``[..., D]`` from local rotations ``[..., J, 4]`` (the original's ``_local_rotation_to_dof``).

    A 3-DOF group is the exp map of its body's local rotation; a 1-DOF group is the signed angle of that rotation about
    the hinge axis (the component of its exp map along the axis, which the original computes as
    ``normalize_angle(angle * axis_y)``).
    """
    idx = layout.index_tensors(local_rotation.device)
    dof_pos = local_rotation.new_zeros((*local_rotation.shape[:-2], layout.num_dofs))
    ball_exp = rot.quat_to_exp_map(local_rotation[..., idx["ball_bodies"], :])
    dof_pos[..., idx["ball_dofs"].reshape(-1)] = ball_exp.reshape(*ball_exp.shape[:-2], -1)
    hinge_exp = rot.quat_to_exp_map(local_rotation[..., idx["hinge_bodies"], :])
    dof_pos[..., idx["hinge_dofs"]] = (hinge_exp * idx["hinge_axes"].to(hinge_exp.dtype)).sum(-1)
    return dof_pos


def dof_pos_to_local_rotation(
    dof_pos: torch.Tensor, root_rotation: torch.Tensor, layout: JointLayout = AMP_JOINT_LAYOUT
) -> torch.Tensor:
    """Local rotations ``[..., J, 4]`` from DOF positions ``[..., D]`` and the root's world rotation ``[..., 4]``.

    The inverse of :func:`local_rotation_to_dof_pos`; bodies without a joint group (the hands) get the identity.
    """
    idx = layout.index_tensors(dof_pos.device)
    local = rot.quat_identity(
        (*dof_pos.shape[:-1], layout.skeleton.num_bodies), dtype=dof_pos.dtype, device=dof_pos.device
    )
    local[..., 0, :] = root_rotation
    local[..., idx["ball_bodies"], :] = rot.exp_map_to_quat(dof_pos[..., idx["ball_dofs"]])
    axes = idx["hinge_axes"].to(dof_pos.dtype)
    local[..., idx["hinge_bodies"], :] = rot.quat_from_angle_axis(
        dof_pos[..., idx["hinge_dofs"]], axes.expand(*dof_pos.shape[:-1], -1, 3)
    )
    return local


def compute_dof_velocities(
    local_rotation: torch.Tensor, fps: float, layout: JointLayout = AMP_JOINT_LAYOUT
) -> torch.Tensor:
    """Per-frame DOF velocities ``[F, D]`` (rad/s) as the original motion library computes them at load time.

    Between frames f and f+1 the joint's rotation increment in its own (child) frame, ``inv(r_f) ⊗ r_{f+1}``, is
    turned into axis times angle times fps; 3-DOF groups keep all three components, hinges the component along their
    axis. The last frame repeats the one before it. Unfiltered, as in the original.

    Args:
        local_rotation: ``[F, J, 4]`` local rotations, F >= 2.
        fps: frames per second.
        layout: the joint layout.
    """
    increment = rot.quat_mul_norm(rot.quat_conjugate(local_rotation[:-1]), local_rotation[1:])
    body_velocity = rot.quat_to_exp_map(increment) * fps  # [F-1, J, 3], child frame
    body_velocity = torch.cat([body_velocity, body_velocity[-1:]], dim=0)
    idx = layout.index_tensors(local_rotation.device)
    dof_vel = local_rotation.new_zeros((local_rotation.shape[0], layout.num_dofs))
    ball = body_velocity[:, idx["ball_bodies"], :]
    dof_vel[:, idx["ball_dofs"].reshape(-1)] = ball.reshape(ball.shape[0], -1)
    hinge = body_velocity[:, idx["hinge_bodies"], :]
    dof_vel[:, idx["hinge_dofs"]] = (hinge * idx["hinge_axes"].to(hinge.dtype)).sum(-1)
    return dof_vel


def skeleton_mismatch(
    candidate: SkeletonTree, reference: SkeletonTree = AMP_HUMANOID, tolerance: float = 1e-3
) -> str | None:
    """Why ``candidate`` is not ``reference`` (names, tree or body offsets beyond ``tolerance`` m), or None."""
    if candidate.node_names != reference.node_names:
        return f"found {candidate.num_bodies} bodies, the AMP humanoid has {reference.num_bodies}: " + names_difference(
            candidate.node_names, reference.node_names
        )
    if candidate.parent_indices != reference.parent_indices:
        return f"the body tree differs from the AMP humanoid's (parents {list(candidate.parent_indices)})"
    error = np.abs(candidate.local_translation[1:] - reference.local_translation[1:]).max(axis=-1)
    worst = int(error.argmax())
    if error[worst] > tolerance:
        name = candidate.node_names[worst + 1]
        return (
            f"body {name!r} is offset {candidate.local_translation[worst + 1].round(4).tolist()} from its parent, "
            f"the AMP humanoid has {reference.local_translation[worst + 1].round(4).tolist()}"
        )
    return None


def names_difference(found: tuple[str, ...] | list[str], expected: tuple[str, ...] | list[str]) -> str:
    """What differs between the body or joint names ``found`` in a file and those ``expected``, for a message: the
    missing and unexpected names (the first few of each), repeated names, or else that only the order differs."""

    def listed(names: list[str], limit: int = 5) -> str:
        shown = ", ".join(short_repr(name) for name in names[:limit])
        return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")

    expected_set = set(expected)
    found_set = set(found)
    missing = [name for name in expected if name not in found_set]
    unexpected = [name for name in dict.fromkeys(found) if name not in expected_set]
    parts = []
    if missing:
        parts.append(f"missing {listed(missing)}")
    if unexpected:
        parts.append(f"unexpected {listed(unexpected)}")
    repeated = [name for name, count in Counter(found).items() if count > 1]
    if repeated:
        parts.append(f"repeated {listed(repeated)}")
    if not missing and not unexpected and not repeated:
        parts.append(f"the same names in another order (expected {', '.join(expected)})")
    return "; ".join(parts)
