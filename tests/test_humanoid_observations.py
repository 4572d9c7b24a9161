"""The task's pure maths: observations (golden values from the spec and hand-checked ones), the reset rule and the
action-to-PD-target map."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import reference_clip, spec_file

from isaacgymenvs.motion.skeleton import AMP_JOINT_LAYOUT
from isaacgymenvs.tasks.amp.humanoid_amp_base import (
    NUM_ACTIONS,
    NUM_OBS,
    build_pd_action_offset_scale,
    compute_humanoid_observations,
    compute_humanoid_reset,
    dof_to_obs,
)
from isaacgymenvs.tasks.amp.utils_amp.motion_lib import MotionLib
from isaacgymenvs.tasks.humanoid_amp import NUM_AMP_OBS_PER_STEP, build_amp_observations
from isaacgymenvs.utils import rotations as rot


def test_sizes() -> None:
    assert NUM_OBS == NUM_AMP_OBS_PER_STEP == 105
    assert NUM_ACTIONS == 28


def test_golden_amp_observations() -> None:
    """The 105 numbers of the spec's golden samples, from the motion library's state (localRootObs False)."""
    golden = json.loads(spec_file("golden_motion_samples.json").read_text())
    for sample in golden["samples"]:
        name = sample["motion"].removeprefix("amp_humanoid_").removesuffix(".npy")
        library = MotionLib(reference_clip(name), 28, [5, 8, 11, 14], "cpu")
        root_pos, root_rot, dof_pos, root_vel, root_ang_vel, dof_vel, key_pos = library.get_motion_state(
            [0], [sample["time"]]
        )
        root_states = torch.cat([root_pos, root_rot, root_vel, root_ang_vel], dim=-1)
        obs = build_amp_observations(root_states, dof_pos, dof_vel, key_pos, False)
        np.testing.assert_allclose(
            obs[0].numpy(), sample["amp_obs_step"], atol=1e-4, err_msg=f"{name} at t={sample['time']}"
        )


def _state(batch: int = 1) -> tuple[torch.Tensor, ...]:
    root_states = torch.zeros(batch, 13)
    root_states[:, 2] = 0.9
    root_states[:, 6] = 1.0
    key_pos = torch.tensor([[0.1, -0.3, 1.0], [0.1, 0.3, 1.0], [0.0, -0.1, 0.05], [0.0, 0.1, 0.05]]).expand(batch, 4, 3)
    return root_states, torch.zeros(batch, 28), torch.zeros(batch, 28), key_pos.clone()


def test_hand_checked_observation_at_rest() -> None:
    root_states, dof_pos, dof_vel, key_pos = _state()
    root_states[0, 7:10] = torch.tensor([1.0, 0.0, 0.0])  # moving forward at 1 m/s
    dof_vel[0, 9] = 2.0  # right elbow
    obs = compute_humanoid_observations(root_states, dof_pos, dof_vel, key_pos, local_root_obs=False)[0]
    assert obs.shape == (105,)
    assert obs[0] == pytest.approx(0.9)  # root height
    np.testing.assert_allclose(obs[1:7].numpy(), [1, 0, 0, 0, 0, 1], atol=1e-7)  # identity: x axis, z axis
    np.testing.assert_allclose(obs[7:10].numpy(), [1, 0, 0], atol=1e-7)
    np.testing.assert_allclose(obs[10:13].numpy(), [0, 0, 0], atol=1e-7)
    # Each 3-DOF joint at rest: tangent (1, 0, 0), normal (0, 0, 1); each hinge 0.
    np.testing.assert_allclose(obs[13:19].numpy(), [1, 0, 0, 0, 0, 1], atol=1e-7)
    assert obs[31] == 0.0 and obs[38] == 0.0  # elbows sit at 31 and 38 in the 52 DOF numbers
    assert obs[65 + 9] == 2.0  # DOF velocities start at 65
    np.testing.assert_allclose(obs[93:96].numpy(), [0.1, -0.3, 0.1], atol=1e-6)  # right hand relative to the root


def test_heading_frame_terms_are_yaw_invariant() -> None:
    root_states, dof_pos, dof_vel, key_pos = _state(2)
    root_states[:, 7:13] = torch.tensor([0.5, 0.2, -0.1, 0.3, -0.2, 0.7])
    yaw = torch.tensor(0.8)
    spin = rot.quat_from_angle_axis(yaw, torch.tensor([0.0, 0.0, 1.0]))
    turned = root_states.clone()
    turned[1, 3:7] = rot.quat_mul(spin, root_states[1, 3:7])
    turned[1, 7:10] = rot.quat_rotate(spin, root_states[1, 7:10])
    turned[1, 10:13] = rot.quat_rotate(spin, root_states[1, 10:13])
    key_turned = key_pos.clone()
    key_turned[1] = rot.quat_rotate(spin.expand(4, 4), key_pos[1] - root_states[1, :3]) + root_states[1, :3]
    global_obs = compute_humanoid_observations(turned, dof_pos, dof_vel, key_turned, local_root_obs=False)
    local_obs = compute_humanoid_observations(turned, dof_pos, dof_vel, key_turned, local_root_obs=True)
    np.testing.assert_allclose(global_obs[0, 7:].numpy(), global_obs[1, 7:].numpy(), atol=1e-6)
    assert not torch.allclose(global_obs[0, 1:7], global_obs[1, 1:7])  # the original keeps the global yaw here
    np.testing.assert_allclose(local_obs[0].numpy(), local_obs[1].numpy(), atol=1e-6)


def test_dof_to_obs_layout() -> None:
    dof_pos = torch.zeros(1, 28)
    dof_pos[0, 3:6] = torch.tensor([0.0, 0.0, math.pi / 2])  # head turned 90 degrees about z
    dof_pos[0, 17] = 1.0  # right knee
    obs = dof_to_obs(dof_pos)[0]
    assert obs.shape == (52,)
    np.testing.assert_allclose(obs[6:12].numpy(), [0, 1, 0, 0, 0, 1], atol=1e-6)  # x axis now points along +y
    # right knee is the 8th group: 6 (torso) + 6 (head) + 6 + 1 + 6 + 1 + 6 (right hip) = 32
    assert obs[32] == pytest.approx(1.0)


def test_vectorised_matches_per_environment() -> None:
    generator = torch.Generator().manual_seed(0)
    root_states = torch.randn(32, 13, generator=generator)
    root_states[:, 3:7] = rot.quat_normalize(root_states[:, 3:7])
    dof_pos = torch.randn(32, 28, generator=generator)
    dof_vel = torch.randn(32, 28, generator=generator)
    key_pos = torch.randn(32, 4, 3, generator=generator)
    batched = compute_humanoid_observations(root_states, dof_pos, dof_vel, key_pos, False)
    for i in range(32):
        single = compute_humanoid_observations(
            root_states[i : i + 1], dof_pos[i : i + 1], dof_vel[i : i + 1], key_pos[i : i + 1], False
        )
        np.testing.assert_allclose(batched[i].numpy(), single[0].numpy(), atol=1e-6)


def test_reset_rule_hand_checked() -> None:
    """Four environments, bodies 0..2, body 2 is the allowed contact body (a foot)."""
    progress = torch.tensor([5, 5, 1, 299])
    reset_buf = torch.zeros(4, dtype=torch.long)
    contact = torch.zeros(4, 3, 3)
    positions = torch.ones(4, 3, 3)  # every body at 1 m
    contact[0, 0] = torch.tensor([0.0, 0.0, 5.0])  # env 0: pelvis touches and is low -> fall
    positions[0, 1, 2] = 0.3
    contact[1, 2] = torch.tensor([0.0, 0.0, 500.0])  # env 1: only the foot touches -> fine
    positions[1, 2, 2] = 0.0
    contact[2, 0] = torch.tensor([0.0, 0.0, 5.0])  # env 2: a fall, but in the first steps -> ignored
    positions[2, 1, 2] = 0.3
    contact_ids = torch.tensor([2])
    reset, terminated = compute_humanoid_reset(reset_buf, progress, contact, contact_ids, positions, 300, True, 0.5)
    assert reset.tolist() == [1, 0, 0, 1]  # env 3 times out at step 299
    assert terminated.tolist() == [1, 0, 0, 0]
    # A negative force component does not count (the test is signed), and contact without a low body is no fall.
    contact[0, 0] = torch.tensor([0.0, 0.0, -5.0])
    assert compute_humanoid_reset(reset_buf, progress, contact, contact_ids, positions, 300, True, 0.5)[1][0] == 0
    contact[0, 0] = torch.tensor([0.0, 0.0, 5.0])
    positions[0, 1, 2] = 0.6
    assert compute_humanoid_reset(reset_buf, progress, contact, contact_ids, positions, 300, True, 0.5)[1][0] == 0
    positions[0, 1, 2] = 0.3
    assert compute_humanoid_reset(reset_buf, progress, contact, contact_ids, positions, 300, False, 0.5)[1][0] == 0


def _reference_reset(reset_buf, progress, contact, contact_ids, positions, max_length, early, height):
    """The original's reset maths, written as it did them (masked copies of the forces and heights)."""
    terminated = torch.zeros_like(reset_buf)
    if early:
        masked_contact = contact.clone()
        masked_contact[:, contact_ids, :] = 0
        fall_contact = torch.any(torch.any(masked_contact > 0.1, dim=-1), dim=-1)
        fall_height = positions[..., 2] < height
        fall_height[:, contact_ids] = False
        has_fallen = fall_contact & torch.any(fall_height, dim=-1) & (progress > 1)
        terminated = torch.where(has_fallen, torch.ones_like(reset_buf), terminated)
    reset = torch.where(progress >= max_length - 1, torch.ones_like(reset_buf), terminated)
    return reset, terminated


