"""The project's one rotation module.

Convention: every quaternion inside the project is **(x, y, z, w)**, the layout of Isaac Gym and poselib. Convert to or
from (w, x, y, z) only at file and engine boundaries, with :func:`quat_xyzw_to_wxyz` / :func:`quat_wxyz_to_xyzw`.

All functions are pure, batched over any number of leading dimensions (``[..., 4]`` quaternions, ``[..., 3]`` vectors,
``[...]`` angles), work on any device and dtype, and never loop in Python. They follow the formulas of the original task
and motion library (``../shared/spec/humanoid_amp_reference.md`` section 5.1); where the original's formula loses
precision in float32 (``acos`` near 1), an equivalent ``atan2`` form is used. Two deliberate differences, both outside
the ranges the task ever produces, are listed in ``docs/divergences.md``: :func:`exp_map_to_quat` is exact for rotation
vectors longer than pi, and :func:`slerp` honours ``t`` for nearly identical inputs.

Euler angles are *intrinsic*: order ``"XYZ"`` means ``R = Rx(a0) @ Ry(a1) @ Rz(a2)``, which is how MuJoCo composes three
hinges declared x, y, z in one body and how BVH composes its rotation channels in listed order.
"""

from __future__ import annotations

import torch

__all__ = [
    "calc_heading",
    "calc_heading_quat",
    "calc_heading_quat_inv",
    "exp_map_to_quat",
    "normalize_angle",
    "quat_angle_between",
    "quat_conjugate",
    "quat_from_angle_axis",
    "quat_from_euler",
    "quat_from_matrix",
    "quat_identity",
    "quat_mul",
    "quat_mul_norm",
    "quat_normalize",
    "quat_positive",
    "quat_rotate",
    "quat_rotate_inverse",
    "quat_to_angle_axis",
    "quat_to_euler",
    "quat_to_exp_map",
    "quat_to_matrix",
    "quat_to_tan_norm",
    "quat_wxyz_to_xyzw",
    "quat_xyzw_to_wxyz",
    "slerp",
    "slerp_weights",
]

_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}


