"""The MuJoCo Warp backend on Warp's CPU device against the C backend: the same states and actions give the same
motion within measured tolerances, the same contact terminations, reference-state resets at the clip's pose, the task
contract, unstable worlds parked, and one line saying how to install it when it is missing.

Skipped when ``warp``/``mujoco_warp`` are not installed (``pip install -e .[gpu]``). The first build in a fresh kernel
cache compiles MuJoCo Warp's kernels for the CPU (about 35 s); later builds load them from the cache in 1-2 s.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import PROJECT_ROOT, SMALL_RUN, run_python

from isaacgymenvs.motion.skeleton import AMP_BODY_NAMES
from isaacgymenvs.physics.backend import BackendConfig, PhysicsBackend
from isaacgymenvs.physics.mujoco_backend import MuJoCoBackend
from isaacgymenvs.tasks.amp.humanoid_amp_base import compute_humanoid_reset
from isaacgymenvs.tasks.amp.humanoid_amp_config import ConfigError
from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP
from isaacgymenvs.utils import rotations as rot

pytestmark = pytest.mark.sim

MODEL = PROJECT_ROOT / "assets" / "mjcf" / "amp_humanoid.xml"
# Largest differences from C MuJoCo over 30 control steps of the walk clip tracked through the servos, 4 worlds
# (docs/simulation.md), and the bounds asserted, (body positions m, DOF positions rad):
# * ground contacts only: 1.4e-6 m (float32 against float64), bounds 1e-4 m and 1e-3 rad;
# * with self-collisions: 5.4e-2 m and 0.22 rad. The feet are boxes, and where they touch each other MuJoCo Warp's
#   box-box collider returns two contacts where C MuJoCo's returns one (seen at the same state); from there the worlds
#   drift apart. Bounds 0.1 m and 0.5 rad: loose, but a wrong gain, frame or sign gives metres.
TOLERANCES = {False: (1e-4, 1e-3), True: (0.1, 0.5)}


def _warp_backend(num_envs: int, **options: object) -> PhysicsBackend:
    pytest.importorskip("warp")
    pytest.importorskip("mujoco_warp")
    from isaacgymenvs.physics.mujoco_warp_backend import MuJoCoWarpBackend

    return MuJoCoWarpBackend(BackendConfig(model_file=str(MODEL), num_envs=num_envs, physics_dt=0.0083, **options))


def _task(num_envs: int, backend: str = "mujoco_warp", **env: object) -> HumanoidAMP:
    return HumanoidAMP(
        {"env": {"numEnvs": num_envs, "motion_file": "humanoid3d_walk", **env}, "sim": {"backend": backend}},
        rl_device="cpu",
        sim_device="cpu",
    )


@pytest.fixture(scope="module")
def warp_task() -> HumanoidAMP:
    pytest.importorskip("warp")
    pytest.importorskip("mujoco_warp")
    return _task(8)


def _clip_states(task: HumanoidAMP, times: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Root states ``[n, 13]``, DOF positions and velocities ``[n, D]`` of the task's clip at ``times`` (s)."""
    motion_ids = torch.zeros(len(times), dtype=torch.long)
    root_pos, root_rot, dof_pos, root_vel, root_ang_vel, dof_vel, _ = task.motion_lib.get_motion_state(
        motion_ids, times.double()
    )
    return torch.cat([root_pos, root_rot, root_vel, root_ang_vel], -1).float(), dof_pos.float(), dof_vel.float()


@pytest.mark.parametrize("self_collisions", [False, True])
def test_agrees_with_c_mujoco_over_30_control_steps(warp_task: HumanoidAMP, self_collisions: bool) -> None:
    """From the same clip states, both backends track the clip's next poses through the servos alike."""
    num_envs, steps, dt = 4, 30, warp_task.dt
    start = torch.tensor([0.0, 0.3, 0.6, 0.9])
    warp = _warp_backend(num_envs, self_collisions=self_collisions)
    c_backend = MuJoCoBackend(
        BackendConfig(model_file=str(MODEL), num_envs=num_envs, physics_dt=0.0083, self_collisions=self_collisions)
    )
    for backend in (warp, c_backend):
        backend.set_state(torch.arange(num_envs), *_clip_states(warp_task, start))
        backend.refresh()
    np.testing.assert_allclose(warp.rigid_body_pos.numpy(), c_backend.rigid_body_pos.numpy(), atol=1e-6)
    worst_body, worst_dof = 0.0, 0.0
    for step in range(steps):
        _, targets, _ = _clip_states(warp_task, start + (step + 1) * dt)
        for backend in (warp, c_backend):
            backend.set_dof_position_targets(targets)
            assert not backend.simulate(4).any()
            backend.refresh()
        worst_body = max(worst_body, float((warp.rigid_body_pos - c_backend.rigid_body_pos).abs().max()))
        worst_dof = max(worst_dof, float((warp.dof_pos - c_backend.dof_pos).abs().max()))
    body_tolerance, dof_tolerance = TOLERANCES[self_collisions]
    assert worst_body < body_tolerance and worst_dof < dof_tolerance, (worst_body, worst_dof)
    # The feet carry the weight in both: contact forces of the same size (N).
    weights = [float(b.contact_forces[..., 2].sum(-1).mean()) for b in (warp, c_backend)]
    assert weights[0] > 0 and weights[0] == pytest.approx(weights[1], rel=0.25)


