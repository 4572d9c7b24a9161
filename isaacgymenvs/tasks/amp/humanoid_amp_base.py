"""``HumanoidAMPBase``: the AMP humanoid in a physics backend, its PD control, observation, reward and reset.

The maths are pure, batched functions at module level with the original's names and formulas
(``../shared/spec/humanoid_amp_reference.md`` sections 3.4, 5 and 6): :func:`dof_to_obs`,
:func:`compute_humanoid_observations`, :func:`compute_humanoid_reward`, :func:`compute_humanoid_reset`. The class only
gathers state from the backend and writes buffers.

Observation layout (105 numbers, ``localRootObs`` False): root height (1), root rotation as tangent and normal (6),
root linear and angular velocity in the heading frame (3 + 3), DOF positions with each 3-DOF joint as tangent and
normal and each hinge as its angle (52), DOF velocities (28), hand and foot positions relative to the root in the
heading frame (12).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from isaacgymenvs.motion.skeleton import AMP_JOINT_LAYOUT, AMP_KEY_BODY_NAMES, JointLayout
from isaacgymenvs.physics import kinematics as kin
from isaacgymenvs.physics.backend import PhysicsBackend
from isaacgymenvs.tasks.amp.backend_choice import build_backend
from isaacgymenvs.tasks.amp.humanoid_amp_config import ConfigError, HumanoidAMPConfig
from isaacgymenvs.tasks.base.vec_task import VecTask
from isaacgymenvs.utils.kernels import Kernel

KEY_BODY_NAMES = list(AMP_KEY_BODY_NAMES)
DOF_BODY_IDS = AMP_JOINT_LAYOUT.dof_body_ids
DOF_OFFSETS = AMP_JOINT_LAYOUT.dof_offsets
# The default pose's shoulder angles (rad); outside the joint ranges, with the arms crossing the body, as in the
# original (spec section 3.5). Only Default and Hybrid initialisation use it.
DEFAULT_POSE_DOFS = {"right_shoulder_x": math.pi / 2, "left_shoulder_x": -math.pi / 2}
START_HEIGHT = 0.89  # m, root height of the default pose


def dof_obs_size(joint_layout: JointLayout = AMP_JOINT_LAYOUT) -> int:
    """6 numbers per 3-DOF joint, 1 per hinge (52 for the AMP humanoid)."""
    return sum(6 if group.hinge_axis is None else 1 for group in joint_layout.groups)


def observation_size(joint_layout: JointLayout = AMP_JOINT_LAYOUT, num_key_bodies: int = len(KEY_BODY_NAMES)) -> int:
    """13 root numbers + DOF observation + DOF velocities + 3 per key body (105 for the AMP humanoid)."""
    return 13 + dof_obs_size(joint_layout) + joint_layout.num_dofs + 3 * num_key_bodies


NUM_OBS = observation_size()
NUM_ACTIONS = AMP_JOINT_LAYOUT.num_dofs


def _dof_obs_rows(joint_layout: JointLayout, tan_norm_rows: Callable[[int], list[int]], dofs_start: int) -> list[int]:
    """The DOF observation's rows, in DOF order, in stacked planes that hold the tangent-normal of 3-DOF joint g at
    ``tan_norm_rows(g)`` (6 rows) and the DOF positions from row ``dofs_start`` on (hinges are read from there)."""
    rows, ball = [], 0
    for group in joint_layout.groups:
        if group.hinge_axis is None:
            rows.extend(tan_norm_rows(ball))
            ball += 1
        else:
            rows.append(dofs_start + group.dof_offset)
    return rows


def _ball_exp_maps(dofs: torch.Tensor, joint_layout: JointLayout) -> torch.Tensor:
    """The 3-DOF joints' exp maps ``[3, G3, N]`` from DOF-position planes ``[D, N]``."""
    ball_rows = joint_layout.index_tensors(dofs.device)["ball_dofs"].T.reshape(-1)
    return dofs.index_select(0, ball_rows).view(3, -1, dofs.shape[1])


_DOF_OBS_ORDER_CACHE: dict[tuple[int, str], torch.Tensor] = {}


