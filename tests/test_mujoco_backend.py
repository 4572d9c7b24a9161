"""The MuJoCo backend and our model: the character's facts, conventions at the boundary, gravity, friction, contact
forces, unstable environments, and clear errors for unusable models."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import mujoco
import numpy as np
import pytest
import torch

from isaacgymenvs.motion.skeleton import AMP_BODY_NAMES, AMP_HUMANOID, AMP_JOINT_LAYOUT
from isaacgymenvs.physics import mujoco_log
from isaacgymenvs.physics.backend import BackendConfig
from isaacgymenvs.physics.mujoco_backend import MuJoCoBackend
from isaacgymenvs.physics.mujoco_model import ModelError
from isaacgymenvs.utils import rotations as rot

pytestmark = pytest.mark.sim

MODEL = Path(__file__).resolve().parents[1] / "assets" / "mjcf" / "amp_humanoid.xml"
TOTAL_MASS = 48.89  # kg (spec section 3.1)


def _backend(num_envs: int = 4, model_file: Path = MODEL, **options: object) -> MuJoCoBackend:
    return MuJoCoBackend(BackendConfig(model_file=str(model_file), num_envs=num_envs, physics_dt=0.0083, **options))


def _standing_state(num_envs: int, height: float = 0.89) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    root = torch.zeros(num_envs, 13)
    root[:, 2] = height
    root[:, 6] = 1.0
    return root, torch.zeros(num_envs, 28), torch.zeros(num_envs, 28)


def test_model_matches_the_original_character() -> None:
    model = mujoco.MjModel.from_xml_path(str(MODEL))
    bodies = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, i) for i in range(1, model.nbody)]
    assert bodies == list(AMP_BODY_NAMES)
    assert model.body_mass.sum() == pytest.approx(TOTAL_MASS, abs=0.01)
    np.testing.assert_allclose(model.body_mass[1:4], [9.9956, 12.0115, 3.8823], atol=1e-3)
    np.testing.assert_allclose(model.body_pos[2:], AMP_HUMANOID.local_translation[1:], atol=1e-9)
    joints = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, i) for i in range(1, model.njnt)]
    assert joints == list(AMP_JOINT_LAYOUT.dof_names)
    assert np.all(model.jnt_stiffness == 0) and np.all(model.dof_damping == 0)  # the gains are the servos'
    assert np.all(model.geom_condim == 3)  # real friction (the original's condim 1 was frictionless)
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    assert model.opt.timestep == pytest.approx(0.0083)
    kp = {mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, i): model.actuator_gainprm[i, 0] for i in range(28)}
    assert kp["abdomen_x"] == 600 and kp["neck_y"] == 50 and kp["right_knee"] == 300 and kp["left_ankle_z"] == 200


def test_actuators_are_found_by_joint_name(tmp_path: Path) -> None:
    """A model listing hips x, z, y (as the original did) still drives each joint with its own servo."""
    text = MODEL.read_text()
    hip_y = re.search(r'    <position name="right_hip_y".*\n', text).group(0)
    hip_z = re.search(r'    <position name="right_hip_z".*\n', text).group(0)
    swapped = text.replace(hip_y, "@@Y@@").replace(hip_z, hip_y).replace("@@Y@@", hip_z)
    (tmp_path / "swapped.xml").write_text(swapped)
    normal, reordered = _backend(2), _backend(2, tmp_path / "swapped.xml")
    targets = torch.zeros(2, 28)
    targets[:, AMP_JOINT_LAYOUT.dof_names.index("right_hip_y")] = -0.6
    for backend in (normal, reordered):
        backend.set_state(torch.arange(2), *_standing_state(2))
        backend.set_dof_position_targets(targets)
        backend.simulate(20)
        backend.refresh()
    np.testing.assert_allclose(normal.dof_pos.numpy(), reordered.dof_pos.numpy(), atol=1e-5)
    assert normal.motor_efforts[AMP_JOINT_LAYOUT.dof_names.index("right_hip_y")] == 125


def test_state_round_trip_and_conventions() -> None:
    backend = _backend(3)
    generator = torch.Generator().manual_seed(0)
    root = torch.zeros(3, 13)
    root[:, 0:3] = torch.tensor([[0.5, -1.0, 1.2], [0.0, 0.0, 0.9], [2.0, 3.0, 1.0]])
    root[:, 3:7] = rot.quat_normalize(torch.randn(3, 4, generator=generator))
    root[:, 7:13] = torch.randn(3, 6, generator=generator)
    dof_pos = (torch.rand(3, 28, generator=generator) - 0.5) * 0.8
    dof_vel = torch.randn(3, 28, generator=generator)
    backend.set_state(torch.arange(3), root, dof_pos, dof_vel)
    backend.refresh()
    assert float(rot.quat_angle_between(backend.root_states[:, 3:7], root[:, 3:7]).max()) < 1e-5
    np.testing.assert_allclose(
        backend.root_states[:, [0, 1, 2, 7, 8, 9, 10, 11, 12]].numpy(),
        root[:, [0, 1, 2, 7, 8, 9, 10, 11, 12]].numpy(),
        atol=1e-5,
    )
    np.testing.assert_allclose(backend.dof_pos.numpy(), dof_pos.numpy(), atol=1e-5)
    np.testing.assert_allclose(backend.dof_vel.numpy(), dof_vel.numpy(), atol=1e-4)
    # Body 0 is the root; its velocity from the body-velocity path equals the root's.
    np.testing.assert_allclose(backend.rigid_body_pos[:, 0].numpy(), root[:, 0:3].numpy(), atol=1e-5)
    np.testing.assert_allclose(backend.rigid_body_vel[:, 0].numpy(), root[:, 7:10].numpy(), atol=1e-4)
    np.testing.assert_allclose(backend.rigid_body_ang_vel[:, 0].numpy(), root[:, 10:13].numpy(), atol=1e-4)
    assert float(rot.quat_angle_between(backend.rigid_body_rot[:, 0], root[:, 3:7]).max()) < 1e-5


def test_gravity_free_fall() -> None:
    backend = _backend(1)
    backend.set_state(torch.arange(1), *_standing_state(1, height=2.0))
    steps = 24  # 0.2 s, still in the air
    backend.simulate(steps)
    backend.refresh()
    dt = 0.0083
    # Semi-implicit Euler: v_n = -g n dt, z_n = z_0 - g dt^2 n (n + 1) / 2 (0.5 g t^2 plus half a step's drop).
    assert float(backend.root_states[0, 9]) == pytest.approx(-9.81 * steps * dt, abs=1e-4)
    assert float(backend.root_states[0, 2]) == pytest.approx(2.0 - 9.81 * dt**2 * steps * (steps + 1) / 2, abs=1e-4)


def test_standing_contact_forces_carry_the_weight() -> None:
    backend = _backend(1)
    backend.set_state(torch.arange(1), *_standing_state(1, height=0.92))
    backend.set_dof_position_targets(torch.zeros(1, 28))
    backend.simulate(60)  # 0.5 s: settled (standing on stiff servos alone, it starts to topple after ~1.5 s)
    backend.refresh()
    feet = [AMP_BODY_NAMES.index("right_foot"), AMP_BODY_NAMES.index("left_foot")]
    vertical = float(backend.contact_forces[0, feet, 2].sum())
    assert vertical == pytest.approx(TOTAL_MASS * 9.81, rel=0.03)
    others = [i for i in range(15) if i not in feet]
    assert float(backend.contact_forces[0, others].abs().max()) < 1e-6
    assert float(backend.root_states[0, 2]) > 0.8  # still standing


@pytest.mark.parametrize("friction", [1.0, 0.0])
def test_dropped_humanoid_lands_and_friction_stops_it(friction: float) -> None:
    backend = _backend(1, ground_friction=friction)
    root, dof_pos, dof_vel = _standing_state(1, height=1.3)
    root[0, 7] = 2.0  # thrown forward at 2 m/s
    backend.set_state(torch.arange(1), root, dof_pos, dof_vel)
    backend.set_dof_position_targets(torch.zeros(1, 28))
    backend.simulate(480)  # 4 s
    backend.refresh()
    speed = float(backend.root_states[0, 7:9].norm())
    assert float(backend.root_states[0, 2]) < 1.0  # it came down
    if friction > 0:
        assert speed < 0.05  # and stopped
    else:
        assert speed > 1.0  # without friction it keeps sliding (the original MJCF's condim-1 trap)


def test_unstable_environment_is_detected_and_parked() -> None:
    backend = _backend(4)
    backend.set_state(torch.arange(4), *_standing_state(4))
    backend.set_dof_position_targets(torch.zeros(4, 28))
    backend._qvel[2, 10] = 1e12  # an exploding joint
    backend._qvel[3, :] = np.nan
    unstable = backend.simulate(4)
    assert unstable.tolist() == [False, False, True, True]
    backend.refresh()
    assert torch.isfinite(backend.root_states).all() and torch.isfinite(backend.dof_vel).all()


def test_unstable_simulation_writes_no_mujoco_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    # MuJoCo's default handler appends its warnings to MUJOCO_LOG.TXT in the working directory.
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG, logger=mujoco_log.LOGGER.name)
    backend = _backend(4, num_threads=2)
    warnings_before = mujoco_log.warning_count()
    backend.set_state(torch.arange(4), *_standing_state(4))
    backend.set_dof_position_targets(torch.zeros(4, 28))
    backend._qvel[1, 12] = 1e12  # MuJoCo warns "huge value in QVEL" and resets the simulation
    backend._qvel[2, :] = np.nan
    assert backend.simulate(4).tolist() == [False, True, True, False]
    assert mujoco_log.warning_count() == warnings_before + 2
    assert sum("The simulation is unstable" in record.getMessage() for record in caplog.records) == 2
    assert list(tmp_path.iterdir()) == []


def test_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model file not found"):
        _backend(1, tmp_path / "missing.xml")
    (tmp_path / "broken.xml").write_text("<mujoco><worldbody><body></mujoco>")
    with pytest.raises(ModelError, match="MuJoCo cannot load it"):
        _backend(1, tmp_path / "broken.xml")
    no_hands = MODEL.read_text().replace('name="right_hand"', 'name="right_palm"')
    (tmp_path / "no_hands.xml").write_text(no_hands)
    with pytest.raises(ModelError, match=r"lacks the character's bodies \['right_hand'\]"):
        _backend(1, tmp_path / "no_hands.xml")
    with pytest.raises(ValueError, match="num_envs must be a positive integer"):
        _backend(0)


def test_torque_mode() -> None:
    backend = _backend(1, pd_control=False)
    assert backend.motor_efforts[0] == 125
    backend.set_state(torch.arange(1), *_standing_state(1, height=2.0))
    torques = torch.zeros(1, 28)
    elbow = AMP_JOINT_LAYOUT.dof_names.index("right_elbow")
    torques[0, elbow] = -20.0  # flex the elbow while falling freely
    backend.set_dof_actuation_forces(torques)
    backend.simulate(6)
    backend.refresh()
    assert float(backend.dof_vel[0, elbow]) < -1.0
    with pytest.raises(RuntimeError, match="pdControl"):
        backend.set_dof_position_targets(torch.zeros(1, 28))
    assert math.isfinite(float(backend.dof_pos.sum()))


def test_torch_kinematics_match_mujocos() -> None:
    """Body positions and rotations come from forward kinematics in torch; MuJoCo's own must agree."""
    backend = _backend(8)
    backend.set_state(torch.arange(8), *_standing_state(8))
    generator = torch.Generator().manual_seed(1)
    for _ in range(10):
        backend.set_dof_position_targets(torch.rand(8, 28, generator=generator) * 2 - 1)
        backend.simulate(4)
    backend.refresh()
    xpos, xquat = backend._batch.bind("xpos"), backend._batch.bind("xquat")
    backend._batch.forward(stage=mujoco.mjtStage.mjSTAGE_POS)
    ids = backend._body_ids
    np.testing.assert_allclose(backend.rigid_body_pos.numpy(), xpos[:, ids], atol=1e-5)
    mujoco_rot = rot.quat_wxyz_to_xyzw(torch.from_numpy(xquat[:, ids]).float())
    assert float(rot.quat_angle_between(backend.rigid_body_rot, mujoco_rot).max()) < 1e-3


