"""Conversions between the simulator's hinge angles and the original task's DOF convention.

The original humanoid's 3-DOF joints were Isaac Gym spherical joints whose coordinates are exponential maps (rotation
vectors) and whose velocities are angular velocities; the motion library and every observation use that convention.
MuJoCo has no such joint, so our model keeps the MJCF's three hinges per joint, composed as ``R = Rx(a) Ry(b) Rz(c)``
(intrinsic x-y-z Euler angles). The functions here translate, batched and in torch, so that the task (and any future
backend with the same hinge model, e.g. MuJoCo Warp) sees exactly the original's DOFs:

* positions: hinge triplet ``(a, b, c)`` <-> exp map of ``Rx(a) Ry(b) Rz(c)``;
* velocities: hinge rates ``(a', b', c')`` <-> the joint's angular velocity in its own (child) frame,
  ``w = J(b, c) [a', b', c']`` with ``J = [[cos b cos c, sin c, 0], [-cos b sin c, cos c, 0], [sin b, 0, 1]]`` -- the
  same quantity the motion library's DOF velocities are;
* 1-DOF groups (knees, elbows) pass through unchanged.

Every rotation has two x-y-z Euler decompositions, ``(a, b, c)`` and ``(a + pi, pi - b, c + pi)``; the hip and shoulder
y ranges reach past 90 degrees, so the one that respects the joint limits is chosen (the closer one to a reference pose
when both do).
"""

from __future__ import annotations

import math

import torch

from isaacgymenvs.motion.skeleton import JointLayout
from isaacgymenvs.physics import kinematics as kin
from isaacgymenvs.utils import rotations as rot

# Below this |cos b| the hinge-rate Jacobian is treated as singular (gimbal lock, b at +-90 degrees).
GIMBAL_EPSILON = 1e-4


