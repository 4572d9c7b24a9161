"""``HumanoidAMP``: the humanoid plus everything AMP needs (spec section 5.3 and 6.3).

* Reference state initialisation (``stateInit``: Default, Start, Random, Hybrid) from the motion library.
* The AMP observation history ``[N, K, 105]`` (slot 0 is the newest), shifted and refilled after every step;
  ``extras["amp_obs"]`` is it flattened to ``[N, K * 105]`` for the transition just taken.
* ``fetch_amp_obs_demo(n)``: ``n`` demonstration samples ``[n, K * 105]`` from the reference clips, built by the same
  observation function as the agent's (:func:`build_amp_observations`), so the two cannot drift apart.
* On a backend that prepares states (the C MuJoCo one), resets take starting states prepared while the physics steps
  (:mod:`isaacgymenvs.tasks.amp.reset_pool`): the same distribution, drawn a few steps ahead.

Unlike the original, the lists of environments reset to the default pose or to the reference are cleared at every reset
(the original kept stale ids, which corrupts the history for ``numAMPObsSteps`` >= 3; see ``docs/divergences.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from isaacgymenvs.tasks.amp.humanoid_amp_base import (
    NUM_OBS,
    HumanoidAMPBase,
    compute_humanoid_observations,
)
from isaacgymenvs.tasks.amp.humanoid_amp_config import HumanoidAMPConfig, StateInit
from isaacgymenvs.tasks.amp.reset_pool import ResetPool
from isaacgymenvs.tasks.amp.utils_amp.motion_lib import MotionLib

NUM_AMP_OBS_PER_STEP = NUM_OBS


def build_amp_observations(
    root_states: torch.Tensor,
    dof_pos: torch.Tensor,
    dof_vel: torch.Tensor,
    key_body_pos: torch.Tensor,
    local_root_obs: bool,
) -> torch.Tensor:
    """The per-step AMP observation ``[N, 105]``: exactly the policy observation (the original's two functions had
    identical bodies; here one is the other)."""
    return compute_humanoid_observations(root_states, dof_pos, dof_vel, key_body_pos, local_root_obs)


class HumanoidAMP(HumanoidAMPBase):
    """The HumanoidAMP task with the original's constructor.

    Args:
        cfg: the task config (``task`` node: ``env``, ``sim``), as a dict, or a ready :class:`HumanoidAMPConfig`.
        rl_device: the learner's device.
        sim_device: requested simulation device (MuJoCo simulates on the CPU).
        graphics_device_id: unused (kept for the original's signature).
        headless: no viewer.
        virtual_screen_capture, force_render: unused (video capture is configured by the launcher).
    """

    StateInit = StateInit

    def __init__(
        self,
        cfg: dict[str, Any] | HumanoidAMPConfig,
        rl_device: str,
        sim_device: str,
        graphics_device_id: int = -1,
        headless: bool = True,
        virtual_screen_capture: bool = False,
        force_render: bool = False,
    ) -> None:
        config = cfg if isinstance(cfg, HumanoidAMPConfig) else HumanoidAMPConfig.from_cfg(cfg)
        super().__init__(config, rl_device=rl_device, sim_device=sim_device, headless=headless)
        self._state_init = config.state_init
        self._hybrid_init_prob = config.hybrid_init_prob
        self._num_amp_obs_steps = config.num_amp_obs_steps
        self.num_amp_obs = self._num_amp_obs_steps * NUM_AMP_OBS_PER_STEP
        self._motion_lib = MotionLib(
            config.motion_file,
            self.num_actions,
            self._key_body_ids,
            self.device,
            joint_layout=self.joint_layout,
            compile_kernels=config.sim.compile_kernels,
        )
        window_shape = (self.num_envs, self._num_amp_obs_steps, NUM_AMP_OBS_PER_STEP)
        self._amp_obs_buf = torch.zeros(window_shape, device=self.device)
        # The window after the next step is built here in one copy, then the two swap (see _update_hist_amp_obs).
        self._amp_obs_spare = torch.zeros(window_shape, device=self.device)
        self._amp_obs_demo_buf: torch.Tensor | None = None
        self._history_offsets = -self.dt * torch.arange(
            self._num_amp_obs_steps, dtype=torch.float64, device=self.device
        )
        empty = torch.zeros(0, dtype=torch.long, device=self.device)
        self._reset_default_env_ids = empty
        self._reset_ref_env_ids = empty
        self._reset_ref_history = torch.zeros((0, self._num_amp_obs_steps - 1, NUM_OBS), device=self.device)
        # Starting states prepared while the physics steps, where the backend can prepare states (the C backend);
        # None: resets draw and write their states on the spot.
        self._reset_pool = ResetPool(self._prepare_starts, self.num_envs) if self.backend.prepares_states else None

    @property
    def amp_observation_space(self) -> spaces.Box:
        return spaces.Box(-np.inf, np.inf, (self.num_amp_obs,), dtype=np.float32)

    @property
    def _curr_amp_obs_buf(self) -> torch.Tensor:
        """``[N, 105]`` view of the newest step of the AMP window."""
        return self._amp_obs_buf[:, 0]

    @property
    def _hist_amp_obs_buf(self) -> torch.Tensor:
        """``[N, K - 1, 105]`` view of the older steps of the AMP window."""
        return self._amp_obs_buf[:, 1:]

    def get_num_amp_obs(self) -> int:
        return self.num_amp_obs

    @property
    def num_amp_obs_per_step(self) -> int:
        """Size of one step's AMP observation (105); the newest step comes first."""
        return NUM_AMP_OBS_PER_STEP

    @property
    def motion_lib(self) -> MotionLib:
        return self._motion_lib

    # --- the step -------------------------------------------------------------------------------------------------

    def post_physics_step(self) -> None:
        super().post_physics_step()
        self._update_hist_amp_obs()
        self.extras["amp_obs"] = self._amp_obs_buf.reshape(self.num_envs, self.num_amp_obs).to(self.rl_device)

    def _update_hist_amp_obs(self) -> None:
        """Shift every environment's AMP window by one step, the policy observation just computed becoming the newest.

        The original shifted in place (a clone and a copy of the window) and then wrote the newest step; one ``cat``
        into the spare buffer does both in a single pass. ``extras["amp_obs"]`` is a view of the current buffer, valid
        until the next step (as before, when the one buffer was overwritten in place).
        """
        older = self._amp_obs_buf[:, :-1]
        torch.cat([self.obs_buf.unsqueeze(1), older], dim=1, out=self._amp_obs_spare)
        self._amp_obs_buf, self._amp_obs_spare = self._amp_obs_spare, self._amp_obs_buf

    def _compute_amp_observations(self, env_ids: torch.Tensor | None = None) -> None:
        # The per-step AMP observation is the policy observation (same function, same state), already computed.
        rows = slice(None) if env_ids is None else env_ids
        self._curr_amp_obs_buf[rows] = self.obs_buf[rows]

    # --- demonstrations -------------------------------------------------------------------------------------------

    def fetch_amp_obs_demo(self, num_samples: int) -> torch.Tensor:
        """``num_samples`` AMP observations ``[n, K * 105]`` of the reference motion, on the learner's device."""
        motion_ids = self._motion_lib.sample_motions(num_samples)
        truncate_time = self.dt * (self._num_amp_obs_steps - 1)
        motion_times0 = self._motion_lib.sample_time(motion_ids, truncate_time=truncate_time) + truncate_time
        return self.build_amp_obs_demo(motion_ids, motion_times0).to(self.rl_device)

    def build_amp_obs_demo(self, motion_ids: torch.Tensor, motion_times0: torch.Tensor) -> torch.Tensor:
        """AMP observations ``[n, K * 105]`` of clips ``motion_ids`` at times ``t0, t0 - dt, ..., t0 - (K-1) dt``."""
        obs, _ = self._reference_history(motion_ids, motion_times0)
        return obs.reshape(len(motion_ids), self.num_amp_obs)

    def _reference_history(
        self, motion_ids: torch.Tensor, motion_times0: torch.Tensor
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """The reference at ``t0, t0 - dt, ..., t0 - (K-1) dt``, newest first.

        Returns:
            per-step observations ``[n, K, 105]`` and the motion state at ``t0``: ``root_states [n, 13]``,
            ``dof_pos [n, D]``, ``dof_vel [n, D]``.
        """
        steps = self._num_amp_obs_steps
        ids = motion_ids.unsqueeze(-1).expand(-1, steps).reshape(-1)
        times = (motion_times0.to(torch.float64).unsqueeze(-1) + self._history_offsets).reshape(-1)
        root_pos, root_rot, dof_pos, root_vel, root_ang_vel, dof_vel, key_pos = self._motion_lib.get_motion_state(
            ids, times
        )
        root_states = torch.cat([root_pos, root_rot, root_vel, root_ang_vel], dim=-1)
        # build_amp_observations is compute_humanoid_observations: the task's (optionally compiled) kernel of it.
        obs = self._observation_kernel(
            root_states, dof_pos, dof_vel, key_pos, self.config.local_root_obs, self.joint_layout
        )
        first = slice(None, None, steps)  # rows at t0
        return obs.reshape(len(motion_ids), steps, NUM_OBS), (root_states[first], dof_pos[first], dof_vel[first])

    # --- resets ---------------------------------------------------------------------------------------------------

    def reset_idx(self, env_ids: torch.Tensor) -> None:
        if self._reset_pool is None:
            super().reset_idx(env_ids)
            self._init_amp_obs(env_ids)
            return
        if len(env_ids) == self.num_envs:  # a fresh start: nothing drawn before it carries over (see reset_pool)
            self._reset_pool.clear()
        prepared = self._reset_pool.take(len(env_ids))
        self.backend.write_prepared_states(env_ids, prepared)
        window = prepared["amp_window"]
        self.obs_buf.index_copy_(0, env_ids, window[:, 0])
        self._amp_obs_buf.index_copy_(0, env_ids, window)
        self._clear_episode_buffers(env_ids)

    def _work_while_stepping(self) -> Callable[[], None] | None:
        return None if self._reset_pool is None else self._reset_pool.refill

    def _prepare_starts(self, count: int) -> dict[str, torch.Tensor]:
        """``count`` starting states drawn as ``stateInit`` says, with all a reset writes (see :mod:`reset_pool`).

        Returns:
            the backend's prepared states plus ``amp_window`` ``[count, K, 105]``: the observation at the state
            (slot 0) and the AMP history before it (the reference's, or copies of slot 0 for the default pose).
        """
        from_reference = self._draw_from_reference(count)
        root_states = self._initial_root_states[:1].expand(count, -1).clone()
        dof_pos = self._initial_dof_pos[:1].expand(count, -1).clone()
        dof_vel = torch.zeros_like(dof_pos)
        reference_rows = from_reference.nonzero().flatten()
        history = None
        if len(reference_rows) > 0:
            history, (reference_root, reference_dof_pos, reference_dof_vel) = self._reference_history(
                *self._sample_reference_starts(len(reference_rows))
            )
            root_states.index_copy_(0, reference_rows, reference_root)
            dof_pos.index_copy_(0, reference_rows, reference_dof_pos)
            dof_vel.index_copy_(0, reference_rows, reference_dof_vel)
        prepared = self.backend.prepare_states(root_states, dof_pos, dof_vel)
        obs = self._observation_kernel(
            prepared["root_states"],
            prepared["dof_pos"],
            prepared["dof_vel"],
            prepared["rigid_body_pos"][:, self._key_body_ids],
            self.config.local_root_obs,
            self.joint_layout,
        )
        window = obs.unsqueeze(1).repeat(1, self._num_amp_obs_steps, 1)
        if history is not None:
            window[reference_rows, 1:] = history[:, 1:]
        prepared["amp_window"] = window
        return prepared

    def _draw_from_reference(self, count: int) -> torch.Tensor:
        """Which of ``count`` new starts come from the reference motion ``[count]`` (bool; the others take the
        default pose), as ``stateInit`` says: none, all, or each with probability ``hybridInitProb``."""
        if self._state_init == StateInit.Default:
            return torch.zeros(count, dtype=torch.bool, device=self.device)
        if self._state_init == StateInit.Hybrid:
            return torch.bernoulli(torch.full((count,), self._hybrid_init_prob, device=self.device)) == 1
        return torch.ones(count, dtype=torch.bool, device=self.device)

    def _sample_reference_starts(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Clips ``[count]`` and start times ``[count]`` (float64, s) for reference starts: each clip's first frame
        for ``Start``, a uniform time within it otherwise."""
        motion_ids = self._motion_lib.sample_motions(count)
        if self._state_init == StateInit.Start:
            return motion_ids, torch.zeros(count, dtype=torch.float64, device=self.device)
        return motion_ids, self._motion_lib.sample_time(motion_ids)

    def _reset_actors(self, env_ids: torch.Tensor) -> None:
        """Direct resets (without the pool): draw where each new start comes from, write the states, and remember
        which environments took the reference (and its history) and which the default pose, for ``_init_amp_obs``."""
        from_reference = self._draw_from_reference(len(env_ids))
        self._reset_ref_env_ids = env_ids[from_reference]
        self._reset_default_env_ids = env_ids[~from_reference]
        if len(self._reset_ref_env_ids) > 0:
            self._reset_ref_state_init(self._reset_ref_env_ids)
        if len(self._reset_default_env_ids) > 0:
            self._reset_default(self._reset_default_env_ids)

    def _reset_ref_state_init(self, env_ids: torch.Tensor) -> None:
        """Environments ``env_ids`` start from the reference motion; the AMP history before each start is kept in
        ``_reset_ref_history`` for ``_init_amp_obs`` (which also reads ``_reset_ref_env_ids``, set by the caller)."""
        # One query gives both the new state and the AMP history before it.
        history, (root_states, dof_pos, dof_vel) = self._reference_history(*self._sample_reference_starts(len(env_ids)))
        self.backend.set_state(env_ids, root_states, dof_pos, dof_vel)
        self._reset_ref_history = history[:, 1:]

    def _init_amp_obs(self, env_ids: torch.Tensor) -> None:
        """Fill the AMP history of freshly reset environments: slot 0 from the new state; older slots from the
        reference motion just before the start time, or copies of slot 0 for the default pose."""
        self._compute_amp_observations(env_ids)
        if len(self._reset_default_env_ids) > 0:
            ids = self._reset_default_env_ids
            self._hist_amp_obs_buf[ids] = self._curr_amp_obs_buf[ids].unsqueeze(1)
        if len(self._reset_ref_env_ids) > 0:
            self._hist_amp_obs_buf[self._reset_ref_env_ids] = self._reset_ref_history