def test_uncapped_servos_push_harder_with_the_same_efforts() -> None:
    """actuator_force_limits=False lifts the servos' torque cap (not the reported motor efforts): a far target then
    gets kp x error, more than the gear's cap."""
    torques = {}
    for limited in (True, False):
        backend = _backend(num_envs=1, actuator_force_limits=limited)
        assert backend.model.actuator_forcelimited.all() == limited
        assert backend.motor_efforts.max().item() == 125.0
        data = mujoco.MjData(backend.model)
        knee = mujoco.mj_name2id(backend.model, mujoco.mjtObj.mjOBJ_ACTUATOR, "right_knee")
        data.ctrl[knee] = 2.5  # rad, far from the knee's 0: kp 300 x 2.5 = 750 N m wanted
        mujoco.mj_forward(backend.model, data)
        torques[limited] = abs(data.actuator_force[knee])
    assert torques[True] == pytest.approx(100.0)  # the knee's gear
    assert torques[False] == pytest.approx(750.0, rel=1e-3)


def test_without_self_collisions_only_the_ground_touches_the_character() -> None:
    """Crossed thighs high in the air collide by default and not with self_collisions=False; the floor still does."""
    counts = {}
    for enabled in (True, False):
        model = _backend(num_envs=1, self_collisions=enabled).model
        data = mujoco.MjData(model)
        data.qpos[2] = 2.0
        for joint, angle in (("right_hip_x", 0.5), ("left_hip_x", -0.5)):
            data.qpos[model.jnt_qposadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, joint)]] = angle
        mujoco.mj_fwdPosition(model, data)
        counts[enabled] = data.ncon
        data.qpos[2] = 0.2  # now the legs go through the floor
        mujoco.mj_fwdPosition(model, data)
        floor_contacts = sum(model.geom_bodyid[c.geom1] == 0 or model.geom_bodyid[c.geom2] == 0 for c in data.contact)
        assert floor_contacts > 0
    assert counts[True] > 0 and counts[False] == 0