def test_torque_mode_and_body_velocities_agree() -> None:
    """Torque control, ground contacts only, a walking start with a spin: body poses and velocities as in C MuJoCo.

    Measured after 10 control steps of random torques: 5.8e-6 m, 2.7e-4 m/s, 1.1e-3 rad/s, 1 - |q_c . q_warp| 6e-8.
    """
    num_envs = 3
    config = BackendConfig(
        model_file=str(MODEL), num_envs=num_envs, physics_dt=0.0083, self_collisions=False, pd_control=False
    )
    warp, c_backend = _warp_backend(num_envs, self_collisions=False, pd_control=False), MuJoCoBackend(config)
    root = torch.zeros(num_envs, 13)
    root[:, 2], root[:, 6], root[:, 7], root[:, 12] = 0.89, 1.0, 0.5, 1.0  # 0.5 m/s forward, 1 rad/s about z
    generator = torch.Generator().manual_seed(0)
    for backend in (warp, c_backend):
        backend.set_state(torch.arange(num_envs), root, torch.zeros(num_envs, 28), torch.zeros(num_envs, 28))
    for _ in range(10):
        torques = 0.2 * torch.randn(num_envs, 28, generator=generator)
        for backend in (warp, c_backend):
            backend.set_dof_actuation_forces(torques * backend.motor_efforts)
            backend.simulate(4)
            backend.refresh()
    np.testing.assert_allclose(warp.rigid_body_pos.numpy(), c_backend.rigid_body_pos.numpy(), atol=1e-4)
    np.testing.assert_allclose(warp.rigid_body_vel.numpy(), c_backend.rigid_body_vel.numpy(), atol=1e-2)
    np.testing.assert_allclose(warp.rigid_body_ang_vel.numpy(), c_backend.rigid_body_ang_vel.numpy(), atol=1e-2)
    # Quaternions q and -q are the same rotation.
    alignment = (warp.rigid_body_rot * c_backend.rigid_body_rot).sum(-1).abs()
    assert float((1 - alignment).max()) < 1e-5
    assert float(c_backend.rigid_body_ang_vel.abs().max()) > 1.0  # a real motion, not a resting pose


def test_contact_terminations_agree() -> None:
    """Two standing humanoids and two lying on the floor: the task's fall test gives the same flags on both."""
    num_envs = 4
    root = torch.zeros(num_envs, 13)
    root[:2, 2] = 0.89
    root[:2, 6] = 1.0
    root[2:, 2] = 0.2  # lying on the back: a quarter turn about y
    root[2:, 3:7] = rot.quat_from_angle_axis(torch.full((2,), -math.pi / 2), torch.tensor([[0.0, 1.0, 0.0]] * 2))
    zeros = torch.zeros(num_envs, 28)
    warp = _warp_backend(num_envs)
    c_backend = MuJoCoBackend(BackendConfig(model_file=str(MODEL), num_envs=num_envs, physics_dt=0.0083))
    feet = torch.tensor([AMP_BODY_NAMES.index("right_foot"), AMP_BODY_NAMES.index("left_foot")])
    flags = []
    for backend in (warp, c_backend):
        backend.set_state(torch.arange(num_envs), root, zeros, zeros)
        backend.refresh()
        history = []
        for _ in range(8):
            backend.set_dof_position_targets(zeros)
            backend.simulate(4)
            backend.refresh()
            _, terminated = compute_humanoid_reset(
                torch.zeros(num_envs, dtype=torch.long),
                torch.full((num_envs,), 2),
                backend.contact_forces,
                feet,
                backend.rigid_body_pos,
                300,
                True,
                0.5,
            )
            history.append(terminated.tolist())
        flags.append(history)
    # Both: the lying bodies drop onto the floor (0.1 m) and are terminated from the step they touch it on.
    assert flags[0] == flags[1], flags
    assert flags[0][-1] == [0, 0, 1, 1] and not any(row[0] or row[1] for row in flags[0])