def _dof_obs_planes(dof_pos: torch.Tensor, joint_layout: JointLayout) -> torch.Tensor:
    """:func:`dof_to_obs` as ``[52, N]`` planes, from DOF positions ``[N, D]``."""
    dofs = dof_pos.T  # [D, N]
    tan_norm = kin.quat_to_tan_norm_planes(kin.exp_map_to_quat_planes(_ball_exp_maps(dofs, joint_layout)))
    num_balls = tan_norm.shape[1]
    key = (id(joint_layout), str(dof_pos.device))
    if key not in _DOF_OBS_ORDER_CACHE:  # stacked below: tangent-normal component c of joint g at row c G3 + g
        rows = _dof_obs_rows(joint_layout, lambda g: [c * num_balls + g for c in range(6)], 6 * num_balls)
        _DOF_OBS_ORDER_CACHE[key] = torch.tensor(rows, dtype=torch.long, device=dof_pos.device)
    stacked = torch.cat([tan_norm.reshape(-1, dof_pos.shape[0]), dofs])
    return stacked.index_select(0, _DOF_OBS_ORDER_CACHE[key])


_OBS_ORDER_CACHE: dict[tuple[int, int, str], torch.Tensor] = {}


def _observation_order(joint_layout: JointLayout, num_key_bodies: int, device: torch.device) -> torch.Tensor:
    """The observation's rows ``[O]`` in the planes :func:`compute_humanoid_observations` stacks: root height (1);
    component c of the tangent-normal of quaternion q (``1 + G3`` of them: the root, then each 3-DOF joint); the DOF
    positions (D); component c of heading-frame vector s (``2 + K``: linear velocity, angular velocity, each key body);
    the DOF velocities (D)."""
    key = (id(joint_layout), num_key_bodies, str(device))
    if key not in _OBS_ORDER_CACHE:
        num_quats = 1 + sum(1 for group in joint_layout.groups if group.hinge_axis is None)
        num_vectors, num_dofs = 2 + num_key_bodies, joint_layout.num_dofs
        dofs_start = 1 + 6 * num_quats
        vectors_start = dofs_start + num_dofs
        dof_vel_start = vectors_start + 3 * num_vectors

        def tan_norm(quat: int) -> list[int]:
            return [1 + component * num_quats + quat for component in range(6)]

        def vector(index: int) -> list[int]:
            return [vectors_start + component * num_vectors + index for component in range(3)]

        order = [0, *tan_norm(0), *vector(0), *vector(1)]
        order.extend(_dof_obs_rows(joint_layout, lambda ball: tan_norm(1 + ball), dofs_start))
        order.extend(range(dof_vel_start, dof_vel_start + num_dofs))
        for key_body in range(num_key_bodies):
            order.extend(vector(2 + key_body))
        _OBS_ORDER_CACHE[key] = torch.tensor(order, dtype=torch.long, device=device)
    return _OBS_ORDER_CACHE[key]


def dof_to_obs(dof_pos: torch.Tensor, joint_layout: JointLayout = AMP_JOINT_LAYOUT) -> torch.Tensor:
    """DOF positions ``[N, D]`` as the policy sees them ``[N, 52]``: each 3-DOF joint's exp map as the tangent and
    normal of its rotation (6), each hinge's angle (1), in DOF order."""
    return _dof_obs_planes(dof_pos, joint_layout).T.contiguous()


