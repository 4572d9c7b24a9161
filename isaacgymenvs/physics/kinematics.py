"""Rotation and forward-kinematics maths for the simulator's hot path, in a component-major layout.

Eager torch on a CPU runs an element-wise operation on a contiguous ``[bodies, envs]`` plane at memory speed, but on
the components of ``[..., 4]`` quaternions or ``[..., 3, 3]`` matrices (stride 4 or 9, inner loop of 3 or 4) it runs
10-30 times slower per element: the per-step conversions of a few thousand environments spent most of their time
there. So the functions here keep every component in its own plane: quaternions are ``[4, ...]`` (x, y, z, w: the
project's order, :mod:`isaacgymenvs.utils.rotations`, only moved to the front), vectors ``[3, ...]``, rotation matrices
``[3, 3, ...]``, with environments on the last (contiguous) dimension. The formulas are those of
:mod:`isaacgymenvs.utils.rotations`, written per component; ``tests/test_kinematics_layout.py`` checks them against it.

:class:`BodyTree` holds what forward kinematics needs of one character: its bodies in breadth-first order (each depth
level a contiguous run, so a level is one slice), each body's joint as up to three elementary rotations (a 3-DOF group:
x, y, z; a hinge: its axis), and the body offsets.
"""

from __future__ import annotations

import numpy as np
import torch

from isaacgymenvs.motion.skeleton import JointLayout
from isaacgymenvs.utils import rotations as rot


def quat_mul_planes(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product ``a ⊗ b`` of ``[4, ...]`` quaternions (x, y, z, w planes)."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return torch.stack(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ]
    )