def test_reference_state_reset_puts_bodies_at_the_clips_pose(warp_task: HumanoidAMP) -> None:
    library = warp_task.motion_lib
    motion = library.get_motion(0)
    env_ids = torch.arange(warp_task.num_envs)
    frame_times = torch.randint(0, motion.num_frames, (warp_task.num_envs,)).double() / motion.fps
    root_states, dof_pos, dof_vel = _clip_states(warp_task, frame_times)
    _, _, _, _, _, _, key_pos = library.get_motion_state(torch.zeros_like(env_ids), frame_times)
    warp_task.backend.set_state(env_ids, root_states, dof_pos, dof_vel)
    warp_task.backend.refresh()
    simulated = warp_task.backend.rigid_body_pos[:, warp_task._key_body_ids]
    assert float((simulated - key_pos).norm(dim=-1).max()) < 1e-3  # m
    np.testing.assert_allclose(warp_task.backend.dof_pos.numpy(), dof_pos.numpy(), atol=1e-4)
    assert float(warp_task.backend.contact_forces.abs().max()) == 0  # no stale contacts right after a reset


def test_task_contract_shapes_dtypes_devices(warp_task: HumanoidAMP) -> None:
    task = warp_task
    task.reset()
    task.reset_done()
    torch.manual_seed(0)
    for _ in range(3):
        obs_dict, rew, reset, extras = task.step(torch.rand(8, 28) * 2 - 1)
    for tensor, shape, dtype in (
        (obs_dict["obs"], (8, 105), torch.float32),
        (rew, (8,), torch.float32),
        (reset, (8,), torch.long),
        (extras["amp_obs"], (8, 210), torch.float32),
        (extras["terminate"], (8,), torch.long),
    ):
        assert tensor.shape == shape and tensor.dtype == dtype and tensor.device.type == "cpu"
        assert torch.isfinite(tensor.float()).all()
    backend = task.backend
    assert backend.device.type == "cpu" and backend.root_states.shape == (8, 13)
    assert backend.rigid_body_rot.shape == (8, 15, 4) and backend.rigid_body_vel.shape == (8, 15, 3)
    assert backend.contact_forces.shape == (8, 15, 3) and backend.dof_vel.dtype == torch.float32


def test_unstable_world_is_parked_reset_and_counted(warp_task: HumanoidAMP) -> None:
    task = warp_task
    task.reset_done()
    before = task.num_unstable_resets
    task.backend._qvel[1, 12] = 1e12  # blow world 1 up
    obs_dict, _, reset, extras = task.step(torch.zeros(8, 28))
    assert extras["unstable_envs"] == 1 and extras["unstable_envs_total"] == before + 1
    assert reset.tolist()[1] == 1 and extras["terminate"].tolist()[1] == 1
    assert torch.isfinite(obs_dict["obs"]).all() and torch.isfinite(extras["amp_obs"]).all()


def test_missing_package_is_one_line_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from isaacgymenvs.physics import mujoco_warp_backend
    from isaacgymenvs.tasks.amp import backend_choice

    monkeypatch.setitem(sys.modules, "mujoco_warp", None)  # as if not installed: importing it fails
    with pytest.raises(mujoco_warp_backend.WarpUnavailableError, match=r"pip install -e '\.\[gpu\]'"):
        mujoco_warp_backend._import_warp()
    monkeypatch.setattr(backend_choice, "warp_available", lambda: False)
    with pytest.raises(ConfigError, match=r"^task.sim.backend=mujoco_warp needs MuJoCo Warp: pip install"):
        _task(2)
    assert backend_choice.select_backend("auto", "cuda:0") == "mujoco"  # never asked for: C MuJoCo
    with pytest.raises(ConfigError, match=r"task\.sim\.backend must be"):
        _task(2, backend="physx")


@pytest.mark.slow
def test_training_runs_end_to_end_on_mujoco_warp(tmp_path: Path) -> None:
    pytest.importorskip("warp")
    pytest.importorskip("mujoco_warp")
    args = [*SMALL_RUN, "task.sim.backend=mujoco_warp", "sim_device=cpu", "max_iterations=2", "experiment=warp"]
    result = run_python([str(PROJECT_ROOT / "launch.py"), *args], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert list((tmp_path / "runs").glob("warp*/nn/*.pth")), result.stdout[-2000:]
