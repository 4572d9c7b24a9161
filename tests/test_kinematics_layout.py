"""The simulator's hot-path maths in component planes (``physics/kinematics.py``, ``HingeJointMap``'s plane methods,
``MuJoCoBackend._engine_state``, the motion library's slerp) against straightforward references built from
``utils/rotations.py`` on random states: same numbers to float tolerance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from isaacgymenvs.motion.skeleton import AMP_BODY_OFFSETS, AMP_JOINT_LAYOUT
from isaacgymenvs.physics import kinematics as kin
from isaacgymenvs.physics.joint_mapping import HingeJointMap
from isaacgymenvs.utils import rotations as rot

N = 257  # odd on purpose: nothing may assume a multiple of a vector width


def _random_quats(*shape: int, generator: torch.Generator) -> torch.Tensor:
    return rot.quat_normalize(torch.randn(*shape, 4, generator=generator, dtype=torch.float64))


def _planes(values: torch.Tensor) -> torch.Tensor:
    """``[..., C]`` -> ``[C, ...]``."""
    return values.movedim(-1, 0).contiguous()


def _close(actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-9) -> None:
    np.testing.assert_allclose(actual.numpy(), expected.numpy(), atol=atol, rtol=0)


def test_plane_functions_match_the_rotation_module() -> None:
    generator = torch.Generator().manual_seed(0)
    q, r = _random_quats(N, 3, generator=generator), _random_quats(N, 3, generator=generator)
    v = torch.randn(N, 3, 3, generator=generator, dtype=torch.float64)
    exp_map = torch.randn(N, 3, 3, generator=generator, dtype=torch.float64) * 2.0
    exp_map[0, 0] = 0.0  # the series branches at zero
    exp_map[1, 0] = 1e-8
    _close(kin.quat_mul_planes(_planes(q), _planes(r)), _planes(rot.quat_mul(q, r)))
    _close(kin.quat_rotate_planes(_planes(q), _planes(v)), _planes(rot.quat_rotate(q, v)))
    _close(kin.quat_to_matrix_planes(_planes(q)), rot.quat_to_matrix(q).permute(2, 3, 0, 1))
    _close(kin.quat_to_tan_norm_planes(_planes(q)), _planes(rot.quat_to_tan_norm(q)))
    _close(kin.quat_to_exp_map_planes(_planes(q)), _planes(rot.quat_to_exp_map(q)))
    _close(kin.exp_map_to_quat_planes(_planes(exp_map)), _planes(rot.exp_map_to_quat(exp_map)))
    euler = rot.quat_to_euler(q, "XYZ")
    _close(kin.quat_to_euler_xyz_planes(_planes(q)), _planes(euler))
    # slerp: any t (extrapolation included), opposite signs (the shorter arc), nearly identical inputs (the linear
    # branch), and a weight per row broadcast over the bodies.
    t = torch.rand(N, 1, generator=generator, dtype=torch.float64) * 1.6 - 0.3
    near = r.clone()
    near[:5] = q[:5] + 1e-5
    near[5:10] = -q[5:10]
    near = rot.quat_normalize(near)
    _close(kin.slerp_planes(_planes(q), _planes(near), t), _planes(rot.slerp(q, near, t.unsqueeze(-1))))
    locked = rot.quat_from_euler(torch.tensor([[0.3, math.pi / 2, 0.2]], dtype=torch.float64), "XYZ")
    _close(kin.quat_to_euler_xyz_planes(_planes(locked)), _planes(rot.quat_to_euler(locked, "XYZ")))


def _reference_tree(
    root_rot: torch.Tensor, root_pos: torch.Tensor, hinge_pos: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """Local rotations from each joint's own formula, then forward kinematics body by body (canonical order)."""
    skeleton = AMP_JOINT_LAYOUT.skeleton
    num_bodies = skeleton.num_bodies
    local = rot.quat_identity((hinge_pos.shape[0], num_bodies), dtype=hinge_pos.dtype)
    local[:, 0] = root_rot
    for group in AMP_JOINT_LAYOUT.groups:
        angles = hinge_pos[:, group.dof_offset : group.dof_offset + group.num_dofs]
        body = skeleton.index(group.body)
        if group.hinge_axis is None:
            local[:, body] = rot.quat_from_euler(angles, "XYZ")
        else:
            axis = torch.tensor(group.hinge_axis, dtype=hinge_pos.dtype).expand(hinge_pos.shape[0], 3)
            local[:, body] = rot.quat_from_angle_axis(angles[:, 0], axis)
    offsets = torch.from_numpy(AMP_BODY_OFFSETS).to(hinge_pos.dtype)
    world = [None] * num_bodies
    positions = [None] * num_bodies
    world[0], positions[0] = local[:, 0], root_pos
    for body in range(1, num_bodies):  # parents come before their children in the canonical order
        parent = skeleton.parent_indices[body]
        world[body] = rot.quat_mul(world[parent], local[:, body])
        positions[body] = positions[parent] + rot.quat_rotate(world[parent], offsets[body].expand_as(root_pos))
    return local, rot.quat_to_matrix(torch.stack(world, 1)), torch.stack(positions, 1)


