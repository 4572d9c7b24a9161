"""The rotation module against scipy.spatial.transform.Rotation, on random batches and at the edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from isaacgymenvs.utils import rotations as rot

SHAPES = [(64,), (8, 5)]


def _random_quats(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(*shape, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return torch.from_numpy(q)


def _edge_quats() -> torch.Tensor:
    """Identity, near-identity (1e-9 .. 1e-4 rad) and 180-degree rotations, with both signs of w."""
    axes = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 2.0, -3.0]])
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    quats = []
    for axis in axes:
        for angle in [0.0, 1e-9, 1e-7, 1e-5, 1e-4, np.pi - 1e-6, np.pi]:
            q = np.concatenate([axis * np.sin(angle / 2), [np.cos(angle / 2)]])
            quats.extend([q, -q])
    return torch.tensor(np.array(quats))


def _scipy(q: torch.Tensor) -> Rotation:
    return Rotation.from_quat(q.reshape(-1, 4).numpy())


def _same_rotation(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-9) -> bool:
    """Quaternions equal up to sign."""
    dot = (a * b).sum(-1).abs()
    return bool(torch.all((1.0 - dot).abs() < atol))


@pytest.mark.parametrize("shape", SHAPES)
def test_quat_mul_matches_scipy(shape: tuple[int, ...]) -> None:
    a, b = _random_quats(shape, 1), _random_quats(shape, 2)
    expected = (_scipy(a) * _scipy(b)).as_quat()
    assert _same_rotation(rot.quat_mul(a, b).reshape(-1, 4), torch.from_numpy(expected))


@pytest.mark.parametrize("shape", SHAPES)
def test_quat_rotate_and_inverse_match_scipy(shape: tuple[int, ...]) -> None:
    q = _random_quats(shape, 3)
    v = torch.from_numpy(np.random.default_rng(4).normal(size=(*shape, 3)))
    expected = _scipy(q).apply(v.reshape(-1, 3).numpy())
    np.testing.assert_allclose(rot.quat_rotate(q, v).reshape(-1, 3).numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(rot.quat_rotate_inverse(q, rot.quat_rotate(q, v)).numpy(), v.numpy(), atol=1e-12)
    np.testing.assert_allclose(rot.quat_mul(q, rot.quat_conjugate(q)).numpy()[..., 3], 1.0, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_exp_map_round_trip_matches_scipy(shape: tuple[int, ...]) -> None:
    q = _random_quats(shape, 5)
    exp_map = rot.quat_to_exp_map(q)
    expected = _scipy(q).as_rotvec()
    np.testing.assert_allclose(exp_map.reshape(-1, 3).numpy(), expected, atol=1e-10)
    assert _same_rotation(rot.exp_map_to_quat(exp_map), q)


def test_exp_map_edge_cases() -> None:
    q = _edge_quats()
    exp_map = rot.quat_to_exp_map(q)
    assert torch.isfinite(exp_map).all()
    np.testing.assert_allclose(exp_map.norm(dim=-1).numpy(), _scipy(q).magnitude(), atol=1e-10)
    # At exactly 180 degrees +axis and -axis are both right; compare the rotations instead of the vectors.
    assert _same_rotation(rot.exp_map_to_quat(exp_map), q)
    small = q[:, 3].abs() > 1 - 1e-8
    np.testing.assert_allclose(exp_map[small].numpy(), _scipy(q[small]).as_rotvec(), atol=1e-15)


def test_exp_map_to_quat_longer_than_pi() -> None:
    # A rotation vector of length 1.5 pi is the rotation by -0.5 pi about the same axis.
    axis = torch.tensor([[0.0, 0.6, 0.8]], dtype=torch.float64)
    q = rot.exp_map_to_quat(1.5 * np.pi * axis)
    assert _same_rotation(q, torch.from_numpy(Rotation.from_rotvec((-0.5 * np.pi * axis).numpy()).as_quat()))


@pytest.mark.parametrize("shape", SHAPES)
def test_angle_axis_matches_scipy(shape: tuple[int, ...]) -> None:
    q = _random_quats(shape, 6)
    angle, axis = rot.quat_to_angle_axis(q)
    rotvec = _scipy(q).as_rotvec()
    np.testing.assert_allclose(angle.reshape(-1).numpy(), np.linalg.norm(rotvec, axis=-1), atol=1e-10)
    np.testing.assert_allclose((axis * angle.unsqueeze(-1)).reshape(-1, 3).numpy(), rotvec, atol=1e-10)
    assert _same_rotation(rot.quat_from_angle_axis(angle, axis), q)


def test_angle_axis_near_identity_reports_z_axis() -> None:
    q = _edge_quats()
    angle, axis = rot.quat_to_angle_axis(q)
    tiny = angle == 0
    assert tiny.sum() > 0
    np.testing.assert_array_equal(axis[tiny].numpy(), np.tile([0.0, 0.0, 1.0], (int(tiny.sum()), 1)))
    assert torch.all(angle >= 0) and torch.all(angle <= np.pi + 1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_slerp_matches_scipy(shape: tuple[int, ...]) -> None:
    from scipy.spatial.transform import Slerp

    q0, q1 = _random_quats(shape, 7), _random_quats(shape, 8)
    t = torch.from_numpy(np.random.default_rng(9).uniform(size=(*shape, 1)))
    result = rot.slerp(q0, q1, t).reshape(-1, 4)
    for i, (a, b, ti) in enumerate(zip(q0.reshape(-1, 4), q1.reshape(-1, 4), t.reshape(-1), strict=True)):
        expected = Slerp([0, 1], Rotation.from_quat(np.stack([a.numpy(), b.numpy()])))([float(ti)]).as_quat()[0]
        assert _same_rotation(result[i : i + 1], torch.from_numpy(expected)[None])
    np.testing.assert_allclose(result.norm(dim=-1).numpy(), 1.0, atol=1e-12)


def test_slerp_end_points_nearly_identical_and_extrapolation() -> None:
    q0 = _random_quats((16,), 10)
    q1 = _random_quats((16,), 11)
    assert _same_rotation(rot.slerp(q0, q1, 0.0), q0)
    assert _same_rotation(rot.slerp(q0, q1, 1.0), q1)
    # Nearly identical inputs (1e-5 rad apart): interpolation still follows t.
    tiny = rot.quat_mul(q0, rot.exp_map_to_quat(torch.tensor([1e-5, 0.0, 0.0], dtype=torch.float64).expand(16, 3)))
    quarter = rot.slerp(q0, tiny, torch.full((16, 1), 0.25, dtype=torch.float64))
    np.testing.assert_allclose(rot.quat_angle_between(q0, quarter).numpy(), 0.25e-5, rtol=1e-4)
    # t < 0 extrapolates backwards along the same arc (the motion library relies on it).
    axis = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    a = rot.quat_from_angle_axis(torch.tensor(0.2, dtype=torch.float64), axis)
    b = rot.quat_from_angle_axis(torch.tensor(0.4, dtype=torch.float64), axis)
    c = rot.slerp(a, b, torch.tensor([-1.0], dtype=torch.float64))
    assert _same_rotation(c, rot.quat_from_angle_axis(torch.tensor(0.0, dtype=torch.float64), axis))


def test_normalize_angle() -> None:
    x = torch.tensor([0.0, np.pi / 2, 3 * np.pi / 2, -3 * np.pi / 2, 7 * np.pi, -0.1], dtype=torch.float64)
    expected = np.array([0.0, np.pi / 2, -np.pi / 2, np.pi / 2, np.pi, -0.1])
    np.testing.assert_allclose(np.abs(rot.normalize_angle(x).numpy()), np.abs(expected), atol=1e-12)
    np.testing.assert_allclose(np.sin(rot.normalize_angle(x).numpy()), np.sin(expected), atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_tan_norm_is_rotated_x_and_z(shape: tuple[int, ...]) -> None:
    q = _random_quats(shape, 12)
    tan_norm = rot.quat_to_tan_norm(q).reshape(-1, 6).numpy()
    matrix = _scipy(q).as_matrix()
    np.testing.assert_allclose(tan_norm[:, :3], matrix[:, :, 0], atol=1e-12)
    np.testing.assert_allclose(tan_norm[:, 3:], matrix[:, :, 2], atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_heading_matches_scipy_yaw(shape: tuple[int, ...]) -> None:
    q = _random_quats(shape, 13)
    direction = _scipy(q).apply([1.0, 0.0, 0.0])
    expected = np.arctan2(direction[:, 1], direction[:, 0])
    heading = rot.calc_heading(q).reshape(-1).numpy()
    np.testing.assert_allclose(heading, expected, atol=1e-12)
    # Undoing the heading leaves a rotation whose x axis has no sideways (y) component.
    without_yaw = rot.quat_mul(rot.calc_heading_quat_inv(q), q)
    x_image = rot.quat_rotate(without_yaw, torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64).expand(*shape, 3))
    np.testing.assert_allclose(x_image[..., 1].numpy(), 0.0, atol=1e-12)
    assert torch.all(x_image[..., 0] >= -1e-12)
    yaw_only = rot.calc_heading_quat(q)
    assert _same_rotation(rot.quat_mul(yaw_only, without_yaw), q)
    np.testing.assert_allclose(_scipy(yaw_only).as_euler("ZYX")[:, 0], expected, atol=1e-12)


@pytest.mark.parametrize("order", ["XYZ", "ZXY", "ZYX", "YXZ", "XZY", "YZX"])
def test_euler_matches_scipy_intrinsic(order: str) -> None:
    q = _random_quats((200,), 14)
    angles = rot.quat_to_euler(q, order)
    expected = Rotation.from_quat(q.numpy()).as_euler(order)
    np.testing.assert_allclose(angles.numpy(), expected, atol=1e-9)
    assert _same_rotation(rot.quat_from_euler(angles, order), q)
    assert _same_rotation(torch.from_numpy(Rotation.from_euler(order, angles.numpy()).as_quat()), q)


@pytest.mark.parametrize("order", ["XYZ", "ZXY", "ZYX"])
def test_euler_at_gimbal_lock_round_trips(order: str) -> None:
    rng = np.random.default_rng(15)
    angles = np.stack([rng.uniform(-3, 3, 50), np.full(50, np.pi / 2), rng.uniform(-3, 3, 50)], -1)
    angles[25:, 1] *= -1
    q = rot.quat_from_euler(torch.from_numpy(angles), order)
    recovered = rot.quat_to_euler(q, order)
    assert torch.isfinite(recovered).all()
    assert _same_rotation(rot.quat_from_euler(recovered, order), q, atol=1e-12)


def test_matrix_round_trip_matches_scipy() -> None:
    q = torch.cat([_random_quats((100,), 16), _edge_quats()])
    matrix = rot.quat_to_matrix(q)
    np.testing.assert_allclose(matrix.numpy(), _scipy(q).as_matrix(), atol=1e-12)
    back = rot.quat_from_matrix(matrix)
    assert torch.all(back[:, 3] >= 0)
    assert _same_rotation(back, q, atol=1e-12)


def test_layout_conversions_and_float32() -> None:
    q = _random_quats((10,), 17)
    wxyz = rot.quat_xyzw_to_wxyz(q)
    np.testing.assert_array_equal(wxyz[:, 0].numpy(), q[:, 3].numpy())
    np.testing.assert_array_equal(rot.quat_wxyz_to_xyzw(wxyz).numpy(), q.numpy())
    q32 = q.float()
    assert rot.quat_to_exp_map(q32).dtype == torch.float32
    np.testing.assert_allclose(rot.quat_to_exp_map(q32).numpy(), _scipy(q).as_rotvec(), atol=2e-6)