@pytest.mark.parametrize("early", [True, False])
def test_reset_rule_matches_the_original_maths_on_random_states(early: bool) -> None:
    generator = torch.Generator().manual_seed(3)
    n = 4096
    progress = torch.randint(0, 301, (n,), generator=generator)
    reset_buf = torch.zeros(n, dtype=torch.long)
    # Forces around the 0.1 N threshold, some bodies near the 0.5 m height.
    contact = torch.randn(n, 15, 3, generator=generator) * 0.2 * (torch.rand(n, 15, 1, generator=generator) < 0.3)
    positions = torch.rand(n, 15, 3, generator=generator) * 0.7 + 0.25
    contact_ids = torch.tensor([11, 14])
    ours = compute_humanoid_reset(reset_buf, progress, contact, contact_ids, positions, 300, early, 0.5)
    expected = _reference_reset(reset_buf, progress, contact, contact_ids, positions, 300, early, 0.5)
    for got, want in zip(ours, expected, strict=True):
        assert got.dtype == want.dtype == torch.long
        assert torch.equal(got, want)
    assert 0 < int(expected[1].sum()) < n or not early  # the draw has both falls and non-falls


def test_pd_action_offset_and_scale() -> None:
    limits = torch.zeros(28, 2)
    elbow, knee = AMP_JOINT_LAYOUT.dof_names.index("right_elbow"), AMP_JOINT_LAYOUT.dof_names.index("left_knee")
    limits[elbow] = torch.tensor([math.radians(-160), 0.0])
    limits[knee] = torch.tensor([0.0, math.radians(160)])
    offset, scale = build_pd_action_offset_scale(AMP_JOINT_LAYOUT, limits[:, 0], limits[:, 1])
    assert offset[elbow] == pytest.approx(-1.39626, abs=1e-5) and scale[elbow] == pytest.approx(1.95477, abs=1e-5)
    assert offset[knee] == pytest.approx(1.39626, abs=1e-5) and scale[knee] == pytest.approx(1.95477, abs=1e-5)
    assert (offset[elbow] - scale[elbow]).item() == pytest.approx(-3.3511, abs=1e-4)
    assert offset[0].item() == 0.0 and scale[0].item() == pytest.approx(math.pi)
