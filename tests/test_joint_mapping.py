"""Hinge triplets <-> the original's exp-map DOFs: round trips, the velocity Jacobian, limit-aware decompositions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from isaacgymenvs.motion.skeleton import AMP_JOINT_LAYOUT
from isaacgymenvs.physics.joint_mapping import HingeJointMap
from isaacgymenvs.utils import rotations as rot

# The AMP humanoid's hinge ranges (degrees), in DOF order (the MJCF's).
RANGES_DEG = [
    (-60, 60), (-60, 90), (-50, 50), (-50, 50), (-40, 60), (-45, 45),
    (-180, 45), (-180, 60), (-90, 90), (-160, 0), (-45, 180), (-180, 60), (-90, 90), (-160, 0),
    (-60, 15), (-140, 60), (-60, 35), (0, 160), (-30, 30), (-55, 55), (-40, 40),
    (-15, 60), (-140, 60), (-35, 60), (0, 160), (-30, 30), (-55, 55), (-40, 40),
]  # fmt: skip


@pytest.fixture(scope="module")
def joint_map() -> HingeJointMap:
    limits = torch.tensor(np.radians(RANGES_DEG), dtype=torch.float64)
    return HingeJointMap(AMP_JOINT_LAYOUT, limits[:, 0], limits[:, 1])


def _random_hinges(n: int, seed: int) -> torch.Tensor:
    """Hinge angles drawn inside the joint ranges."""
    rng = np.random.default_rng(seed)
    limits = np.radians(RANGES_DEG)
    return torch.from_numpy(rng.uniform(limits[:, 0], limits[:, 1], size=(n, 28)))


def test_hinges_to_dof_pos_is_the_exp_map_of_rx_ry_rz(joint_map: HingeJointMap) -> None:
    hinges = _random_hinges(200, 0)
    dof_pos = joint_map.hinges_to_dof_pos(hinges)
    torso = hinges[:, 0:3]
    expected = rot.quat_mul(
        rot.quat_mul(
            rot.quat_from_angle_axis(torso[:, 0], torch.tensor([1.0, 0, 0], dtype=torch.float64).expand(200, 3)),
            rot.quat_from_angle_axis(torso[:, 1], torch.tensor([0, 1.0, 0], dtype=torch.float64).expand(200, 3)),
        ),
        rot.quat_from_angle_axis(torso[:, 2], torch.tensor([0, 0, 1.0], dtype=torch.float64).expand(200, 3)),
    )
    np.testing.assert_allclose(dof_pos[:, 0:3].numpy(), rot.quat_to_exp_map(expected).numpy(), atol=1e-12)
    # Hinges (elbows, knees) pass through.
    for name in ("right_elbow", "left_elbow", "right_knee", "left_knee"):
        index = AMP_JOINT_LAYOUT.dof_names.index(name)
        np.testing.assert_array_equal(dof_pos[:, index].numpy(), hinges[:, index].numpy())


def test_round_trip_recovers_in_range_hinges(joint_map: HingeJointMap) -> None:
    hinges = _random_hinges(500, 1)
    back = joint_map.dof_pos_to_hinges(joint_map.hinges_to_dof_pos(hinges))
    # Same rotation always; the same angles whenever only one decomposition is inside the limits.
    np.testing.assert_allclose(
        joint_map.hinges_to_dof_pos(back).numpy(), joint_map.hinges_to_dof_pos(hinges).numpy(), atol=1e-9
    )
    lower = torch.tensor(np.radians(RANGES_DEG))[:, 0]
    upper = torch.tensor(np.radians(RANGES_DEG))[:, 1]
    assert torch.all(back >= lower - 1e-9) and torch.all(back <= upper + 1e-9)


def test_decomposition_choice_respects_the_hip_range(joint_map: HingeJointMap) -> None:
    """A hip flexed 120 degrees: the standard decomposition (|y| <= 90) is out of range, the other one is chosen."""
    hinges = torch.zeros(1, 28, dtype=torch.float64)
    hip_y = AMP_JOINT_LAYOUT.dof_names.index("right_hip_y")
    hinges[0, hip_y] = math.radians(-120)
    hinges[0, hip_y - 1] = math.radians(10)
    back = joint_map.dof_pos_to_hinges(joint_map.hinges_to_dof_pos(hinges))
    np.testing.assert_allclose(
        back[0, hip_y - 1 : hip_y + 2].numpy(), hinges[0, hip_y - 1 : hip_y + 2].numpy(), atol=1e-9
    )


def test_reference_picks_the_closer_valid_decomposition(joint_map: HingeJointMap) -> None:
    """Left shoulder (x in [-45, 180], y in [-180, 60], z in [-90, 90]): (-20, -60, -90) and its twin
    (160, -120, 90) are the same rotation and both in range; the reference decides."""
    index = AMP_JOINT_LAYOUT.dof_names.index("left_shoulder_x")
    first = torch.zeros(1, 28, dtype=torch.float64)
    first[0, index : index + 3] = torch.tensor(np.radians([-20.0, -60.0, -90.0]))
    second = first.clone()
    second[0, index : index + 3] = torch.tensor(np.radians([160.0, -120.0, 90.0]))
    dof_pos = joint_map.hinges_to_dof_pos(first)
    np.testing.assert_allclose(joint_map.hinges_to_dof_pos(second).numpy(), dof_pos.numpy(), atol=1e-9)
    for reference in (first, second):
        chosen = joint_map.dof_pos_to_hinges(dof_pos, reference=reference)
        np.testing.assert_allclose(
            chosen[0, index : index + 3].numpy(), reference[0, index : index + 3].numpy(), atol=1e-9
        )


def test_velocity_jacobian_matches_finite_differences(joint_map: HingeJointMap) -> None:
    """The child-frame angular velocity of moving hinges equals the increment inv(q(t)) q(t + h) / h."""
    hinges = _random_hinges(100, 2)
    rates = torch.from_numpy(np.random.default_rng(3).normal(size=(100, 28)))
    step = 1e-6
    dof_vel = joint_map.hinges_to_dof_vel(hinges, rates)
    before = rot.quat_from_euler(hinges[:, 0:3], "XYZ")
    after = rot.quat_from_euler(hinges[:, 0:3] + step * rates[:, 0:3], "XYZ")
    finite = rot.quat_to_exp_map(rot.quat_mul(rot.quat_conjugate(before), after)) / step
    np.testing.assert_allclose(dof_vel[:, 0:3].numpy(), finite.numpy(), atol=1e-5)
    # And the inverse.
    np.testing.assert_allclose(joint_map.dof_vel_to_hinges(hinges, dof_vel).numpy(), rates.numpy(), atol=1e-9)


def test_gimbal_lock_stays_finite(joint_map: HingeJointMap) -> None:
    hinges = torch.zeros(3, 28, dtype=torch.float64)
    index = AMP_JOINT_LAYOUT.dof_names.index("right_shoulder_y")
    hinges[:, index] = -math.pi / 2
    velocity = torch.ones(3, 28, dtype=torch.float64)
    rates = joint_map.dof_vel_to_hinges(hinges, velocity)
    assert torch.isfinite(rates).all()
    assert torch.isfinite(joint_map.dof_pos_to_hinges(joint_map.hinges_to_dof_pos(hinges))).all()