class HingeJointMap:
    """DOF-vector conversions for a joint layout whose 3-DOF groups are x-y-z hinge triplets.

    The public methods take and return ``[..., D]`` tensors; the ``*_planes`` methods, which the backend calls every
    step, take and return DOF-major ``[D, n]`` planes (:mod:`isaacgymenvs.physics.kinematics` says why).

    Args:
        layout: the DOF layout (group offsets; 3-DOF groups are the triplets).
        lower: ``[D]`` hinge lower limits (rad), in DOF order.
        upper: ``[D]`` hinge upper limits (rad).
        device: where the index tensors live.
    """

    def __init__(
        self, layout: JointLayout, lower: torch.Tensor, upper: torch.Tensor, device: torch.device | str = "cpu"
    ) -> None:
        self.layout = layout
        idx = layout.index_tensors(device)
        self.ball_dofs = idx["ball_dofs"]  # [G3, 3]
        self.num_balls = self.ball_dofs.shape[0]
        self.hinge_dofs = idx["hinge_dofs"]  # [G1]
        self.ball_bodies = idx["ball_bodies"]  # [G3]
        self.hinge_bodies = idx["hinge_bodies"]  # [G1]
        self.hinge_axes = idx["hinge_axes"].float()  # [G1, 3]
        # The 3-DOF groups' rows of a [D, n] plane, component-major: all first angles, then all second, then third.
        self.ball_rows = self.ball_dofs.T.reshape(-1)  # [3 G3]
        self.ball_lower = lower.to(device)[self.ball_dofs].T.unsqueeze(-1)  # [3, G3, 1]
        self.ball_upper = upper.to(device)[self.ball_dofs].T.unsqueeze(-1)

    # --- [..., D] tensors -----------------------------------------------------------------------------------------

    def hinges_to_dof_pos(self, hinge_pos: torch.Tensor) -> torch.Tensor:
        """DOF positions ``[..., D]`` (exp maps for 3-DOF groups) from hinge angles ``[..., D]`` (rad)."""
        return _from_planes(self.hinge_planes_to_dof_pos(_to_planes(hinge_pos)), hinge_pos.shape)

    def hinges_to_dof_vel(self, hinge_pos: torch.Tensor, hinge_vel: torch.Tensor) -> torch.Tensor:
        """DOF velocities ``[..., D]`` (child-frame angular velocity for 3-DOF groups) from hinge rates ``[..., D]``."""
        planes = self.hinge_planes_to_dof_vel(_to_planes(hinge_pos), _to_planes(hinge_vel))
        return _from_planes(planes, hinge_vel.shape)

    def local_rotations(self, root_rot: torch.Tensor, hinge_pos: torch.Tensor) -> torch.Tensor:
        """Every body's local rotation ``[N, B, 4]`` (the root's is ``root_rot`` ``[N, 4]``; bodies without a joint,
        the hands, the identity) from hinge angles ``[N, D]``."""
        local = rot.quat_identity(
            (hinge_pos.shape[0], self.layout.skeleton.num_bodies), dtype=hinge_pos.dtype, device=hinge_pos.device
        )
        local[:, 0] = root_rot
        local[:, self.ball_bodies] = rot.quat_from_euler(hinge_pos[:, self.ball_dofs], "XYZ")
        angles = hinge_pos[:, self.hinge_dofs]
        local[:, self.hinge_bodies] = rot.quat_from_angle_axis(
            angles, self.hinge_axes.to(hinge_pos.dtype).expand(*angles.shape, 3)
        )
        return local

    def local_rotations_to_dof_pos(self, local: torch.Tensor, hinge_pos: torch.Tensor) -> torch.Tensor:
        """DOF positions ``[N, D]`` from :meth:`local_rotations`' output and the hinge angles it came from."""
        dof_pos = hinge_pos.clone()
        dof_pos[:, self.ball_dofs] = rot.quat_to_exp_map(local[:, self.ball_bodies])
        return dof_pos

    def dof_pos_to_hinges(self, dof_pos: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
        """Hinge angles ``[..., D]`` that reproduce DOF positions ``[..., D]`` exactly (no clamping).

        Of the two Euler decompositions of each 3-DOF group, the one with the smaller total limit violation is chosen;
        when both lie within the limits, the one closer to ``reference`` ``[..., D]`` (hinge angles), if given.
        """
        reference_planes = None if reference is None else _to_planes(reference.expand_as(dof_pos))
        return _from_planes(self.dof_planes_to_hinges(_to_planes(dof_pos), reference_planes), dof_pos.shape)

    def dof_vel_to_hinges(self, hinge_pos: torch.Tensor, dof_vel: torch.Tensor) -> torch.Tensor:
        """Hinge rates ``[..., D]`` that produce DOF velocities ``[..., D]`` at hinge angles ``hinge_pos``.

        Near gimbal lock (``|cos b| < 1e-4``) the rates are those of the nearest non-singular pose.
        """
        planes = self.dof_vel_planes_to_hinges(_to_planes(hinge_pos), _to_planes(dof_vel))
        return _from_planes(planes, dof_vel.shape)

    # --- [D, n] planes --------------------------------------------------------------------------------------------

    def _balls(self, planes: torch.Tensor) -> torch.Tensor:
        """The 3-DOF groups' angles of ``[D, n]`` planes as ``[3, G3, n]``."""
        return planes.index_select(0, self.ball_rows).view(3, self.num_balls, planes.shape[-1])

    def with_balls(self, planes: torch.Tensor, balls: torch.Tensor) -> torch.Tensor:
        """``[D, n]`` planes with the 3-DOF groups' rows replaced by ``balls`` ``[3, G3, n]``."""
        return planes.index_copy(0, self.ball_rows, balls.reshape(-1, planes.shape[-1]))

    def hinge_planes_to_dof_pos(self, hinge_pos: torch.Tensor) -> torch.Tensor:
        """DOF positions ``[D, n]`` from hinge angles ``[D, n]``."""
        half = 0.5 * self._balls(hinge_pos)
        return self.with_balls(hinge_pos, kin.quat_to_exp_map_planes(_euler_xyz_to_quat(half)))

    def hinge_planes_to_dof_vel(self, hinge_pos: torch.Tensor, hinge_vel: torch.Tensor) -> torch.Tensor:
        """DOF velocities ``[D, n]`` from hinge angles and rates ``[D, n]``."""
        angles, rates = self._balls(hinge_pos), self._balls(hinge_vel)
        return self.with_balls(hinge_vel, _euler_rates_to_angular_velocity(angles, rates))

    def dof_planes_to_hinges(self, dof_pos: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
        """Hinge angles ``[D, n]`` from DOF positions ``[D, n]`` (see :meth:`dof_pos_to_hinges`)."""
        first = kin.quat_to_euler_xyz_planes(kin.exp_map_to_quat_planes(self._balls(dof_pos)))  # [3, G3, n]
        # (a + pi, pi - b, c + pi), wrapped into [-pi, pi) by remainder (cheaper than atan2 of sin and cos).
        flip = torch.tensor([1.0, -1.0, 1.0], dtype=first.dtype, device=first.device).view(3, 1, 1)
        second = torch.remainder(first * flip + 2.0 * math.pi, 2.0 * math.pi) - math.pi
        lower, upper = self.ball_lower.to(first.dtype), self.ball_upper.to(first.dtype)
        violation_first = _limit_violation(first, lower, upper)
        violation_second = _limit_violation(second, lower, upper)
        take_second = violation_second < violation_first - 1e-9
        if reference is not None:
            ref = self._balls(reference)
            both_valid = (violation_first <= 1e-9) & (violation_second <= 1e-9)
            closer = (second - ref).abs().sum(0) < (first - ref).abs().sum(0)
            take_second = take_second | (both_valid & closer)
        return self.with_balls(dof_pos, torch.where(take_second, second, first))

    def dof_vel_planes_to_hinges(self, hinge_pos: torch.Tensor, dof_vel: torch.Tensor) -> torch.Tensor:
        """Hinge rates ``[D, n]`` from hinge angles and DOF velocities ``[D, n]``."""
        angles, velocity = self._balls(hinge_pos), self._balls(dof_vel)
        return self.with_balls(dof_vel, _angular_velocity_to_euler_rates(angles, velocity))


def _to_planes(values: torch.Tensor) -> torch.Tensor:
    """``[..., D]`` as DOF-major ``[D, n]`` (a view)."""
    return values.reshape(-1, values.shape[-1]).T


def _from_planes(planes: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """``[D, n]`` planes back as a contiguous ``[..., D]`` tensor."""
    return planes.T.contiguous().view(shape)


def _euler_xyz_to_quat(half: torch.Tensor) -> torch.Tensor:
    """Quaternions ``[4, ...]`` of intrinsic x-y-z Euler half-angles ``[3, ...]`` (``quat_from_euler``)."""
    (ca, cb, cc), (sa, sb, sc) = torch.cos(half), torch.sin(half)
    return torch.stack(
        [
            sa * cb * cc + ca * sb * sc,
            ca * sb * cc - sa * cb * sc,
            ca * cb * sc + sa * sb * cc,
            ca * cb * cc - sa * sb * sc,
        ]
    )


def _limit_violation(angles: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """Summed distance (rad) ``[G, n]`` of ``[3, G, n]`` angles outside ``[lower, upper]`` (``[3, G, 1]``)."""
    return ((lower - angles).clamp_min(0) + (angles - upper).clamp_min(0)).sum(0)


def _euler_rates_to_angular_velocity(angles: torch.Tensor, rates: torch.Tensor) -> torch.Tensor:
    """Child-frame angular velocity ``[3, ...]`` of x-y-z Euler angles ``[3, ...]`` changing at ``rates``."""
    b, c = angles[1], angles[2]
    cos_b, sin_b, cos_c, sin_c = torch.cos(b), torch.sin(b), torch.cos(c), torch.sin(c)
    rate_a, rate_b, rate_c = rates
    return torch.stack(
        [cos_b * cos_c * rate_a + sin_c * rate_b, -cos_b * sin_c * rate_a + cos_c * rate_b, sin_b * rate_a + rate_c]
    )


def _angular_velocity_to_euler_rates(angles: torch.Tensor, angular_velocity: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`_euler_rates_to_angular_velocity`."""
    b, c = angles[1], angles[2]
    cos_b, sin_b, cos_c, sin_c = torch.cos(b), torch.sin(b), torch.cos(c), torch.sin(c)
    cos_b = torch.where(
        cos_b.abs() < GIMBAL_EPSILON, torch.full_like(cos_b, GIMBAL_EPSILON) * torch.sign(cos_b + 1e-30), cos_b
    )
    w0, w1, w2 = angular_velocity
    rate_a = (w0 * cos_c - w1 * sin_c) / cos_b
    rate_b = w0 * sin_c + w1 * cos_c
    rate_c = w2 - sin_b * rate_a
    return torch.stack([rate_a, rate_b, rate_c])
