"""What both MuJoCo backends (C MuJoCo, :mod:`~isaacgymenvs.physics.mujoco_backend`, and MuJoCo Warp,
:mod:`~isaacgymenvs.physics.mujoco_warp_backend`) take from a model file: the model compiled with the configuration's
physics options, the character's bodies, DOF joints and actuators found by name, and each DOF's motor effort.

Elements are matched by name, never by position, so a file that lists its actuators in another order (the original's
listed the hips as x, z, y) still maps correctly; a file that lacks any of them is refused with one line
(:class:`ModelError`) naming the file and what is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import mujoco
import numpy as np

from isaacgymenvs.motion.skeleton import JointLayout
from isaacgymenvs.physics.backend import BackendConfig

# Every simulation's clock starts here (s), never at 0: MuJoCo restarts a blown-up simulation's clock at 0, so a clock
# behind its expected value reveals the engine's own resets, even right after one of ours.
START_TIME = 1.0


class ModelError(ValueError):
    """A model file that cannot simulate the character (one line: the file and what is wrong)."""


class CharacterElements(NamedTuple):
    """Where the character sits in a compiled model: ids in the layout's order and the free joint's addresses."""

    bodies: np.ndarray  # [B] body ids, the skeleton's canonical order
    joints: np.ndarray  # [D] hinge joint ids, the layout's DOF order
    actuators: np.ndarray  # [D] the actuator driving each DOF joint
    root_qpos: int  # address of the free joint's 7 qpos values (position, quaternion w x y z)
    root_qvel: int  # address of its 6 qvel values (linear world, angular body frame)


def compile_model(config: BackendConfig, *, servos: bool) -> mujoco.MjModel:
    """Load ``config.model_file`` with the configuration's timestep, gravity and floor friction; ``servos=False``
    turns every actuator into a torque motor."""
    path = Path(config.model_file)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        spec = mujoco.MjSpec.from_file(str(path))
    except ValueError as error:
        raise ModelError(f"{path}: MuJoCo cannot load it ({str(error).strip().splitlines()[0]})") from None
    spec.option.timestep = config.physics_dt
    spec.option.gravity = np.asarray(config.gravity, dtype=np.float64)
    for geom in spec.geoms:
        if geom.type == mujoco.mjtGeom.mjGEOM_PLANE:
            geom.friction[0] = config.ground_friction
    if not config.self_collisions:
        # Bit 1 for the character, bit 2 for the ground: a pair collides when one's contype meets the other's
        # conaffinity, so the character's geoms meet the ground's and never each other.
        for geom in spec.geoms:
            ground = geom.type == mujoco.mjtGeom.mjGEOM_PLANE
            geom.contype, geom.conaffinity = (2, 1) if ground else (1, 2)
    if servos and not config.actuator_force_limits:
        for actuator in spec.actuators:
            actuator.forcelimited = mujoco.mjtLimited.mjLIMITED_FALSE
    if not servos:
        # Torque mode: each servo becomes a motor whose control is the torque itself (N m), unclamped as in the
        # original, which scaled actions by motor effort x powerScale in the task.
        for actuator in spec.actuators:
            actuator.set_to_motor()
            actuator.gear[0] = 1.0
            actuator.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE
            actuator.forcelimited = mujoco.mjtLimited.mjLIMITED_FALSE
            actuator.inheritrange = 0.0
    try:
        return spec.compile()
    except ValueError as error:
        raise ModelError(f"{path}: MuJoCo cannot compile it ({str(error).strip().splitlines()[0]})") from None


def motor_efforts(model: mujoco.MjModel, actuator_ids: np.ndarray) -> np.ndarray:
    """Each DOF's torque limit ``[D]``: the servo's force range (the original's motor gear), or its gear for a
    motor."""
    # The range counts even where it is not enforced (actuator_force_limits False): it is still the motor's effort.
    limits = np.abs(model.actuator_forcerange[actuator_ids]).max(axis=1)
    return np.where(limits > 0, limits, model.actuator_gear[actuator_ids, 0])


def find_elements(model: mujoco.MjModel, layout: JointLayout, model_file: str) -> CharacterElements:
    """The character's elements in ``model``: its bodies, a free joint on the root, a hinge per DOF and an actuator
    driving each hinge; :class:`ModelError` naming what is missing or of the wrong kind."""

    def names(obj: mujoco.mjtObj, count: int) -> list[str | None]:
        return [mujoco.mj_id2name(model, obj, i) for i in range(count)]

    bodies = names(mujoco.mjtObj.mjOBJ_BODY, model.nbody)
    missing = [name for name in layout.skeleton.node_names if name not in bodies]
    if missing:
        raise ModelError(f"{model_file}: the model lacks the character's bodies {missing}")
    body_ids = np.array([bodies.index(name) for name in layout.skeleton.node_names])
    root = int(body_ids[0])
    if model.body_jntnum[root] != 1 or model.jnt_type[model.body_jntadr[root]] != mujoco.mjtJoint.mjJNT_FREE:
        raise ModelError(f"{model_file}: body {layout.skeleton.node_names[0]!r} needs a free joint")
    joints = names(mujoco.mjtObj.mjOBJ_JOINT, model.njnt)
    missing = [name for name in layout.dof_names if name not in joints]
    if missing:
        raise ModelError(f"{model_file}: the model lacks the character's joints {missing}")
    joint_ids = np.array([joints.index(name) for name in layout.dof_names])
    if (model.jnt_type[joint_ids] != mujoco.mjtJoint.mjJNT_HINGE).any():
        raise ModelError(f"{model_file}: every DOF joint ({', '.join(layout.dof_names[:3])}, ...) must be a hinge")
    by_joint = {
        int(model.actuator_trnid[i, 0]): i
        for i in range(model.nu)
        if model.actuator_trntype[i] == mujoco.mjtTrn.mjTRN_JOINT
    }
    undriven = [name for name, joint in zip(layout.dof_names, joint_ids, strict=True) if joint not in by_joint]
    if undriven:
        raise ModelError(f"{model_file}: no actuator drives joints {undriven}")
    free_joint = model.body_jntadr[root]
    return CharacterElements(
        bodies=body_ids,
        joints=joint_ids,
        actuators=np.array([by_joint[int(joint)] for joint in joint_ids]),
        root_qpos=int(model.jnt_qposadr[free_joint]),
        root_qvel=int(model.jnt_dofadr[free_joint]),
    )