def quat_rotate_planes(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate ``[3, ...]`` vectors by unit ``[4, ...]`` quaternions (:func:`rotations.quat_rotate`'s formula)."""
    x, y, z, w = q
    vx, vy, vz = v
    a = 2.0 * w * w - 1.0
    dot2 = 2.0 * (x * vx + y * vy + z * vz)
    w2 = 2.0 * w
    return torch.stack(
        [
            vx * a + w2 * (y * vz - z * vy) + x * dot2,
            vy * a + w2 * (z * vx - x * vz) + y * dot2,
            vz * a + w2 * (x * vy - y * vx) + z * dot2,
        ]
    )


def quat_to_matrix_planes(q: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``[3, 3, ...]`` of unit ``[4, ...]`` quaternions."""
    x, y, z, w = q
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    return torch.stack(
        [
            1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy),
            2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx),
            2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy),
        ]
    ).view(3, 3, *q.shape[1:])  # fmt: skip


def quat_to_exp_map_planes(q: torch.Tensor) -> torch.Tensor:
    """Rotation vectors ``[3, ...]`` of ``[4, ...]`` quaternions (:func:`rotations.quat_to_exp_map`'s formula)."""
    q = torch.where(q[3] < 0, -q, q)
    vector, w = q[:3], q[3]
    sin_half = torch.sqrt(vector[0] * vector[0] + vector[1] * vector[1] + vector[2] * vector[2])
    angle = 2.0 * torch.atan2(sin_half, w)
    scale = torch.where(sin_half > 1e-12, angle / sin_half.clamp_min(1e-12), 2.0 / w.clamp_min(1e-12))
    return vector * scale


def exp_map_to_quat_planes(exp_map: torch.Tensor) -> torch.Tensor:
    """Quaternions ``[4, ...]`` of ``[3, ...]`` rotation vectors (:func:`rotations.exp_map_to_quat`'s formula)."""
    angle = torch.sqrt(exp_map[0] * exp_map[0] + exp_map[1] * exp_map[1] + exp_map[2] * exp_map[2])
    half = 0.5 * angle
    sinc_half = torch.where(angle > 1e-6, torch.sin(half) / angle.clamp_min(1e-12), 0.5 - angle * angle / 48.0)
    return torch.cat([exp_map * sinc_half, torch.cos(half).unsqueeze(0)])


def slerp_planes(q0: torch.Tensor, q1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of unit ``[4, ...]`` quaternions at ``t`` (broadcast against ``q0[0]``), along the
    shorter arc, unclamped, with the normalised linear interpolation for nearly identical inputs
    (:func:`rotations.slerp`, whose weights :func:`rotations.slerp_weights` gives)."""
    cos_half = q0[0] * q1[0] + q0[1] * q1[1] + q0[2] * q1[2] + q0[3] * q1[3]
    w0, w1, t1, near = rot.slerp_weights(cos_half, t)
    linear = (1.0 - t) * q0 + t1 * q1
    linear = linear / torch.sqrt((linear * linear).sum(0)).clamp_min(1e-12)
    return torch.where(near, linear, w0 * q0 + w1 * q1)


def quat_to_euler_xyz_planes(q: torch.Tensor) -> torch.Tensor:
    """Intrinsic x-y-z Euler angles ``[3, ...]`` of ``[4, ...]`` quaternions (:func:`rotations.quat_to_euler`'s
    formula for order ``"XYZ"``, gimbal lock included), from the six matrix entries it reads."""
    q = q / torch.sqrt((q * q).sum(0)).clamp_min(1e-12)
    x, y, z, w = q
    xx, yy, zz = x * x, y * y, z * z
    m00, m01, m02 = 1 - 2 * (yy + zz), 2 * (x * y - w * z), 2 * (x * z + w * y)
    m11, m12 = 1 - 2 * (xx + zz), 2 * (y * z - w * x)
    m21, m22 = 2 * (y * z + w * x), 1 - 2 * (xx + yy)
    cos_middle = torch.sqrt(m00 * m00 + m01 * m01)
    middle = torch.atan2(m02, cos_middle)
    locked = cos_middle < 1e-7
    first = torch.where(locked, torch.atan2(m21, m11), torch.atan2(-m12, m22))
    last = torch.where(locked, torch.zeros_like(m00), torch.atan2(-m01, m00))
    return torch.stack([first, middle, last])


def quat_to_tan_norm_planes(q: torch.Tensor) -> torch.Tensor:
    """The tangent-and-normal encoding ``[6, ...]`` of ``[4, ...]`` quaternions (:func:`rotations.quat_to_tan_norm`)."""
    x, y, z, w = q
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w),
            2 * (x * z + y * w), 2 * (y * z - x * w), 1 - 2 * (x * x + y * y),
        ]
    )  # fmt: skip


def body_velocities_from_cvel(
    cvel: torch.Tensor, body_pos: torch.Tensor, subtree_com: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Angular and linear velocities ``[N, B, 3]`` of each body's origin from MuJoCo's ``cvel`` ``[N, B, 6]``
    ([angular, linear] at the tree's centre of mass ``subtree_com`` ``[N, 1, 3]``), bodies at ``body_pos``
    ``[N, B, 3]``; world frame (:class:`isaacgymenvs.physics.backend.LazyBodyVelocities`, for every backend)."""
    angular = cvel[..., 0:3]
    return angular, cvel[..., 3:6] + torch.linalg.cross(angular, body_pos - subtree_com, dim=-1)


def _elementary_quat(axis: np.ndarray, sine: bool) -> np.ndarray:
    """(x, y, z, w) of the rotation about ``axis`` by angle t: ``cos(t/2)`` part (identity) or ``sin(t/2)`` part."""
    return np.array([*axis, 0.0]) if sine else np.array([0.0, 0.0, 0.0, 1.0])


def _quat_mul_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return quat_mul_planes(torch.from_numpy(a), torch.from_numpy(b)).numpy()


class BodyTree:
    """A character's bodies, joints and offsets, arranged for :meth:`local_quats` and :meth:`forward_kinematics`.

    Args:
        layout: the DOF layout (3-DOF groups are intrinsic x-y-z hinge triplets, 1-DOF groups hinges about an axis).
        offsets: ``[B, 3]`` each body's origin in its parent's frame (m), canonical order.
        device: where the index and coefficient tensors live.
    """

    def __init__(self, layout: JointLayout, offsets: np.ndarray, device: torch.device | str = "cpu") -> None:
        parents = layout.skeleton.parent_indices
        num_bodies, num_dofs = len(parents), layout.num_dofs
        # Breadth-first order: every depth level is a contiguous run, written as one slice.
        order, frontier, levels = [0], [0], []
        while frontier:
            children = [body for parent in frontier for body in range(num_bodies) if parents[body] == parent]
            if children:
                levels.append((len(order), len(order) + len(children), [order.index(parents[c]) for c in children]))
            order.extend(children)
            frontier = children
        self.num_bodies = num_bodies
        self.order = torch.tensor(order, dtype=torch.long, device=device)  # internal position -> canonical body
        self.canonical = torch.tensor(np.argsort(order), dtype=torch.long, device=device)  # canonical -> internal
        self.levels = [(start, end, torch.tensor(p, dtype=torch.long, device=device)) for start, end, p in levels]
        # Each non-root body's joint as three elementary rotations (angles read from the hinge vector, padded with a
        # zero at index num_dofs for unused slots) and the trilinear map from their half-angle cosines and sines to
        # the body's quaternion: q = sum over (k1, k2, k3) of coefficient * f1[k1] f2[k2] f3[k3], f = (cos, sin).
        slots = np.full((3, num_bodies - 1), num_dofs)
        coefficients = np.zeros((num_bodies - 1, 4, 8))
        x_y_z = np.eye(3)
        for position, body in enumerate(order[1:]):
            axes = x_y_z
            group = next((g for g in layout.groups if layout.skeleton.index(g.body) == body), None)
            if group is not None:
                slots[: group.num_dofs, position] = range(group.dof_offset, group.dof_offset + group.num_dofs)
                if group.hinge_axis is not None:
                    axes = [np.asarray(group.hinge_axis, dtype=np.float64), *x_y_z[1:]]
            for corner in range(8):
                sines = [(corner >> (2 - i)) & 1 for i in range(3)]
                quats = [_elementary_quat(axes[i], bool(sines[i])) for i in range(3)]
                coefficients[position, :, corner] = _quat_mul_np(quats[0], _quat_mul_np(quats[1], quats[2]))
        self._angle_index = torch.tensor(slots.reshape(-1), dtype=torch.long, device=device)
        self._coefficients = torch.tensor(coefficients, dtype=torch.float64, device=device)  # [B-1, 4, 8]
        self._offsets = torch.tensor(np.asarray(offsets)[order].T.copy(), dtype=torch.float64, device=device)  # [3, B]
        self._by_dtype = {
            dtype: (self._coefficients.to(dtype), self._offsets.to(dtype)) for dtype in (torch.float32, torch.float64)
        }
        self.num_dofs = num_dofs

    def _constants(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """The coefficients and offsets in ``dtype`` (float32 and float64 converted once, not every step)."""
        if dtype in self._by_dtype:
            return self._by_dtype[dtype]
        return self._coefficients.to(dtype), self._offsets.to(dtype)

    def local_quats(self, root_rot: torch.Tensor, hinge_pos: torch.Tensor) -> torch.Tensor:
        """Local rotations ``[4, B, n]`` in internal order (the root's: ``root_rot`` ``[4, n]``) from hinge angles
        ``[D, n]`` (rad)."""
        n = hinge_pos.shape[1]
        padded = torch.cat([hinge_pos, hinge_pos.new_zeros((1, n))])
        half = 0.5 * padded.index_select(0, self._angle_index).view(3, self.num_bodies - 1, n)
        cos, sin = torch.cos(half), torch.sin(half)
        first = torch.stack([cos[0] * cos[1], cos[0] * sin[1], sin[0] * cos[1], sin[0] * sin[1]])  # [4, B-1, n]
        corners = torch.stack([first * cos[2], first * sin[2]], dim=1).view(8, self.num_bodies - 1, n)
        coefficients = self._constants(hinge_pos.dtype)[0]
        joints = torch.bmm(coefficients, corners.transpose(0, 1))  # [B-1, 4, n]
        return torch.cat([root_rot.unsqueeze(1), joints.transpose(0, 1)], dim=1)

    def forward_kinematics(
        self, local_quats: torch.Tensor, root_pos: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """World rotation matrices ``[3, 3, B, n]`` and origins ``[3, B, n]`` (internal order) from local rotations
        ``[4, B, n]`` (:meth:`local_quats`) and the root origin ``[3, n]``."""
        local = quat_to_matrix_planes(local_quats)
        offsets = self._constants(local.dtype)[1]
        world = torch.empty_like(local)
        positions = local.new_empty((3, self.num_bodies, local.shape[-1]))
        world[:, :, 0] = local[:, :, 0]
        positions[:, 0] = root_pos
        for start, end, parents in self.levels:  # one slice per depth level (4 for the humanoid)
            parent_rot = world.index_select(2, parents)  # [3, 3, k, n]
            # Columns of the parent's rotation ([3, k, n] each) and rows of the child's ([3, k, n] each): views
            # made in one call each, since at these sizes every view costs about what a small product does.
            column_0, column_1, column_2 = parent_rot.unbind(1)
            row_0, row_1, row_2 = local[:, :, start:end].unbind(0)
            product = column_0.unsqueeze(1) * row_0
            product += column_1.unsqueeze(1) * row_1
            product += column_2.unsqueeze(1) * row_2
            world[:, :, start:end] = product
            offset_x, offset_y, offset_z = offsets[:, start:end, None].unbind(0)  # [k, 1] each
            moved = positions.index_select(1, parents)
            moved += column_0 * offset_x
            moved += column_1 * offset_y
            moved += column_2 * offset_z
            positions[:, start:end] = moved
        return world, positions