def compute_humanoid_observations(
    root_states: torch.Tensor,
    dof_pos: torch.Tensor,
    dof_vel: torch.Tensor,
    key_body_pos: torch.Tensor,
    local_root_obs: bool,
    joint_layout: JointLayout = AMP_JOINT_LAYOUT,
) -> torch.Tensor:
    """The policy observation ``[N, 105]`` (also the per-step AMP observation); may be a transposed view.

    The maths run on component planes (:mod:`isaacgymenvs.physics.kinematics`). Undoing the heading (a rotation about
    z) is written as the planar rotation it is, by the normalised x-y direction of the root's x axis: the same numbers
    as rotating by the original's heading quaternion, without the angle.

    Args:
        root_states: ``[N, 13]`` root position, rotation (xyzw), linear and angular velocity, world frame.
        dof_pos: ``[N, D]`` DOF positions (exp maps for 3-DOF joints).
        dof_vel: ``[N, D]`` DOF velocities.
        key_body_pos: ``[N, K, 3]`` world positions of the key bodies (hands, feet).
        local_root_obs: remove the heading from the root rotation term.
        joint_layout: the DOF layout.
    """
    root = root_states.T.contiguous()  # [13, N]
    root_pos, root_rot = root[0:3], root[3:7]
    x, y, z, w = root_rot
    # The root's x axis in the world, projected on the ground: (cos, sin) of the heading. Written as the original's
    # quaternion rotation of (1, 0, 0) evaluates it, so that the sign agrees where the axis is nearly vertical.
    forward_x, forward_y = (2 * w * w - 1) + 2 * x * x, (2 * w) * z + (2 * y) * x
    length = torch.sqrt(forward_x * forward_x + forward_y * forward_y)
    flat = length < 1e-12  # heading undefined (x axis vertical): atan2(0, 0) = 0, no rotation
    cos_heading = torch.where(flat, torch.ones_like(length), forward_x / length.clamp_min(1e-12))
    sin_heading = torch.where(flat, torch.zeros_like(length), forward_y / length.clamp_min(1e-12))
    if local_root_obs:
        heading = torch.atan2(sin_heading, cos_heading)
        zero = torch.zeros_like(heading)
        heading_inv = torch.stack([zero, zero, torch.sin(-0.5 * heading), torch.cos(-0.5 * heading)])
        root_rot = kin.quat_mul_planes(heading_inv, root_rot)
    # Like terms are computed together, each formula once on a wider plane (tangent-normal of the root and of every
    # 3-DOF joint; the heading frame of both velocities and every key body), then one gather puts the rows in order.
    num_envs = root.shape[1]
    dofs = dof_pos.T  # [D, N]
    ball_quats = kin.exp_map_to_quat_planes(_ball_exp_maps(dofs, joint_layout))
    quats = torch.cat([root_rot.unsqueeze(1), ball_quats], dim=1)  # [4, 1 + G3, N]
    key_pos = key_body_pos.permute(2, 1, 0).contiguous() - root_pos.unsqueeze(1)  # [3, K, N]
    vectors = torch.cat([root[7:10].unsqueeze(1), root[10:13].unsqueeze(1), key_pos], dim=1)  # [3, 2 + K, N]
    vx, vy, vz = vectors  # rotated by minus the heading:
    heading_frame = torch.stack([cos_heading * vx + sin_heading * vy, cos_heading * vy - sin_heading * vx, vz])
    stacked = torch.cat(
        [
            root[2:3],
            kin.quat_to_tan_norm_planes(quats).view(-1, num_envs),
            dofs,
            heading_frame.view(-1, num_envs),
            dof_vel.T,
        ]
    )
    order = _observation_order(joint_layout, key_body_pos.shape[1], dof_pos.device)
    return stacked.index_select(0, order).T


def compute_humanoid_reward(obs_buf: torch.Tensor) -> torch.Tensor:
    """The task reward: 1 per environment per step (the AMP reward comes from the discriminator)."""
    return torch.ones(obs_buf.shape[0], dtype=obs_buf.dtype, device=obs_buf.device)