def test_body_tree_matches_per_body_kinematics() -> None:
    generator = torch.Generator().manual_seed(1)
    tree = kin.BodyTree(AMP_JOINT_LAYOUT, AMP_BODY_OFFSETS)
    root_rot = _random_quats(N, generator=generator)
    root_pos = torch.randn(N, 3, generator=generator, dtype=torch.float64)
    hinge_pos = (torch.rand(N, AMP_JOINT_LAYOUT.num_dofs, generator=generator, dtype=torch.float64) * 2 - 1) * math.pi
    local, matrices, positions = _reference_tree(root_rot, root_pos, hinge_pos)
    local_planes = tree.local_quats(_planes(root_rot), _planes(hinge_pos))
    canonical = tree.canonical
    # Quaternions are compared by the rotations they stand for (q and -q are the same).
    same_rotation = (local_planes.index_select(1, canonical) * local.permute(2, 1, 0)).sum(0).abs()
    _close(same_rotation, torch.ones_like(same_rotation))
    world, origins = tree.forward_kinematics(local_planes, _planes(root_pos))
    _close(world.index_select(2, canonical).permute(3, 2, 0, 1), matrices)
    _close(origins.index_select(1, canonical).permute(2, 1, 0), positions)


def _reference_dof_pos_to_hinges(
    joint_map: HingeJointMap, dof_pos: torch.Tensor, reference: torch.Tensor
) -> torch.Tensor:
    """The original per-group formulation: both Euler decompositions, the smaller limit violation, then the closer."""
    hinge_pos = dof_pos.clone()
    lower, upper = joint_map.ball_lower[..., 0].T, joint_map.ball_upper[..., 0].T  # [G3, 3]
    for g, dofs in enumerate(joint_map.ball_dofs.tolist()):
        first = rot.quat_to_euler(rot.exp_map_to_quat(dof_pos[:, dofs]), "XYZ")
        second = torch.remainder(first * torch.tensor([1.0, -1.0, 1.0], dtype=first.dtype) + 2 * math.pi, 2 * math.pi)
        second = second - math.pi

        def violation(angles: torch.Tensor, g: int = g) -> torch.Tensor:
            return ((lower[g] - angles).clamp_min(0) + (angles - upper[g]).clamp_min(0)).sum(-1)

        take_second = violation(second) < violation(first) - 1e-9
        both_valid = (violation(first) <= 1e-9) & (violation(second) <= 1e-9)
        ref = reference[:, dofs]
        closer = (second - ref).abs().sum(-1) < (first - ref).abs().sum(-1)
        hinge_pos[:, dofs] = torch.where((take_second | (both_valid & closer)).unsqueeze(-1), second, first)
    return hinge_pos


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_joint_map_planes_match_per_group_references(dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(2)
    dofs = AMP_JOINT_LAYOUT.num_dofs
    lower, upper = -torch.full((dofs,), 2.5), torch.full((dofs,), 2.0)
    joint_map = HingeJointMap(AMP_JOINT_LAYOUT, lower, upper)
    dof_pos = (torch.rand(N, dofs, generator=generator, dtype=torch.float64) * 2 - 1).to(dtype) * 2.0
    reference = (torch.rand(N, dofs, generator=generator, dtype=torch.float64) * 2 - 1).to(dtype) * 2.0
    rates = torch.randn(N, dofs, generator=generator, dtype=torch.float64).to(dtype)
    atol = 1e-9 if dtype == torch.float64 else 2e-5
    expected = _reference_dof_pos_to_hinges(joint_map, dof_pos, reference)
    hinges = joint_map.dof_pos_to_hinges(dof_pos, reference)
    _close(hinges, expected, atol=atol)
    ball = joint_map.ball_dofs
    expected_pos = hinges.clone()
    expected_pos[:, ball] = rot.quat_to_exp_map(rot.quat_from_euler(hinges[:, ball], "XYZ"))
    _close(joint_map.hinges_to_dof_pos(hinges), expected_pos, atol=atol)
    # The angular velocity of Rx(a) Ry(b) Rz(c) in the child frame, by finite differences of the rotation.
    step = 1e-6
    ahead = rot.quat_from_euler((hinges.double() + step * rates.double())[:, ball], "XYZ")
    behind = rot.quat_from_euler((hinges.double() - step * rates.double())[:, ball], "XYZ")
    relative = rot.quat_mul(rot.quat_conjugate(behind), ahead)
    expected_vel = rates.double().clone()
    expected_vel[:, ball] = rot.quat_to_exp_map(relative) / (2 * step)
    dof_vel = joint_map.hinges_to_dof_vel(hinges, rates)
    _close(dof_vel.double(), expected_vel, atol=1e-4 if dtype == torch.float32 else 1e-6)
    _close(joint_map.dof_vel_to_hinges(hinges, dof_vel), rates, atol=atol * 100)
    # Leading dimensions pass through.
    _close(joint_map.dof_pos_to_hinges(dof_pos.view(1, N, dofs)).view(N, dofs), joint_map.dof_pos_to_hinges(dof_pos))


def test_backend_state_matches_the_per_body_reference() -> None:
    from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP

    task = HumanoidAMP({"env": {"numEnvs": 16, "motion_file": "humanoid3d_walk"}}, rl_device="cpu", sim_device="cpu")
    torch.manual_seed(3)
    for _ in range(3):
        task.reset_done()
        task.step(torch.rand(16, 28) * 2 - 1)
    backend = task.backend
    qpos = torch.from_numpy(backend._qpos.astype(np.float32))
    qvel = torch.from_numpy(backend._qvel.astype(np.float32))
    root_pos, root_rot = qpos[:, 0:3], rot.quat_wxyz_to_xyzw(qpos[:, 3:7])
    hinge_pos, hinge_vel = qpos[:, 7:35], qvel[:, 6:34]
    _, matrices, positions = _reference_tree(root_rot.double(), root_pos.double(), hinge_pos.double())
    offsets_in_model = torch.from_numpy(backend.model.body_pos[backend._body_ids])
    assert torch.allclose(offsets_in_model, torch.from_numpy(AMP_BODY_OFFSETS), atol=1e-6)
    atol = 2e-5
    _close(backend.rigid_body_pos, positions.float(), atol=atol)
    _close(backend.rigid_body_rot, rot.quat_positive(rot.quat_from_matrix(matrices)).float(), atol=atol)
    expected_dof_pos = hinge_pos.clone()
    ball = backend.joint_map.ball_dofs
    expected_dof_pos[:, ball] = rot.quat_to_exp_map(rot.quat_from_euler(hinge_pos[:, ball], "XYZ"))
    _close(backend.dof_pos, expected_dof_pos, atol=atol)
    _close(backend.dof_vel, backend.joint_map.hinges_to_dof_vel(hinge_pos, hinge_vel), atol=atol)
    expected_root = torch.cat([root_pos, root_rot, qvel[:, 0:3], rot.quat_rotate(root_rot, qvel[:, 3:6])], -1)
    _close(backend.root_states, expected_root, atol=atol)
    forces = torch.from_numpy(backend._cfrc_ext[:, 1:, 3:6].astype(np.float32))
    _close(backend.contact_forces, forces, atol=0)


def _reference_observations(
    root_states: torch.Tensor,
    dof_pos: torch.Tensor,
    dof_vel: torch.Tensor,
    key_body_pos: torch.Tensor,
    local_root_obs: bool,
) -> torch.Tensor:
    """The original's observation, written with the rotation module on ``[N, ..., 4]`` tensors."""
    root_pos, root_rot = root_states[:, 0:3], root_states[:, 3:7]
    heading_rot = rot.calc_heading_quat_inv(root_rot)
    root_rot_obs = rot.quat_to_tan_norm(rot.quat_mul(heading_rot, root_rot) if local_root_obs else root_rot)
    heading_per_key = heading_rot.unsqueeze(-2).expand(-1, key_body_pos.shape[1], -1)
    local_key_pos = rot.quat_rotate(heading_per_key, key_body_pos - root_pos.unsqueeze(-2))
    dof_obs = []
    for group in AMP_JOINT_LAYOUT.groups:
        dofs = dof_pos[:, group.dof_offset : group.dof_offset + group.num_dofs]
        dof_obs.append(dofs if group.hinge_axis is not None else rot.quat_to_tan_norm(rot.exp_map_to_quat(dofs)))
    return torch.cat(
        [
            root_pos[:, 2:3],
            root_rot_obs,
            rot.quat_rotate(heading_rot, root_states[:, 7:10]),
            rot.quat_rotate(heading_rot, root_states[:, 10:13]),
            *dof_obs,
            dof_vel,
            local_key_pos.reshape(root_states.shape[0], -1),
        ],
        dim=-1,
    )


@pytest.mark.parametrize("local_root_obs", [False, True])
def test_observations_match_the_rotation_module_reference(local_root_obs: bool) -> None:
    from isaacgymenvs.tasks.amp.humanoid_amp_base import compute_humanoid_observations

    generator = torch.Generator().manual_seed(4)
    root_rot = _random_quats(N, generator=generator)
    root_rot[0] = torch.tensor([0.0, 0.0, 0.0, 1.0])
    root_rot[1] = torch.tensor([0.0, math.sqrt(0.5), 0.0, math.sqrt(0.5)])  # x axis vertical: no heading
    other = torch.randn(N, 9, generator=generator, dtype=torch.float64)
    root_states = torch.cat([other[:, :3], root_rot, other[:, 3:]], -1).float()
    dof_pos = (torch.randn(N, 28, generator=generator) * 1.5).float()
    dof_vel = torch.randn(N, 28, generator=generator).float()
    key_pos = torch.randn(N, 4, 3, generator=generator).float()
    new = compute_humanoid_observations(root_states, dof_pos, dof_vel, key_pos, local_root_obs)
    old = _reference_observations(root_states, dof_pos, dof_vel, key_pos, local_root_obs)
    assert new.shape == (N, 105)
    _close(new, old, atol=1e-5)
