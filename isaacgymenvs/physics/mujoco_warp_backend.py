"""A GPU physics backend: MuJoCo Warp, every environment a world of one batched ``Data`` on one device.

The same model file and the same conversions as the C backend (:mod:`isaacgymenvs.physics.mujoco_backend`): one
compiled ``MjModel`` is moved to the device once (``mujoco_warp.put_model``) and ``num_envs`` worlds share one
``mujoco_warp.Data`` (``put_data(nworld=num_envs, nconmax=..., njmax=...)``). MuJoCo Warp simulates in float32.

Zero copy, one stream, no host round trip. Every engine field the backend touches (``qpos``, ``qvel``, ``ctrl``,
``xpos``, ``xquat``, ``cfrc_ext``, ...) is a torch view of the Warp array (``wp.to_torch``); actions are written into
``ctrl`` and state is read out with torch operations on the device. On CUDA, torch's current stream for the device
becomes Warp's stream when the backend is built, so that the task's and the learner's torch work and Warp's kernels
are ordered on one stream without events; nothing in a control step waits for the device or copies to the host.

A control step (``simulate``) replays a CUDA graph of ``num_steps`` x ``mujoco_warp.step`` (PD targets held in
``ctrl``), captured on its second call (the first call runs eagerly, which compiles and loads every kernel the graph
will launch). Then, in torch on the device: worlds with NaN/inf, a velocity above :data:`UNSTABLE_VELOCITY` or a
constraint buffer overflow (MuJoCo Warp's per-world ``overflow`` flags) are parked in the model's default state by
masked writes, and forward kinematics (a second captured graph) makes ``xpos``/``xquat`` current at the new state. On
Warp's CPU device the same calls run as plain loops (no graphs).

Resets (``set_state``) write root and DOF states, controls, warm start and clock of the selected worlds (index and
mask writes on the device) and run forward kinematics, so that bodies sit exactly at the requested pose right after;
their contact forces read zero until they are stepped, as in the C backend. Contact forces are the force part of
``cfrc_ext``, computed after the constraint solve in every physics step (``opt.run_rne_postconstraint``).

Buffers: ``nconmax`` contacts per world on average and ``njmax`` constraint rows per world at most. The defaults were
measured on this humanoid with random actions, falls and bodies lying tangled (docs/simulation.md); a world that
still overflows is reported unstable and reset, never silently wrong.

``BackendConfig.num_threads`` and ``compile_kernels`` do not apply (Warp parallelises over worlds itself).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

import mujoco
import numpy as np
import torch

from isaacgymenvs.motion.skeleton import AMP_JOINT_LAYOUT, JointLayout
from isaacgymenvs.physics.backend import BackendConfig, LazyBodyVelocities, PhysicsBackend
from isaacgymenvs.physics.joint_mapping import HingeJointMap
from isaacgymenvs.physics.mujoco_model import START_TIME, compile_model, find_elements, motor_efforts
from isaacgymenvs.utils import rotations as rot

# A joint or root moving faster than this (rad/s or m/s) means the world has blown up (as in the C backend).
UNSTABLE_VELOCITY = 1.0e3
# Contacts per world (average over worlds) and constraint rows per world (strict); measured, see docs/simulation.md.
NCONMAX = 32
NJMAX = 128
INSTALL_HINT = "pip install -e '.[gpu]' (brings mujoco-warp and warp-lang)"


class WarpUnavailableError(ImportError):
    """MuJoCo Warp or Warp is not installed (the message says how to install them)."""


def warp_available() -> bool:
    """Whether ``mujoco_warp`` and ``warp`` can be imported (without importing them)."""
    return all(importlib.util.find_spec(name) is not None for name in ("warp", "mujoco_warp"))


def _import_warp() -> tuple[Any, Any]:
    try:
        wp = importlib.import_module("warp")
        mjw = importlib.import_module("mujoco_warp")
    except ImportError as error:
        raise WarpUnavailableError(f"the mujoco_warp backend needs {error.name}: {INSTALL_HINT}") from None
    return wp, mjw


class MuJoCoWarpBackend(LazyBodyVelocities, PhysicsBackend):
    """``num_envs`` copies of the character as worlds of one MuJoCo Warp ``Data`` (see the module docstring).

    Args:
        config: model file, batch size, timing, actuation and device (``cpu`` or ``cuda:i``).
        layout: the character's bodies (in canonical order) and DOF groups.
        nconmax: contacts per world (average); ``njmax``: constraint rows per world (cap).
    """

    def __init__(
        self,
        config: BackendConfig,
        layout: JointLayout = AMP_JOINT_LAYOUT,
        *,
        nconmax: int = NCONMAX,
        njmax: int = NJMAX,
    ) -> None:
        if config.num_envs <= 0:
            raise ValueError(f"num_envs must be a positive integer, got {config.num_envs}")
        wp, mjw = _import_warp()
        self._wp, self._mjw = wp, mjw
        self.num_envs = config.num_envs
        self.device = torch.device(config.device)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.layout = layout
        self.body_names = layout.skeleton.node_names
        self.dof_names = layout.dof_names
        self._pd_control = config.pd_control
        servo_model = compile_model(config, servos=True)
        self.model = servo_model if config.pd_control else compile_model(config, servos=False)
        ids = find_elements(self.model, layout, config.model_file)
        self.physics_dt = float(self.model.opt.timestep)
        ranges = torch.from_numpy(self.model.jnt_range[ids.joints].copy()).float().to(self.device)
        self.dof_lower_limits, self.dof_upper_limits = ranges[:, 0].contiguous(), ranges[:, 1].contiguous()
        self.motor_efforts = torch.from_numpy(motor_efforts(servo_model, ids.actuators)).float().to(self.device)
        self.joint_map = HingeJointMap(layout, self.dof_lower_limits, self.dof_upper_limits, self.device)
        self._build_engine(nconmax, njmax)
        long = {"dtype": torch.long, "device": self.device}
        self._body_ids = torch.as_tensor(ids.bodies, **long)
        self._dof_qpos = torch.as_tensor(self.model.jnt_qposadr[ids.joints], **long)
        self._dof_qvel = torch.as_tensor(self.model.jnt_dofadr[ids.joints], **long)
        self._actuator_ids = torch.as_tensor(ids.actuators, **long)
        self._root_qpos, self._root_qvel = ids.root_qpos, ids.root_qvel
        self._qpos0 = torch.as_tensor(self.model.qpos0, dtype=torch.float32, device=self.device)
        self._graphs: dict[str, Any] = {}
        self._eager_calls: set[str] = set()
        self._allocate_state()
        # Every world starts in the model's default pose, at rest, with its kinematics current.
        self._park(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))
        self._run("kinematics", self._mjw.kinematics)
        self.refresh()

    # --- construction ---------------------------------------------------------------------------------------------

    def _build_engine(self, nconmax: int, njmax: int) -> None:
        wp, mjw = self._wp, self._mjw
        # Warp's per-module compile and load messages (a hundred lines on first use) only at debug level.
        if hasattr(wp, "LOG_WARNING"):
            wp.config.log_level = wp.LOG_WARNING
        else:  # older Warp
            wp.config.quiet = True
        self._wp_device = wp.get_device("cpu" if self.device.type == "cpu" else f"cuda:{self.device.index}")
        data = mujoco.MjData(self.model)
        mujoco.mj_forward(self.model, data)
        with wp.ScopedDevice(self._wp_device):
            self._m = mjw.put_model(self.model)
            self._d = mjw.put_data(self.model, data, nworld=self.num_envs, nconmax=nconmax, njmax=njmax)
        # cfrc_ext after every solve, whether or not the model carries a sensor that asks for it.
        self._m.opt.run_rne_postconstraint = True
        self._use_graphs = self._wp_device.is_cuda
        if self._use_graphs:
            # One stream for torch and Warp: torch's work on this device is issued on Warp's stream from now on.
            # (Once, when built: the uploads and any earlier torch work finish before the streams change.)
            wp.synchronize_device(self._wp_device)
            torch.cuda.synchronize(self.device)
            stream = wp.get_stream(self._wp_device)
            torch.cuda.set_stream(torch.cuda.ExternalStream(stream.cuda_stream, device=self.device))
        view = wp.to_torch
        d = self._d
        self._qpos, self._qvel, self._ctrl = view(d.qpos), view(d.qvel), view(d.ctrl)
        self._time, self._qacc_warmstart, self._overflow = view(d.time), view(d.qacc_warmstart), view(d.overflow)
        self._xpos, self._xquat, self._cfrc_ext = view(d.xpos), view(d.xquat), view(d.cfrc_ext)  # [N, nbody, ...]
        self._act = view(d.act) if self.model.na else None

    def _allocate_state(self) -> None:
        n, bodies, dofs = self.num_envs, len(self.body_names), len(self.dof_names)
        zeros = {"device": self.device, "dtype": torch.float32}
        self.root_states = torch.zeros((n, 13), **zeros)
        self.dof_pos = torch.zeros((n, dofs), **zeros)
        self.dof_vel = torch.zeros((n, dofs), **zeros)
        self.rigid_body_pos = torch.zeros((n, bodies, 3), **zeros)
        self.rigid_body_rot = torch.zeros((n, bodies, 4), **zeros)
        self.contact_forces = torch.zeros((n, bodies, 3), **zeros)
        self._rigid_body_vel = torch.zeros((n, bodies, 3), **zeros)
        self._rigid_body_ang_vel = torch.zeros((n, bodies, 3), **zeros)
        self._body_vel_stale = True
        self._hinge_pos = torch.zeros((n, dofs), **zeros)
        # Whether cfrc_ext holds this world's last physics step (false right after a state write).
        self._contacts_valid = torch.zeros(n, dtype=torch.bool, device=self.device)

    # --- Warp launches: graphs on CUDA, plain calls on the CPU ---------------------------------------------------

    def _run(self, name: str, launch: Any, repeat: int = 1) -> None:
        """Run ``launch(m, d)`` ``repeat`` times: on CUDA as a graph captured on the second call and replayed after."""
        wp = self._wp
        with wp.ScopedDevice(self._wp_device):
            key = f"{name}x{repeat}"
            if not self._use_graphs or key not in self._eager_calls:
                for _ in range(repeat):
                    launch(self._m, self._d)
                self._eager_calls.add(key)  # kernels compiled and loaded: the next call may capture
                return
            if key not in self._graphs:
                with wp.ScopedCapture(device=self._wp_device) as capture:
                    for _ in range(repeat):
                        launch(self._m, self._d)
                self._graphs[key] = capture.graph
            wp.capture_launch(self._graphs[key])

    # --- the interface --------------------------------------------------------------------------------------------

    def set_dof_position_targets(self, targets: torch.Tensor) -> None:
        if not self._pd_control:
            raise RuntimeError("position targets need pdControl: True (this backend was built for torque control)")
        hinge_targets = self.joint_map.dof_pos_to_hinges(targets.to(self.device, torch.float32), self._hinge_pos)
        # MuJoCo Warp clamps each control to its joint's range (the actuators inherit it), as C MuJoCo does.
        self._ctrl[:, self._actuator_ids] = hinge_targets

    def set_dof_actuation_forces(self, torques: torch.Tensor) -> None:
        if self._pd_control:
            raise RuntimeError("torques need pdControl: False (this backend was built for PD control)")
        self._ctrl[:, self._actuator_ids] = torques.detach().to(self.device, torch.float32)

    def simulate(self, num_steps: int, while_stepping: Callable[[], None] | None = None) -> torch.Tensor:
        self._run("step", self._mjw.step, num_steps)
        if while_stepping is not None:  # queued behind the step's kernels on the one stream
            while_stepping()
        self._contacts_valid.fill_(True)
        # One comparison catches NaN (never <=), inf and runaway velocities; overflowed buffers dropped constraints.
        unstable = (
            ~(self._qvel.abs() <= UNSTABLE_VELOCITY).all(dim=1)
            | ~torch.isfinite(self._qpos).all(dim=1)
            | (self._overflow != 0)
        )
        # Park them in the default pose (masked writes: no host sync) so that no NaN reaches an observation.
        self._park(unstable)
        self._run("kinematics", self._mjw.kinematics)
        self._body_vel_stale = True
        return unstable

    def _park(self, mask: torch.Tensor) -> None:
        """Put worlds ``mask`` ``[N]`` (bool) in the model's default state, at rest, with the clock at START_TIME."""
        rows = mask[:, None]
        self._qpos.copy_(torch.where(rows, self._qpos0, self._qpos))
        for field in (self._qvel, self._qacc_warmstart, self._ctrl):
            field.masked_fill_(rows, 0.0)
        if self._act is not None:
            self._act.masked_fill_(rows, 0.0)
        self._time.masked_fill_(mask, START_TIME)
        self._overflow.masked_fill_(mask, 0)
        self._contacts_valid &= ~mask

    def refresh(self, env_ids: torch.Tensor | None = None) -> None:
        rows: slice | torch.Tensor = slice(None) if env_ids is None else env_ids.to(self.device)
        qpos, qvel = self._qpos[rows], self._qvel[rows]
        root_pos = qpos[:, self._root_qpos : self._root_qpos + 3]
        root_rot = rot.quat_wxyz_to_xyzw(qpos[:, self._root_qpos + 3 : self._root_qpos + 7])
        root_ang_vel_body = qvel[:, self._root_qvel + 3 : self._root_qvel + 6]
        self.root_states[rows] = torch.cat(
            [
                root_pos,
                root_rot,
                qvel[:, self._root_qvel : self._root_qvel + 3],
                rot.quat_rotate(root_rot, root_ang_vel_body),
            ],
            dim=-1,
        )
        hinge_pos = qpos[:, self._dof_qpos]
        self._hinge_pos[rows] = hinge_pos
        self.dof_pos[rows] = self.joint_map.hinges_to_dof_pos(hinge_pos)
        self.dof_vel[rows] = self.joint_map.hinges_to_dof_vel(hinge_pos, qvel[:, self._dof_qvel])
        self.rigid_body_pos[rows] = self._xpos[rows][:, self._body_ids]
        self.rigid_body_rot[rows] = rot.quat_wxyz_to_xyzw(self._xquat[rows][:, self._body_ids])
        forces = self._cfrc_ext[rows][:, self._body_ids, 3:6]
        valid = self._contacts_valid[rows][:, None, None]
        self.contact_forces[rows] = torch.where(valid, forces, torch.zeros_like(forces))
        self._body_vel_stale = True

    def _body_cvel_and_com(self) -> tuple[torch.Tensor, torch.Tensor]:
        # MuJoCo Warp's velocity stage at the current state (kinematics are current): cvel and subtree_com.
        self._run("velocities", lambda m, d: (self._mjw.com_pos(m, d), self._mjw.com_vel(m, d)))
        cvel = self._wp.to_torch(self._d.cvel)[:, self._body_ids]
        com = self._wp.to_torch(self._d.subtree_com)[:, self._body_ids[:1]]
        return cvel, com

    def set_state(
        self, env_ids: torch.Tensor, root_states: torch.Tensor, dof_pos: torch.Tensor, dof_vel: torch.Tensor
    ) -> None:
        env_ids = env_ids.to(self.device, torch.long)
        hinge_pos = self.joint_map.dof_pos_to_hinges(dof_pos.to(self.device, torch.float32))
        hinge_vel = self.joint_map.dof_vel_to_hinges(hinge_pos, dof_vel.to(self.device, torch.float32))
        root_states = root_states.to(self.device, torch.float32)
        root_rot = rot.quat_normalize(root_states[:, 3:7])
        root_ang_vel_body = rot.quat_rotate_inverse(root_rot, root_states[:, 10:13])
        qpos, qvel = self._qpos[env_ids], self._qvel[env_ids]
        qpos[:, self._root_qpos : self._root_qpos + 3] = root_states[:, 0:3]
        qpos[:, self._root_qpos + 3 : self._root_qpos + 7] = rot.quat_xyzw_to_wxyz(root_rot)
        qpos[:, self._dof_qpos] = hinge_pos
        qvel[:, self._root_qvel : self._root_qvel + 3] = root_states[:, 7:10]
        qvel[:, self._root_qvel + 3 : self._root_qvel + 6] = root_ang_vel_body
        qvel[:, self._dof_qvel] = hinge_vel
        # Solver history, clock, controls and overflow flags of these worlds: a complete reset by masked writes.
        mask = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        mask[env_ids] = True
        self._park(mask)
        self._qpos[env_ids] = qpos
        self._qvel[env_ids] = qvel
        if self._pd_control:  # PD: hold the new pose until the next action arrives. Torque mode: no torque.
            ctrl = self._ctrl[env_ids]
            ctrl[:, self._actuator_ids] = hinge_pos
            self._ctrl[env_ids] = ctrl
        # Body positions and rotations at the new pose (kinematics of every world: cheap, and the others' unchanged).
        self._run("kinematics", self._mjw.kinematics)

    def engine_qpos(self, env_id: int) -> np.ndarray:
        """MuJoCo's ``qpos`` ``[nq]`` of one environment (for renderers working on the same model file)."""
        return self._qpos[env_id].detach().double().cpu().numpy()

    def engine_counts(self) -> dict[str, torch.Tensor]:
        """Buffer use after the last physics step: ``nefc`` ``[N]`` constraint rows per world, ``nacon`` ``[1]``
        contacts over all worlds (to size ``njmax`` and ``nconmax``)."""
        return {"nefc": self._wp.to_torch(self._d.nefc), "nacon": self._wp.to_torch(self._d.nacon)}

    def close(self) -> None:
        self._graphs.clear()