def compute_humanoid_reset(
    reset_buf: torch.Tensor,
    progress_buf: torch.Tensor,
    contact_buf: torch.Tensor,
    contact_body_ids: torch.Tensor,
    rigid_body_pos: torch.Tensor,
    max_episode_length: int,
    enable_early_termination: bool,
    termination_height: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reset and termination flags ``([N], [N])``, long.

    A fall is a body outside ``contact_body_ids`` with any contact-force component above 0.1 N (signed, not a norm)
    and a body outside them below ``termination_height``; it counts from the third step of an episode. Every episode
    also ends at step ``max_episode_length - 1`` (a time-out, not a termination).

    Args:
        contact_buf: ``[N, B, 3]`` net contact force per body (world frame).
        contact_body_ids: ``[C]`` bodies allowed to touch things (feet).
        rigid_body_pos: ``[N, B, 3]`` body positions.
    """
    terminated = torch.zeros_like(reset_buf)
    if enable_early_termination:
        # The original zeroes the allowed bodies' forces and heights in copies; a [B] mask of the other bodies gives
        # the same flags without copying the [N, B, 3] planes.
        other_bodies = torch.ones(contact_buf.shape[1], dtype=torch.bool, device=contact_buf.device)
        other_bodies[contact_body_ids] = False
        fall_contact = torch.any(torch.any(contact_buf > 0.1, dim=-1) & other_bodies, dim=-1)
        fall_height = torch.any((rigid_body_pos[..., 2] < termination_height) & other_bodies, dim=-1)
        has_fallen = fall_contact & fall_height & (progress_buf > 1)
        terminated = has_fallen.to(reset_buf.dtype)
    reset = torch.where(progress_buf >= max_episode_length - 1, torch.ones_like(reset_buf), terminated)
    return reset, terminated


def build_pd_action_offset_scale(
    joint_layout: JointLayout, lower: torch.Tensor, upper: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The action -> PD target map ``target = offset + scale * action`` ``([D], [D])`` of the original.

    3-DOF joints get offset 0 and scale pi (targets are exp-map components in [-pi, pi]); a hinge's range is widened
    to 1.4 times its limits around their middle, so that motors keep pushing near the limits.
    """
    low, high = torch.minimum(lower, upper).clone(), torch.maximum(lower, upper).clone()
    for group in joint_layout.groups:  # a loop over 12 joint groups, once
        dofs = slice(group.dof_offset, group.dof_offset + group.num_dofs)
        if group.hinge_axis is None:
            low[dofs], high[dofs] = -math.pi, math.pi
        else:
            middle = 0.5 * (high[dofs] + low[dofs])
            half_width = 0.7 * (high[dofs] - low[dofs])
            low[dofs], high[dofs] = middle - half_width, middle + half_width
    return 0.5 * (high + low), 0.5 * (high - low)


class HumanoidAMPBase(VecTask):
    """The humanoid in a backend: PD control, observations, constant reward, fall and time-out resets.

    Args:
        config: the typed task configuration.
        rl_device: where the learner's tensors live.
        sim_device: requested simulation device (C MuJoCo runs on the CPU whatever is asked; MuJoCo Warp runs on it).
        headless: no viewer window (the MuJoCo backend has none; video capture renders offscreen).
        joint_layout: the character's bodies and DOFs.
        backend: a ready backend (tests); built from the config when None.
    """

    def __init__(
        self,
        config: HumanoidAMPConfig,
        *,
        rl_device: str,
        sim_device: str,
        headless: bool = True,
        joint_layout: JointLayout = AMP_JOINT_LAYOUT,
        backend: PhysicsBackend | None = None,
    ) -> None:
        self.config = config
        self.joint_layout = joint_layout
        body_names = list(joint_layout.skeleton.node_names)
        unknown = [name for name in config.contact_bodies if name not in body_names]
        if unknown:
            raise ConfigError(f"task.env.contactBodies names unknown bodies {unknown}; bodies are {body_names}")
        self.backend = backend or build_backend(config, joint_layout, sim_device)
        device = self.backend.device
        super().__init__(
            num_envs=config.num_envs,
            num_observations=observation_size(joint_layout, len(KEY_BODY_NAMES)),
            num_actions=joint_layout.num_dofs,
            max_episode_length=config.episode_length,
            device=device,
            rl_device=rl_device,
            clip_observations=config.clip_observations,
            clip_actions=config.clip_actions,
        )
        self.headless = headless
        self.dt = config.control_dt
        long = {"dtype": torch.long, "device": self.device}
        self._key_body_ids = torch.tensor([body_names.index(name) for name in KEY_BODY_NAMES], **long)
        self._contact_body_ids = torch.tensor([body_names.index(name) for name in config.contact_bodies], **long)
        self._pd_action_offset, self._pd_action_scale = build_pd_action_offset_scale(
            joint_layout, self.backend.dof_lower_limits, self.backend.dof_upper_limits
        )
        self._motor_efforts = self.backend.motor_efforts
        self._terminate_buf = torch.ones(self.num_envs, **long)
        self._unstable_buf = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        self.num_unstable_resets = 0
        self.actions = torch.zeros((self.num_envs, self.num_actions), device=self.device)
        self._initial_root_states = torch.zeros((self.num_envs, 13), device=self.device)
        self._initial_root_states[:, 2] = START_HEIGHT
        self._initial_root_states[:, 6] = 1.0
        self._initial_dof_pos = torch.zeros((self.num_envs, self.num_actions), device=self.device)
        for name, value in DEFAULT_POSE_DOFS.items():
            self._initial_dof_pos[:, joint_layout.dof_names.index(name)] = value
        self._initial_dof_vel = torch.zeros_like(self._initial_dof_pos)
        self._observation_kernel = Kernel(compute_humanoid_observations, config.sim.compile_kernels)
        self._reset_kernel = Kernel(compute_humanoid_reset, config.sim.compile_kernels)

    # --- state views ----------------------------------------------------------------------------------------------

    @property
    def _root_states(self) -> torch.Tensor:
        return self.backend.root_states

    @property
    def _dof_pos(self) -> torch.Tensor:
        return self.backend.dof_pos

    @property
    def _dof_vel(self) -> torch.Tensor:
        return self.backend.dof_vel

    @property
    def _rigid_body_pos(self) -> torch.Tensor:
        return self.backend.rigid_body_pos

    @property
    def _contact_forces(self) -> torch.Tensor:
        return self.backend.contact_forces

    # --- the step -------------------------------------------------------------------------------------------------

    def pre_physics_step(self, actions: torch.Tensor) -> None:
        self.actions = actions.clone()
        if self.config.pd_control:
            self.backend.set_dof_position_targets(self._pd_action_offset + self._pd_action_scale * self.actions)
        else:
            self.backend.set_dof_actuation_forces(self.actions * self._motor_efforts * self.config.power_scale)

    def simulate(self) -> None:
        self._unstable_buf = self.backend.simulate(self.config.physics_steps_per_action, self._work_while_stepping())

    def _work_while_stepping(self) -> Callable[[], None] | None:
        """Work that needs no physics state, done while the physics runs (none here)."""
        return None

    def post_physics_step(self) -> None:
        self.progress_buf += 1
        self.backend.refresh()
        self._compute_observations()
        self._compute_reward()
        self._compute_reset()
        self.extras["terminate"] = self._terminate_buf.to(self.rl_device)
        unstable = int(self._unstable_buf.sum())
        self.num_unstable_resets += unstable
        self.extras["unstable_envs"] = unstable
        self.extras["unstable_envs_total"] = self.num_unstable_resets

    def _compute_observations(self, env_ids: torch.Tensor | None = None) -> None:
        backend = self.backend
        rows = slice(None) if env_ids is None else env_ids
        self.obs_buf[rows] = self._observation_kernel(
            backend.root_states[rows],
            backend.dof_pos[rows],
            backend.dof_vel[rows],
            backend.rigid_body_pos[rows][:, self._key_body_ids],
            self.config.local_root_obs,
            self.joint_layout,
        )

    def _compute_reward(self) -> None:
        self.rew_buf[:] = compute_humanoid_reward(self.obs_buf)

    def _compute_reset(self) -> None:
        self.reset_buf[:], self._terminate_buf[:] = self._reset_kernel(
            self.reset_buf,
            self.progress_buf,
            self.backend.contact_forces,
            self._contact_body_ids,
            self.backend.rigid_body_pos,
            self.max_episode_length,
            self.config.enable_early_termination,
            self.config.termination_height,
        )
        # A simulation that blew up ends its episode like a fall (no bootstrapping from its state).
        self._terminate_buf.masked_fill_(self._unstable_buf, 1)
        self.reset_buf.masked_fill_(self._unstable_buf, 1)

    # --- resets ---------------------------------------------------------------------------------------------------

    def reset_idx(self, env_ids: torch.Tensor) -> None:
        self._reset_actors(env_ids)
        self.backend.refresh(env_ids)
        self._compute_observations(env_ids)
        self._clear_episode_buffers(env_ids)

    def _clear_episode_buffers(self, env_ids: torch.Tensor) -> None:
        self.progress_buf[env_ids] = 0
        self.reset_buf[env_ids] = 0
        self._terminate_buf[env_ids] = 0

    def _reset_actors(self, env_ids: torch.Tensor) -> None:
        self._reset_default(env_ids)

    def _reset_default(self, env_ids: torch.Tensor) -> None:
        """The default pose at the start position, at rest."""
        self.backend.set_state(
            env_ids, self._initial_root_states[env_ids], self._initial_dof_pos[env_ids], self._initial_dof_vel[env_ids]
        )

    def close(self) -> None:
        self.backend.close()
