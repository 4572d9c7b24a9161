"""The HumanoidAMP task's contract with the learner: shapes, spaces, extras, resets, state initialisation, AMP
observations and demonstrations, unstable simulations, bad configuration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import isaacgymenvs
from isaacgymenvs.bench.fidelity import track_reference
from isaacgymenvs.motion.skeleton import forward_kinematics
from isaacgymenvs.tasks.amp.humanoid_amp_config import ConfigError, HumanoidAMPConfig
from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP

pytestmark = pytest.mark.sim


def _task(num_envs: int = 8, **env: object) -> HumanoidAMP:
    return HumanoidAMP(
        {"env": {"numEnvs": num_envs, "motion_file": "humanoid3d_walk", **env}, "sim": {}},
        rl_device="cpu",
        sim_device="cpu",
    )


def test_contract_shapes_spaces_and_extras() -> None:
    task = _task(8)
    assert task.observation_space.shape == (105,) and task.action_space.shape == (28,)
    assert task.amp_observation_space.shape == (210,) and task.get_num_amp_obs() == 210
    assert task.action_space.low.min() == -1 and task.action_space.high.max() == 1
    first = task.reset()["obs"]
    assert first.shape == (8, 105) and float(first.abs().sum()) == 0  # no reset yet, as in the original
    obs_dict, done_ids = task.reset_done()
    assert done_ids.tolist() == list(range(8))  # reset_buf starts all ones
    assert obs_dict["obs"].abs().sum() > 0
    obs_dict, rew, reset, extras = task.step(torch.zeros(8, 28))
    assert obs_dict["obs"].shape == (8, 105) and rew.shape == (8,) and reset.shape == (8,)
    assert torch.all(rew == 1.0)
    assert extras["amp_obs"].shape == (8, 210)
    assert extras["terminate"].shape == (8,) and extras["time_outs"].shape == (8,)
    assert task.progress_buf.tolist() == [1] * 8
    # The AMP observation is [obs after the step, obs before it].
    np.testing.assert_allclose(extras["amp_obs"][:, :105].numpy(), obs_dict["obs"].numpy())
    demo = task.fetch_amp_obs_demo(16)
    assert demo.shape == (16, 210) and torch.isfinite(demo).all()


def test_random_actions_300_steps_stay_finite() -> None:
    task = _task(64)
    torch.manual_seed(0)
    task.reset()
    finished = 0
    for _ in range(300):
        _, done_ids = task.reset_done()
        finished += len(done_ids)
        obs_dict, rew, _reset, extras = task.step(torch.rand(64, 28) * 2 - 1)
        for value in (obs_dict["obs"], rew, extras["amp_obs"]):
            assert torch.isfinite(value).all()
    assert finished > 64  # random actions fall over; every fall was reset and the run went on


def test_falls_terminate_early() -> None:
    # Torque mode with zero torques: the character collapses like a rag doll from the default pose.
    task = _task(4, pdControl=False, stateInit="Default")
    task.reset_done()
    steps = 0
    while steps < 120:
        _, _, reset, extras = task.step(torch.zeros(4, 28))
        steps += 1
        if reset.all():
            break
    assert reset.all() and extras["terminate"].all() and not extras["time_outs"].any()
    assert steps < 100
    assert (task.progress_buf > 1).all()  # falls only count from the third step


def test_time_outs_reset_at_the_episode_length() -> None:
    task = _task(4, episodeLength=10, enableEarlyTermination=False)
    task.reset_done()
    for step in range(1, 10):
        _, _, reset, extras = task.step(torch.zeros(4, 28))
        assert bool(reset.any()) == (step == 9)
    assert extras["time_outs"].all() and not extras["terminate"].any()
    _, done_ids = task.reset_done()
    assert len(done_ids) == 4 and task.progress_buf.tolist() == [0] * 4


@pytest.mark.parametrize("clip", ["humanoid3d_walk", "humanoid3d_backflip"])
def test_reference_state_init_puts_the_body_in_the_clips_pose(clip: str) -> None:
    task = _task(64, motion_file=clip, stateInit="Random")
    task.reset_done()
    library = task.motion_lib
    motion = library.get_motion(0)
    # Which clip time did each environment get? Recover it from the stored history query: re-run the reset with a
    # known generator state instead.
    torch.manual_seed(3)
    env_ids = torch.arange(64)
    task.reset_idx(env_ids)
    torch.manual_seed(3)
    motion_ids = library.sample_motions(64)
    times = library.sample_time(motion_ids)
    root_pos, _, _, _, _, _, key_pos = library.get_motion_state(motion_ids, times)
    local = library.get_local_rotations(motion_ids, times)
    _, body_pos = forward_kinematics(local.double(), root_pos.double(), motion.skeleton)
    np.testing.assert_allclose(task.backend.rigid_body_pos.numpy(), body_pos.float().numpy(), atol=1e-5)
    # At frame times the blended pose is the frame itself, so the simulator's hands and feet are the library's
    # key-body positions.
    frame_times = torch.randint(0, motion.num_frames, (64,)).double() / motion.fps
    root_pos, root_rot, dof_pos, root_vel, root_ang_vel, dof_vel, key_pos = library.get_motion_state(
        motion_ids, frame_times
    )
    task.backend.set_state(env_ids, torch.cat([root_pos, root_rot, root_vel, root_ang_vel], -1), dof_pos, dof_vel)
    task.backend.refresh()
    simulated = task.backend.rigid_body_pos[:, task._key_body_ids]
    assert float((simulated - key_pos).norm(dim=-1).max()) < 1e-3
    np.testing.assert_allclose(task.backend.dof_pos.numpy(), dof_pos.numpy(), atol=1e-5)
    np.testing.assert_allclose(task.backend.dof_vel.numpy(), dof_vel.numpy(), atol=1e-4)


def test_amp_window_holds_the_last_k_observations_newest_first() -> None:
    task = _task(6, numAMPObsSteps=4, enableEarlyTermination=False)
    obs = task.reset_done()[0]["obs"].clone()
    seen = [obs]
    for step in range(6):
        obs_dict, _, _, extras = task.step(torch.rand(6, 28) * 2 - 1)
        seen.insert(0, obs_dict["obs"].clone())
        window = extras["amp_obs"].reshape(6, 4, 105)
        for slot in range(min(4, step + 2)):  # older slots than the episode hold the reset's history
            torch.testing.assert_close(window[:, slot], seen[slot])
        assert task.reset_done()[1].numel() == 0


def test_amp_history_after_a_reference_reset_matches_the_demonstration() -> None:
    task = _task(16, stateInit="Start")
    task.reset_done()
    # Start: every environment at time 0 of the clip. Its AMP history equals a demonstration sample at t0 = 0.
    demo = task.build_amp_obs_demo(torch.zeros(16, dtype=torch.long), torch.zeros(16, dtype=torch.float64))
    np.testing.assert_allclose(task._amp_obs_buf.reshape(16, 210).numpy(), demo.numpy(), atol=1e-4)


def test_default_and_hybrid_initialisation() -> None:
    task = _task(8, stateInit="Default")
    task.reset_done()
    shoulder = task.joint_layout.dof_names.index("right_shoulder_x")
    np.testing.assert_allclose(task.backend.dof_pos[:, shoulder].numpy(), np.pi / 2, atol=1e-5)
    np.testing.assert_allclose(task.backend.root_states[:, 2].numpy(), 0.89, atol=1e-6)
    # Default resets fill the AMP history with copies of the first observation.
    np.testing.assert_allclose(task._amp_obs_buf[:, 1].numpy(), task._amp_obs_buf[:, 0].numpy())
    hybrid = _task(400, stateInit="Hybrid", hybridInitProb=0.25)
    torch.manual_seed(0)
    hybrid.reset_done()
    at_default = (hybrid.backend.dof_pos[:, shoulder] - np.pi / 2).abs() < 1e-4
    assert 0.65 < float(at_default.float().mean()) < 0.85


def test_unstable_simulation_resets_that_env_and_is_counted() -> None:
    task = _task(4)
    task.reset_done()
    task.backend._qvel[1, 12] = 1e12  # blow environment 1 up
    obs_dict, _, reset, extras = task.step(torch.zeros(4, 28))
    assert extras["unstable_envs"] == 1 and extras["unstable_envs_total"] == 1
    assert reset.tolist()[1] == 1 and extras["terminate"].tolist()[1] == 1
    assert torch.isfinite(obs_dict["obs"]).all() and torch.isfinite(extras["amp_obs"]).all()
    _, done_ids = task.reset_done()
    assert 1 in done_ids.tolist()
    obs_dict, _, _, extras = task.step(torch.zeros(4, 28))
    assert extras["unstable_envs"] == 0 and torch.isfinite(obs_dict["obs"]).all()


def test_hands_variant_lets_the_hands_touch() -> None:
    task = isaacgymenvs.make(0, "HumanoidAMPHands", 2, "cpu", "cpu")
    names = [task.joint_layout.skeleton.node_names[i] for i in task._contact_body_ids.tolist()]
    assert names == ["right_foot", "left_foot", "right_hand", "left_hand"]


def test_newcomer_mistakes_get_clear_errors() -> None:
    with pytest.raises(isaacgymenvs.TaskNotFoundError, match=r"unknown task 'Humanoid'.*HumanoidAMP"):
        isaacgymenvs.make(0, "Humanoid", 4, "cpu", "cpu")
    with pytest.raises(ConfigError, match=r"numEnvs \(num_envs=\) must be a positive integer, got 0"):
        isaacgymenvs.make(0, "HumanoidAMP", 0, "cpu", "cpu")
    with pytest.raises(ConfigError, match=r"numEnvs.*got -5"):
        _task(-5)
    with pytest.raises(ConfigError, match="stateInit must be one of"):
        HumanoidAMPConfig.from_cfg({"env": {"numEnvs": 2, "stateInit": "Sometimes"}})
    with pytest.raises(ConfigError, match="episodeLength must be an integer, got 'long'"):
        HumanoidAMPConfig.from_cfg({"env": {"numEnvs": 2, "episodeLength": "long"}})
    with pytest.raises(ConfigError, match=r"contactBodies names unknown bodies \['right_toe'\]"):
        _task(2, contactBodies=["right_toe"])
    with pytest.raises(ValueError, match="motion file not found"):
        _task(2, motion_file="no_such_clip.npy")


def test_make_builds_the_task_like_the_original() -> None:
    task = isaacgymenvs.make(
        seed=1, task="HumanoidAMP", num_envs=3, sim_device="cpu", rl_device="cpu", graphics_device_id=-1, headless=True
    )
    assert isinstance(task, HumanoidAMP) and task.num_envs == 3
    assert task.dt == pytest.approx(0.0332)
    assert task.config.physics_steps_per_action == 4


def test_playing_the_walk_through_the_servos_follows_it() -> None:
    """Open-loop playback of the walk (nothing balances): it follows the clip briefly, then falls. Bounds are the
    figures measured in docs/simulation.md with margins for run-to-run noise."""
    result = track_reference("humanoid3d_walk", num_envs=16, seconds=1.5)
    falls, errors, dt = result["fall_times"], result["key_error"], result["dt"]
    assert np.median(falls) > 0.6  # measured 0.88 s
    assert falls.min() > 0.2  # measured 0.30 s
    assert np.nanmean(errors[round(0.1 / dt) - 1]) < 0.06  # measured 0.041 m
    assert np.nanmean(errors[round(0.25 / dt) - 1]) < 0.15  # measured 0.106 m