def quat_identity(
    shape: tuple[int, ...] | torch.Size, *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> torch.Tensor:
    """Identity quaternions of shape ``[*shape, 4]``."""
    q = torch.zeros((*shape, 4), dtype=dtype, device=device)
    q[..., 3] = 1.0
    return q


def quat_xyzw_to_wxyz(q: torch.Tensor) -> torch.Tensor:
    """Reorder ``[..., 4]`` quaternions from (x, y, z, w) to (w, x, y, z) (MuJoCo, Isaac Lab, BVH tools)."""
    return torch.cat([q[..., 3:4], q[..., 0:3]], dim=-1)


def quat_wxyz_to_xyzw(q: torch.Tensor) -> torch.Tensor:
    """Reorder ``[..., 4]`` quaternions from (w, x, y, z) to the project's (x, y, z, w)."""
    return torch.cat([q[..., 1:4], q[..., 0:1]], dim=-1)


def quat_mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product ``a ⊗ b`` of ``[..., 4]`` quaternions (broadcasting); rotates by ``b`` first, then ``a``."""
    ax, ay, az, aw = a.unbind(-1)
    bx, by, bz, bw = b.unbind(-1)
    return torch.stack(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ],
        dim=-1,
    )


def quat_conjugate(q: torch.Tensor) -> torch.Tensor:
    """Conjugate ``[..., 4]``; the inverse of a unit quaternion."""
    return torch.cat([-q[..., :3], q[..., 3:]], dim=-1)


def quat_normalize(q: torch.Tensor) -> torch.Tensor:
    """Unit quaternions ``[..., 4]`` (a zero quaternion stays zero rather than turning into NaN)."""
    return q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def quat_positive(q: torch.Tensor) -> torch.Tensor:
    """The sign of each ``[..., 4]`` quaternion chosen so that ``w >= 0`` (the same rotation)."""
    return torch.where(q[..., 3:4] < 0, -q, q)


def quat_mul_norm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """poselib's ``quat_mul_norm``: the normalised product ``a ⊗ b`` with ``w >= 0``."""
    return quat_positive(quat_normalize(quat_mul(a, b)))


def quat_rotate(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate ``[..., 3]`` vectors by unit quaternions ``[..., 4]`` (the original's ``my_quat_rotate``)."""
    q_vec = q[..., :3]
    q_w = q[..., 3:4]
    return (
        v * (2.0 * q_w * q_w - 1.0)
        + 2.0 * q_w * torch.linalg.cross(q_vec, v, dim=-1)
        + 2.0 * q_vec * (q_vec * v).sum(dim=-1, keepdim=True)
    )


def quat_rotate_inverse(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate ``[..., 3]`` vectors by the inverse of unit quaternions ``[..., 4]``."""
    return quat_rotate(quat_conjugate(q), v)


def normalize_angle(x: torch.Tensor) -> torch.Tensor:
    """Wrap angles (rad) into ``[-pi, pi]`` as ``atan2(sin x, cos x)``."""
    return torch.atan2(torch.sin(x), torch.cos(x))


def quat_from_angle_axis(angle: torch.Tensor, axis: torch.Tensor) -> torch.Tensor:
    """Quaternions ``[..., 4]`` rotating by ``angle`` ``[...]`` (rad) about ``axis`` ``[..., 3]`` (normalised here)."""
    axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    half = (angle * 0.5).unsqueeze(-1)
    return quat_normalize(torch.cat([axis * torch.sin(half), torch.cos(half)], dim=-1))


def quat_to_angle_axis(q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Angle ``[...]`` in ``[0, pi]`` and unit axis ``[..., 3]`` of ``[..., 4]`` quaternions.

    The sign of ``q`` is chosen with ``w >= 0`` first, so ``q`` and ``-q`` give the same answer; below 1e-5 rad the
    axis is reported as +z and the angle as 0, as in the original.
    """
    q = quat_positive(q)
    sin_half = q[..., :3].norm(dim=-1)
    angle = 2.0 * torch.atan2(sin_half, q[..., 3])
    small = angle <= 1e-5
    axis = q[..., :3] / sin_half.clamp_min(1e-12).unsqueeze(-1)
    z_axis = torch.zeros_like(axis)
    z_axis[..., 2] = 1.0
    axis = torch.where(small.unsqueeze(-1), z_axis, axis)
    angle = torch.where(small, torch.zeros_like(angle), angle)
    return angle, axis


def quat_to_exp_map(q: torch.Tensor) -> torch.Tensor:
    """Rotation vectors (exponential map) ``[..., 3]`` of ``[..., 4]`` quaternions, with norm in ``[0, pi]``.

    Smooth through the identity: for tiny rotations ``angle / sin(angle / 2)`` tends to 2 and is evaluated directly.
    """
    q = quat_positive(q)
    sin_half = q[..., :3].norm(dim=-1, keepdim=True)
    angle = 2.0 * torch.atan2(sin_half, q[..., 3:4])
    # angle / sin_half, with its limit 2 / w where sin_half underflows.
    scale = torch.where(sin_half > 1e-12, angle / sin_half.clamp_min(1e-12), 2.0 / q[..., 3:4].clamp_min(1e-12))
    return q[..., :3] * scale


def exp_map_to_quat(exp_map: torch.Tensor) -> torch.Tensor:
    """Quaternions ``[..., 4]`` of rotation vectors ``[..., 3]`` (any length; smooth through zero)."""
    angle = exp_map.norm(dim=-1, keepdim=True)
    half = 0.5 * angle
    # sin(angle / 2) / angle, with its Taylor series where angle is tiny.
    sinc_half = torch.where(angle > 1e-6, torch.sin(half) / angle.clamp_min(1e-12), 0.5 - angle * angle / 48.0)
    return torch.cat([exp_map * sinc_half, torch.cos(half)], dim=-1)


def slerp_weights(
    cos_half: torch.Tensor, t: torch.Tensor | float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The weights of :func:`slerp` for quaternions whose dot product is ``cos_half``, at ``t`` (broadcast against
    it), in any layout: ``(w0, w1, t1, near)``.

    ``slerp = w0 * q0 + w1 * q1`` along the shorter arc (``w1`` carries the sign that flips ``q1`` onto it); where
    ``near`` (``sin(half angle) < 1e-3``) it is the normalised ``(1 - t) * q0 + t1 * q1`` instead (``t1``: ``t`` with
    that sign). Flipping the weight instead of ``q1`` gives the same bits: a product's sign is exact.
    """
    flipped = cos_half < 0
    cos_half = cos_half.abs().clamp_max(1.0)
    sin_half = torch.sqrt(1.0 - cos_half * cos_half)
    half = torch.atan2(sin_half, cos_half)
    safe_sin = sin_half.clamp_min(1e-12)
    w0 = torch.sin((1.0 - t) * half) / safe_sin
    w1 = torch.sin(t * half) / safe_sin
    return w0, torch.where(flipped, -w1, w1), torch.where(flipped, -t, t), sin_half < 1e-3


def slerp(q0: torch.Tensor, q1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Spherical interpolation of unit quaternions ``[..., 4]`` along the shorter arc.

    ``t`` broadcasts against ``q0[..., :1]`` (pass ``[..., 1]``); it is not clamped, so ``t < 0`` or ``t > 1``
    extrapolates, as the original's motion library relies on. For nearly identical inputs (``sin(half angle) < 1e-3``)
    a normalised linear interpolation at ``t`` is used (the original returned the midpoint whatever ``t``).
    """
    t = torch.as_tensor(t, dtype=q0.dtype, device=q0.device)
    w0, w1, t1, near = slerp_weights((q0 * q1).sum(dim=-1, keepdim=True), t)
    return torch.where(near, quat_normalize((1.0 - t) * q0 + t1 * q1), w0 * q0 + w1 * q1)


def quat_to_tan_norm(q: torch.Tensor) -> torch.Tensor:
    """The 6-number rotation encoding ``[..., 6]``: the images of the x axis (tangent) then of the z axis (normal).

    Written out from the rotation matrix's first and third columns (the same numbers as rotating the two axes).
    """
    x, y, z, w = q.unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w),
            2 * (x * z + y * w), 2 * (y * z - x * w), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    )  # fmt: skip


def calc_heading(q: torch.Tensor) -> torch.Tensor:
    """Heading (yaw, rad) ``[...]`` of ``[..., 4]`` quaternions: the angle of the rotated x axis about +z."""
    x_axis = torch.zeros_like(q[..., :3])
    x_axis[..., 0] = 1.0
    direction = quat_rotate(q, x_axis)
    return torch.atan2(direction[..., 1], direction[..., 0])


def _z_axis_like(q: torch.Tensor) -> torch.Tensor:
    z_axis = torch.zeros_like(q[..., :3])
    z_axis[..., 2] = 1.0
    return z_axis


def calc_heading_quat(q: torch.Tensor) -> torch.Tensor:
    """Quaternions ``[..., 4]`` of the pure yaw (about +z) of ``q``."""
    return quat_from_angle_axis(calc_heading(q), _z_axis_like(q))


def calc_heading_quat_inv(q: torch.Tensor) -> torch.Tensor:
    """Quaternions ``[..., 4]`` that undo the yaw of ``q`` (rotation about +z by minus the heading)."""
    return quat_from_angle_axis(-calc_heading(q), _z_axis_like(q))


def quat_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``[..., 3, 3]`` of unit quaternions ``[..., 4]``."""
    x, y, z, w = q.unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z),
            2 * (x * y - z * w),
            2 * (x * z + y * w),
            2 * (x * y + z * w),
            1 - 2 * (x * x + z * z),
            2 * (y * z - x * w),
            2 * (x * z - y * w),
            2 * (y * z + x * w),
            1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(*q.shape[:-1], 3, 3)


def quat_from_matrix(m: torch.Tensor) -> torch.Tensor:
    """Unit quaternions ``[..., 4]`` (``w >= 0``) of rotation matrices ``[..., 3, 3]``.

    Uses the largest of the four candidate denominators for each matrix, which is accurate at every angle.
    """
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # Four times the squares of w, x, y, z; each candidate divides by the square root of one of them.
    squares = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    candidates = torch.stack(
        [
            torch.stack([m21 - m12, m02 - m20, m10 - m01, squares[..., 0]], -1),
            torch.stack([squares[..., 1], m01 + m10, m02 + m20, m21 - m12], -1),
            torch.stack([m01 + m10, squares[..., 2], m12 + m21, m02 - m20], -1),
            torch.stack([m02 + m20, m12 + m21, squares[..., 3], m10 - m01], -1),
        ],
        dim=-2,
    )
    best = squares.argmax(dim=-1)
    chosen = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    return quat_positive(quat_normalize(chosen))


def _check_order(order: str) -> tuple[int, int, int]:
    order = order.upper()
    if len(order) != 3 or set(order) != {"X", "Y", "Z"}:
        raise ValueError(f"Euler order must be a permutation of 'XYZ' (Tait-Bryan angles), got {order!r}")
    return _AXIS_INDEX[order[0]], _AXIS_INDEX[order[1]], _AXIS_INDEX[order[2]]


def quat_from_euler(angles: torch.Tensor, order: str = "XYZ") -> torch.Tensor:
    """Quaternions ``[..., 4]`` of intrinsic Euler angles ``[..., 3]`` (rad): ``R = R_o[0] R_o[1] R_o[2]``."""
    if order.upper() == "XYZ":  # the hinge triplets' order, on the simulator's hot path: written out
        half = 0.5 * angles
        c, s = torch.cos(half), torch.sin(half)
        ca, cb, cc = c.unbind(-1)
        sa, sb, sc = s.unbind(-1)
        return torch.stack(
            [
                sa * cb * cc + ca * sb * sc,
                ca * sb * cc - sa * cb * sc,
                ca * cb * sc + sa * sb * cc,
                ca * cb * cc - sa * sb * sc,
            ],
            dim=-1,
        )
    result = None
    for slot, axis_index in enumerate(_check_order(order)):
        axis = torch.zeros_like(angles)
        axis[..., axis_index] = 1.0
        q = quat_from_angle_axis(angles[..., slot], axis)
        result = q if result is None else quat_mul(result, q)
    return result


def quat_to_euler(q: torch.Tensor, order: str = "XYZ") -> torch.Tensor:
    """Intrinsic Euler angles ``[..., 3]`` (rad) of ``[..., 4]`` quaternions; the inverse of :func:`quat_from_euler`.

    The middle angle is in ``[-pi/2, pi/2]`` and the outer ones in ``[-pi, pi]``. At gimbal lock (middle angle at
    +-pi/2) the last angle is set to 0 and the first carries the whole remaining rotation.
    """
    i, j, k = _check_order(order)
    # +1 for cyclic orders (XYZ, YZX, ZXY), -1 for the others.
    sign = 1.0 if (j - i) % 3 == 1 else -1.0
    m = quat_to_matrix(quat_normalize(q))
    sin_middle = sign * m[..., i, k]
    cos_middle = torch.sqrt(m[..., i, i] ** 2 + m[..., i, j] ** 2)
    middle = torch.atan2(sin_middle, cos_middle)
    first = torch.atan2(-sign * m[..., j, k], m[..., k, k])
    last = torch.atan2(-sign * m[..., i, j], m[..., i, i])
    locked = cos_middle < 1e-7
    first_locked = torch.atan2(sign * m[..., k, j], m[..., j, j])
    first = torch.where(locked, first_locked, first)
    last = torch.where(locked, torch.zeros_like(last), last)
    return torch.stack([first, middle, last], dim=-1)


def quat_angle_between(q0: torch.Tensor, q1: torch.Tensor) -> torch.Tensor:
    """Angle (rad) ``[...]`` of the rotation taking ``q0`` to ``q1`` (``[..., 4]`` each), in ``[0, pi]``."""
    relative = quat_mul(quat_conjugate(q0), q1)
    return 2.0 * torch.atan2(relative[..., :3].norm(dim=-1), relative[..., 3].abs())
