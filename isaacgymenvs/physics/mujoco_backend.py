"""The default physics backend: C MuJoCo on the CPU, every environment stepped in parallel by ``mujoco.batch``.

One compiled model, ``num_envs`` simulations held as state rows (a few KB each, not a full ``MjData`` per
environment), stepped on a thread pool with the GIL released. Bodies, joints and actuators are found by name, so a model
whose actuators are listed in another order still maps correctly; a model missing any of the character's bodies or
joints is refused with one line naming what is missing.

Conversions at the boundary: MuJoCo's (w, x, y, z) quaternions become (x, y, z, w); the free joint's angular velocity
(body frame in ``qvel``) is rotated to the world frame; body velocities are moved from MuJoCo's centre-of-mass-based
``cvel`` to the body origins; hinge triplets become exponential maps (:mod:`isaacgymenvs.physics.joint_mapping`);
per-body contact forces are the force part of ``cfrc_ext``, which MuJoCo computes because the model carries an
acceleration sensor.

Speed: a step runs no extra forward pass. Body positions and rotations are computed from ``qpos`` by forward
kinematics in torch (a rotation-matrix chain over 15 bodies, :mod:`isaacgymenvs.physics.kinematics`), which is cheaper
than asking MuJoCo to recompute its derived quantities at the new state; contact forces are those of the last physics
step (zero right after a state write). Body velocities, which the task does not use, run MuJoCo's velocity stage only
when read. MuJoCo's state rows are read and written through zero-copy torch views of the batch's arrays, and the
conversions work on component planes (``[D, N]``, ``[4, B, N]``), which eager CPU torch runs many times faster than
the same maths on ``[N, B, 4]`` tensors. The state buffers are planes too: ``root_states``, ``dof_pos``, ``dof_vel``
and ``rigid_body_pos`` are the usual ``[N, ...]`` views of ``[13, N]``, ``[D, N]`` and ``[3, B, N]`` storage, so the
refresh writes them without transposing and the observations read them as planes.

An environment counts as unstable after a step when its state holds NaN/inf or an absurd velocity, or when MuJoCo
reset it on its own (it does so, with a warning, when accelerations blow up): its time then falls behind the others'.
The task resets such environments and counts them. MuJoCo's warnings go to Python logging, not to ``MUJOCO_LOG.TXT``
in the working directory (:mod:`isaacgymenvs.physics.mujoco_log`, installed when a backend is built).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

import mujoco
import numpy as np
import torch
from mujoco.batch import Batch, SimulationError

from isaacgymenvs.motion.skeleton import AMP_JOINT_LAYOUT, JointLayout
from isaacgymenvs.physics import kinematics as kin
from isaacgymenvs.physics.backend import BackendConfig, LazyBodyVelocities, PhysicsBackend
from isaacgymenvs.physics.joint_mapping import HingeJointMap
from isaacgymenvs.physics.mujoco_log import install_warning_handler
from isaacgymenvs.physics.mujoco_model import START_TIME, ModelError, compile_model, find_elements, motor_efforts
from isaacgymenvs.physics.mujoco_threads import BatchStepper, default_thread_count
from isaacgymenvs.utils import rotations as rot
from isaacgymenvs.utils.kernels import Kernel

# A joint or root moving faster than this (rad/s or m/s) means the simulation has blown up.
UNSTABLE_VELOCITY = 1.0e3

# The state kept in component planes (environments last), in the order the state kernel returns them.
STATE_PLANES = ("root_states", "hinge_pos", "dof_pos", "dof_vel", "rigid_body_pos")


def _as_slice(ids: np.ndarray) -> slice | None:
    """``ids`` as a slice when they are consecutive and ascending (None otherwise)."""
    first = int(ids[0]) if len(ids) else 0
    return slice(first, first + len(ids)) if np.array_equal(ids, np.arange(first, first + len(ids))) else None


def _reversed_dims(values: torch.Tensor) -> torch.Tensor:
    """``values`` with its dimensions in reverse order (a view): component planes ``[3, B, n]`` <-> rows
    ``[n, B, 3]``, ``[k, n]`` <-> ``[n, k]``."""
    return values.permute(*range(values.dim() - 1, -1, -1))


class MuJoCoBackend(LazyBodyVelocities, PhysicsBackend):
    """``num_envs`` copies of the character in C MuJoCo (see the module docstring).

    Args:
        config: model file, batch size, timing and actuation.
        layout: the character's bodies (in canonical order) and DOF groups.
    """

    prepares_states = True

    def __init__(self, config: BackendConfig, layout: JointLayout = AMP_JOINT_LAYOUT) -> None:
        if config.num_envs <= 0:
            raise ValueError(f"num_envs must be a positive integer, got {config.num_envs}")
        install_warning_handler()
        self.num_envs = config.num_envs
        self.model_file = str(config.model_file)
        self.device = torch.device(config.device)
        self.layout = layout
        self.body_names = layout.skeleton.node_names
        self.dof_names = layout.dof_names
        # Motor efforts (torque limits) are read from the servo model, also when torque mode replaces the servos.
        servo_model = compile_model(config, servos=True)
        self.model = servo_model if config.pd_control else compile_model(config, servos=False)
        self._find_elements(config.model_file)
        self._motor_efforts = motor_efforts(servo_model, self._actuator_ids)
        threads = config.num_threads if config.num_threads > 0 else default_thread_count()
        self.num_threads = min(threads, self.num_envs)
        self._batch = Batch(self.model, self.num_envs, nthread=self.num_threads)
        self._stepper = BatchStepper()  # steps the batch while the caller works (simulate's while_stepping)
        self._default_qpos = torch.from_numpy(self.model.qpos0.copy())
        self._qpos = self._batch.bind("qpos")
        self._qvel = self._batch.bind("qvel")
        self._ctrl = self._batch.bind("ctrl")
        self._time = self._batch.bind("time")
        self._qacc_warmstart = self._batch.bind("qacc_warmstart")
        # The only derived field read every step; others are bound when first needed (each bound field is copied
        # out of every simulation after every call).
        self._cfrc_ext = self._batch.bind("cfrc_ext")
        # Zero-copy torch views of the same memory (float64): reads and writes without numpy round trips.
        self._qpos_view, self._qvel_view, self._ctrl_view = (
            torch.from_numpy(a) for a in (self._qpos, self._qvel, self._ctrl)
        )
        with warnings.catch_warnings():  # cfrc_ext is a read-only output array; it is only read
            warnings.simplefilter("ignore", UserWarning)
            self._cfrc_view = torch.from_numpy(self._cfrc_ext)
        self._pd_control = config.pd_control
        self.physics_dt = float(self.model.opt.timestep)
        ranges = torch.from_numpy(self.model.jnt_range[self._joint_ids].copy()).float()
        self.dof_lower_limits, self.dof_upper_limits = ranges[:, 0].to(self.device), ranges[:, 1].to(self.device)
        self.motor_efforts = torch.from_numpy(self._motor_efforts).float().to(self.device)
        self.joint_map = HingeJointMap(layout, self.dof_lower_limits, self.dof_upper_limits, self.device)
        self._allocate_state()
        # The per-step (and per-reset) tensor maths: compiled when asked.
        self._state_kernel = Kernel(self._engine_state, config.compile_kernels)
        self._target_kernel = Kernel(self._hinge_targets, config.compile_kernels)
        # Start every environment standing in the model's default pose, with derived quantities computed.
        self._park(np.arange(self.num_envs))
        self.refresh()

    # --- construction ---------------------------------------------------------------------------------------------

    def _find_elements(self, model_file: str) -> None:
        model = self.model
        found = find_elements(model, self.layout, model_file)
        self._body_ids, self._joint_ids, self._actuator_ids = found.bodies, found.joints, found.actuators
        self._root_qpos, self._root_qvel = found.root_qpos, found.root_qvel
        self._dof_qpos = model.jnt_qposadr[self._joint_ids]
        self._dof_qvel = model.jnt_dofadr[self._joint_ids]
        # What this backend's torch forward kinematics and contact forces assume of the model.
        parents = [int(model.body_parentid[body]) for body in self._body_ids[1:]]
        expected = [int(self._body_ids[p]) for p in self.layout.skeleton.parent_indices[1:]]
        if parents != expected:
            raise ModelError(f"{model_file}: the body tree differs from the character's")
        if not np.allclose(model.body_quat[self._body_ids[1:]], [1.0, 0.0, 0.0, 0.0]):
            raise ModelError(f"{model_file}: bodies must not be rotated in their parents (body quat must be 1 0 0 0)")
        if model.nsensor == 0:
            raise ModelError(
                f"{model_file}: the model needs an acceleration sensor (e.g. framelinacc) so that MuJoCo "
                "computes per-body contact forces"
            )

    def _allocate_state(self) -> None:
        n, bodies, dofs = self.num_envs, len(self.body_names), len(self.dof_names)
        zeros = {"device": self.device, "dtype": torch.float32}
        # The state buffers live in component planes, environments last: the refresh writes its plane results with
        # plain copies, and readers that want planes (the task's observations) get them without a transposing copy.
        # The public tensors are the usual [N, ...] views of them.
        self._state_planes = {
            "root_states": torch.zeros((13, n), **zeros),
            "hinge_pos": torch.zeros((dofs, n), **zeros),
            "dof_pos": torch.zeros((dofs, n), **zeros),
            "dof_vel": torch.zeros((dofs, n), **zeros),
            "rigid_body_pos": torch.zeros((3, bodies, n), **zeros),
        }
        self.root_states = self._state_planes["root_states"].T
        self._hinge_pos = self._state_planes["hinge_pos"].T
        self.dof_pos = self._state_planes["dof_pos"].T
        self.dof_vel = self._state_planes["dof_vel"].T
        self.rigid_body_pos = _reversed_dims(self._state_planes["rigid_body_pos"])
        self._rigid_body_rot = torch.zeros((n, bodies, 4), **zeros)
        self._rigid_body_vel = torch.zeros((n, bodies, 3), **zeros)
        self._rigid_body_ang_vel = torch.zeros((n, bodies, 3), **zeros)
        self._body_rot_stale = True
        self._body_vel_stale = True
        # Whether cfrc_ext holds this environment's last physics step (false right after a state write).
        self._contacts_valid = np.zeros(n, dtype=bool)
        self._tree = kin.BodyTree(self.layout, self.model.body_pos[self._body_ids], self.device)
        # World rotation matrices [3, 3, B, N], bodies in the tree's internal order (rigid_body_rot reorders them).
        self._body_matrices = torch.zeros((3, 3, bodies, n), **zeros)
        long = {"dtype": torch.long, "device": self.device}
        self._dof_qpos_tensor = torch.as_tensor(self._dof_qpos, **long)
        self._dof_qvel_tensor = torch.as_tensor(self._dof_qvel, **long)
        self._body_ids_tensor = torch.as_tensor(self._body_ids, **long)
        self._actuator_ids_tensor = torch.as_tensor(self._actuator_ids, **long)
        # Root rows of qpos (position, then MuJoCo's w x y z quaternion read as x y z w) and of qvel.
        q, v = self._root_qpos, self._root_qvel
        self._root_qpos_rows = torch.tensor([q, q + 1, q + 2, q + 4, q + 5, q + 6, q + 3], **long)
        self._root_qvel_rows = torch.arange(v, v + 6, **long)
        self._ball_positions = self._tree.canonical[self.joint_map.ball_bodies]
        # The character's bodies' rows of cfrc_ext: a slice when they are consecutive (they are in our model), so that
        # only their force part is converted, without a gather.
        self._force_rows = _as_slice(self._body_ids) or self._body_ids_tensor
        # Likewise the actuators' columns of ctrl (in DOF order in our model: a plain converting copy).
        self._actuator_columns = _as_slice(self._actuator_ids)
        self.contact_forces = torch.zeros((n, bodies, 3), **zeros)

    # --- the interface --------------------------------------------------------------------------------------------

    def set_dof_position_targets(self, targets: torch.Tensor) -> None:
        if not self._pd_control:
            raise RuntimeError("position targets need pdControl: True (this backend was built for torque control)")
        hinge_targets = self._target_kernel(targets.to(self.device), self._state_planes["hinge_pos"])
        # MuJoCo clamps each control to its joint's range (the actuators inherit it).
        self._write_controls(hinge_targets.T)

    def set_dof_actuation_forces(self, torques: torch.Tensor) -> None:
        if self._pd_control:
            raise RuntimeError("torques need pdControl: False (this backend was built for PD control)")
        self._write_controls(torques.detach())

    def _hinge_targets(self, dof_pos: torch.Tensor, reference: torch.Tensor | None) -> torch.Tensor:
        """Hinge angles ``[D, M]`` (planes) for DOF positions ``[M, D]``: :meth:`HingeJointMap.dof_pos_to_hinges` with
        the reference hinge angles as planes ``[D, M]`` (the backend's own), the positions turned into contiguous
        planes first so that every gather and scatter after it runs along whole rows."""
        return self.joint_map.dof_planes_to_hinges(dof_pos.T.contiguous(), reference)

    def _write_controls(self, values: torch.Tensor) -> None:
        """Every environment's controls from ``[N, D]`` values in DOF order (one converting copy into MuJoCo)."""
        if self._actuator_columns is not None:
            self._ctrl_view[:, self._actuator_columns].copy_(values)
        else:
            self._ctrl_view.index_copy_(1, self._actuator_ids_tensor, values.cpu().to(torch.float64))

    def simulate(self, num_steps: int, while_stepping: Callable[[], None] | None = None) -> torch.Tensor:
        expected_time = self._time + num_steps * self.physics_dt
        failed = np.zeros(self.num_envs, dtype=bool)
        try:
            self._step_batch(num_steps, while_stepping)
        except SimulationError as error:  # those simulations kept their previous state
            failed[np.asarray(error.ids)] = True
        self._contacts_valid[:] = True
        # MuJoCo resets a simulation whose accelerations blow up (time restarts); catch those and runaway states.
        reset_by_engine = self._time < expected_time - 0.5 * self.physics_dt
        # One comparison catches NaN (never <=), inf and runaway velocities.
        runaway = ~(np.abs(self._qvel) <= UNSTABLE_VELOCITY).all(axis=1) | ~np.isfinite(self._qpos).all(axis=1)
        unstable = failed | reset_by_engine | runaway
        if unstable.any():
            # Park them in the default pose so that no NaN reaches an observation; the task resets them properly.
            self._park(np.flatnonzero(unstable))
        return torch.from_numpy(unstable).to(self.device)

    def _step_batch(self, num_steps: int, while_stepping: Callable[[], None] | None) -> None:
        """``batch.step``, beside ``while_stepping`` on this thread when given (:class:`BatchStepper`)."""
        if while_stepping is None:
            self._batch.step(nstep=num_steps)
        else:
            self._stepper.run(functools.partial(self._batch.step, nstep=num_steps), while_stepping)

    def _park(self, ids: np.ndarray) -> None:
        """Reset simulations ``ids`` to the model's default state with the clock at :data:`START_TIME`."""
        self._batch.reset(ids, stage=mujoco.mjtStage.mjSTAGE_NONE)
        self._time[ids] = START_TIME
        self._contacts_valid[ids] = False

    def refresh(self, env_ids: torch.Tensor | None = None) -> None:
        body_forces = self._cfrc_view[:, self._force_rows, 3:6]  # [N, B, 3] force parts (a view when sliced)
        if env_ids is None:
            rows = None
            qpos, qvel = self._qpos_view, self._qvel_view
            valid = None if self._contacts_valid.all() else torch.from_numpy(self._contacts_valid).to(self.device)
        else:
            rows = env_ids.detach().cpu()
            qpos, qvel, body_forces = (
                view.index_select(0, rows) for view in (self._qpos_view, self._qvel_view, body_forces)
            )
            valid = torch.from_numpy(self._contacts_valid[rows.numpy()]).to(self.device)
            rows = rows.to(self.device)
        *planes, matrices = self._state_kernel(self._float_planes(qpos), self._float_planes(qvel))
        for name, value in zip(STATE_PLANES, planes, strict=True):
            buffer = self._state_planes[name]
            if rows is None:
                buffer.copy_(value)
            else:
                buffer.index_copy_(buffer.dim() - 1, rows, value)
        if rows is None:
            forces = self.contact_forces.copy_(body_forces)  # converted to float32 in the copy
            self._body_matrices = matrices
        else:
            forces = body_forces.to(device=self.device, dtype=torch.float32)
            self._body_matrices.index_copy_(3, rows, matrices)
        if valid is not None:  # rows written since the last step have no contact forces yet
            forces.masked_fill_(~valid[:, None, None], 0.0)
        if rows is not None:
            self.contact_forces.index_copy_(0, rows, forces)
        self._body_rot_stale = True
        self._body_vel_stale = True

    def _float_planes(self, rows: torch.Tensor) -> torch.Tensor:
        """MuJoCo's float64 ``[n, k]`` state rows as contiguous float32 planes ``[k, n]``, in one converting copy."""
        planes = torch.empty((rows.shape[1], rows.shape[0]), dtype=torch.float32, device=self.device)
        return planes.copy_(rows.T)

    def _engine_state(self, qpos: torch.Tensor, qvel: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The task's state, in component planes, from MuJoCo's ``qpos`` ``[nq, n]`` and ``qvel`` ``[nv, n]``
        (float32 planes, :meth:`_float_planes`).

        Returns:
            ``root_states [13, n]``, hinge angles ``[D, n]``, ``dof_pos [D, n]``, ``dof_vel [D, n]``, body origins
            ``[3, B, n]`` (canonical order; :data:`STATE_PLANES` names them), and body rotation matrices
            ``[3, 3, B, n]`` (the tree's internal body order).
        """
        root = qpos.index_select(0, self._root_qpos_rows)  # [7, n]: position, rotation (x, y, z, w)
        root_vel = qvel.index_select(0, self._root_qvel_rows)  # [6, n]: linear (world), angular (body frame)
        hinge_pos = qpos.index_select(0, self._dof_qpos_tensor)  # [D, n]
        hinge_vel = qvel.index_select(0, self._dof_qvel_tensor)
        root_pos, root_rot = root[:3], root[3:]
        root_states = torch.cat([root, root_vel[:3], kin.quat_rotate_planes(root_rot, root_vel[3:])])
        local = self._tree.local_quats(root_rot, hinge_pos)
        matrices, positions = self._tree.forward_kinematics(local, root_pos)
        exp_maps = kin.quat_to_exp_map_planes(local.index_select(1, self._ball_positions))
        dof_pos = self.joint_map.with_balls(hinge_pos, exp_maps)
        dof_vel = self.joint_map.hinge_planes_to_dof_vel(hinge_pos, hinge_vel)
        positions = positions.index_select(1, self._tree.canonical)
        return root_states, hinge_pos, dof_pos, dof_vel, positions, matrices

    # Body rotations and velocities are not needed by the task every step: computed when first read after a refresh.

    @property
    def rigid_body_rot(self) -> torch.Tensor:
        if self._body_rot_stale:
            matrices = self._body_matrices.index_select(2, self._tree.canonical).permute(3, 2, 0, 1)
            self._rigid_body_rot[:] = rot.quat_from_matrix(matrices)
            self._body_rot_stale = False
        return self._rigid_body_rot

    def _body_cvel_and_com(self) -> tuple[torch.Tensor, torch.Tensor]:
        cvel_field, com_field = self._batch.bind("cvel"), self._batch.bind("subtree_com")
        # MuJoCo's velocity stage at the current state (writes derived fields only; the state is untouched).
        self._batch.forward(stage=mujoco.mjtStage.mjSTAGE_VEL)
        body_ids = self._body_ids
        cvel = torch.from_numpy(cvel_field[:, body_ids].astype(np.float32)).to(self.device)
        com = torch.from_numpy(com_field[:, body_ids[:1]].astype(np.float32)).to(self.device)
        return cvel, com

    def set_state(
        self, env_ids: torch.Tensor, root_states: torch.Tensor, dof_pos: torch.Tensor, dof_vel: torch.Tensor
    ) -> None:
        rows = env_ids.detach().to("cpu", torch.long)
        if rows.numel() == 0:
            return
        self._write_rows(rows, *self._state_rows(root_states, dof_pos, dof_vel))

    def prepare_states(
        self, root_states: torch.Tensor, dof_pos: torch.Tensor, dof_vel: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        qpos, qvel, controls = self._state_rows(root_states, dof_pos, dof_vel)
        # What refresh() reads back from these rows once written (contact forces: zero, as after any state write).
        *planes, matrices = self._state_kernel(self._float_planes(qpos), self._float_planes(qvel))
        prepared = {"qpos": qpos, "qvel": qvel, "ctrl": controls}
        for name, value in zip(STATE_PLANES, planes, strict=True):
            prepared[name] = _reversed_dims(value)  # [M, ...] rows, as the reset pool keeps them
        prepared["body_matrices"] = matrices.permute(3, 0, 1, 2)  # [M, 3, 3, B]
        return prepared

    def write_prepared_states(self, env_ids: torch.Tensor, prepared: dict[str, torch.Tensor]) -> None:
        rows = env_ids.detach().to("cpu", torch.long)
        if rows.numel() == 0:
            return
        self._write_rows(rows, prepared["qpos"], prepared["qvel"], prepared["ctrl"])
        rows = rows.to(self.device)
        for name in STATE_PLANES:
            buffer = self._state_planes[name]
            buffer.index_copy_(buffer.dim() - 1, rows, _reversed_dims(prepared[name]))
        self.contact_forces.index_fill_(0, rows, 0.0)
        self._body_matrices.index_copy_(3, rows, prepared["body_matrices"].permute(1, 2, 3, 0))
        self._body_rot_stale = True
        self._body_vel_stale = True

    def _state_rows(
        self, root_states: torch.Tensor, dof_pos: torch.Tensor, dof_vel: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """MuJoCo's state rows for ``M`` states in the task's convention: ``qpos [M, nq]``, ``qvel [M, nv]`` and the
        controls ``[M, nu]`` (float64; PD: the new pose's hinges, held until the next action; torque mode: zero).
        Coordinates that are not the character's keep the model's defaults."""
        hinge_planes = self._target_kernel(dof_pos.to(self.device), None)
        hinge_vel = self.joint_map.dof_vel_planes_to_hinges(hinge_planes, dof_vel.to(self.device).T.contiguous()).T
        hinge_pos = hinge_planes.T
        root_states = root_states.to(self.device)
        root_rot = rot.quat_normalize(root_states[:, 3:7])
        root_ang_vel_body = rot.quat_rotate_inverse(root_rot, root_states[:, 10:13])
        count, q, v, double = len(root_states), self._root_qpos, self._root_qvel, torch.float64
        qpos = self._default_qpos.expand(count, -1).clone()
        qpos[:, q : q + 3] = root_states[:, 0:3].to(double)
        qpos[:, q + 3 : q + 7] = rot.quat_xyzw_to_wxyz(root_rot).to(double)
        qpos[:, self._dof_qpos_tensor] = hinge_pos.to(double)
        qvel = torch.zeros((count, self.model.nv), dtype=double)
        qvel[:, v : v + 3] = root_states[:, 7:10].to(double)
        qvel[:, v + 3 : v + 6] = root_ang_vel_body.to(double)
        qvel[:, self._dof_qvel_tensor] = hinge_vel.to(double)
        controls = torch.zeros((count, self.model.nu), dtype=double)
        if self._pd_control:
            controls[:, self._actuator_ids_tensor] = hinge_pos.to(double)
        return qpos, qvel, controls

    def _write_rows(self, rows: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor, controls: torch.Tensor) -> None:
        """Write whole state rows of simulations ``rows`` ``[n]`` (CPU, long) through the torch views. A state row is
        time, qpos, qvel, the solver's warm start and the controls (the model has no activations, mocap bodies or
        plugins): writing all of them is a complete reset, without a call into the engine."""
        ids = rows.numpy()
        self._time[ids] = START_TIME
        self._qacc_warmstart[ids] = 0.0
        self._contacts_valid[ids] = False
        self._qpos_view.index_copy_(0, rows, qpos)
        self._qvel_view.index_copy_(0, rows, qvel)
        self._ctrl_view.index_copy_(0, rows, controls)

    def engine_qpos(self, env_id: int) -> np.ndarray:
        """MuJoCo's ``qpos`` ``[nq]`` of one environment (for renderers working on the same model file)."""
        return self._qpos[env_id].copy()

    def close(self) -> None:
        self._stepper.close()
        self._batch = None