def _random_states(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    root = torch.zeros(count, 13)
    root[:, 0:2] = torch.randn(count, 2, generator=generator)
    root[:, 2] = 0.8 + 0.2 * torch.rand(count, generator=generator)
    root[:, 3:7] = rot.quat_normalize(torch.randn(count, 4, generator=generator))
    root[:, 7:13] = torch.randn(count, 6, generator=generator)
    dof_pos = (torch.rand(count, 28, generator=generator) - 0.5) * 1.2
    return root, dof_pos, torch.randn(count, 28, generator=generator)


@pytest.mark.parametrize("pd_control", [True, False])
def test_prepared_states_write_what_set_state_and_refresh_do(pd_control: bool) -> None:
    """Two batches stepped alike; rows 1, 4, 5 of one reset by set_state + refresh, of the other by writing states
    prepared beforehand: MuJoCo's rows and every state tensor agree exactly, and so does the next step."""
    direct, prepared_side = _backend(6, pd_control=pd_control), _backend(6, pd_control=pd_control)
    for backend in (direct, prepared_side):
        backend.set_state(torch.arange(6), *_random_states(6, seed=1))
        backend.simulate(60)  # half a second: on the ground, touching it
        backend.refresh()
    env_ids = torch.tensor([5, 1, 4])
    assert float(prepared_side.contact_forces[env_ids].abs().sum()) > 0
    states = _random_states(3, seed=2)
    prepared = prepared_side.prepare_states(*states)
    assert all(len(rows) == 3 for rows in prepared.values())
    direct.set_state(env_ids, *states)
    direct.refresh(env_ids)
    prepared_side.write_prepared_states(env_ids, prepared)
    for field in ("_qpos", "_qvel", "_ctrl", "_time", "_qacc_warmstart", "_contacts_valid"):
        np.testing.assert_array_equal(getattr(prepared_side, field), getattr(direct, field), err_msg=field)
    names = ("root_states", "dof_pos", "dof_vel", "rigid_body_pos", "rigid_body_rot", "contact_forces", "_hinge_pos")
    for name in names:
        torch.testing.assert_close(getattr(prepared_side, name), getattr(direct, name), rtol=0, atol=0, msg=name)
    assert float(prepared_side.contact_forces[env_ids].abs().sum()) == 0  # as after any state write
    for backend in (direct, prepared_side):
        if pd_control:
            backend.set_dof_position_targets(torch.full((6, 28), 0.1))
        else:
            backend.set_dof_actuation_forces(torch.full((6, 28), 5.0))
        backend.simulate(4)
        backend.refresh()
    np.testing.assert_array_equal(prepared_side._qpos, direct._qpos)


def test_work_while_stepping_runs_beside_the_same_physics() -> None:
    plain, overlapped = _backend(8), _backend(8, num_threads=2)
    calls = []
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(2)
    for backend in (plain, overlapped):
        backend.set_state(torch.arange(8), *_random_states(8, seed=3))
        backend.set_dof_position_targets(torch.full((8, 28), -0.2))
    plain.simulate(4)
    overlapped.simulate(4, while_stepping=lambda: calls.append(torch.get_num_threads()))
    assert calls == [1]  # called once, on one torch thread
    np.testing.assert_array_equal(overlapped._qpos, plain._qpos)  # results do not depend on threads or callbacks
    # An unstable simulation is still caught, and an error in the callback reaches the caller after the step.
    overlapped._qvel[3, :] = np.nan
    assert overlapped.simulate(4, while_stepping=lambda: None).tolist() == [False] * 3 + [True] + [False] * 4

    def failing() -> None:
        raise RuntimeError("callback failed")

    time_before = overlapped._time.copy()
    with pytest.raises(RuntimeError, match="callback failed"):
        overlapped.simulate(4, while_stepping=failing)
    assert (overlapped._time > time_before).all()  # the physics step finished all the same
    assert torch.get_num_threads() == 2  # restored after each call, the failed one included
    torch.set_num_threads(torch_threads)
    overlapped.close()
