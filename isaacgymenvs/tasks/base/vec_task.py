"""``VecTask``: the thin vectorised-environment template every task builds on.

It holds the buffers of the original's contract (``obs_buf``, ``rew_buf``, ``reset_buf``, ``progress_buf``,
``extras``), the gymnasium spaces, and the step template:

    clamp actions -> pre_physics_step -> simulate (hook) -> post_physics_step -> time-outs -> clamp observations

Resets happen in ``reset_done()``, which the learner calls before each step, never inside ``step()``, so the
observation returned for a finished environment is its true last one (as in the original). Terminations and time-outs
are kept apart: ``extras["terminate"]`` (set by the task) and ``extras["time_outs"]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces


class VecTask:
    """Buffers, spaces and the step template.

    Args:
        num_envs: environments.
        num_observations: size of one observation.
        num_actions: size of one action.
        max_episode_length: control steps; an episode times out at step ``max_episode_length - 1``.
        device: where the task's tensors live (the simulation's device).
        rl_device: where observations, rewards and flags are handed to the learner.
        clip_observations: observations are clamped to +-this.
        clip_actions: actions are clamped to +-this before the task sees them.
    """

    def __init__(
        self,
        *,
        num_envs: int,
        num_observations: int,
        num_actions: int,
        max_episode_length: int,
        device: torch.device | str,
        rl_device: torch.device | str,
        clip_observations: float = np.inf,
        clip_actions: float = np.inf,
    ) -> None:
        self.num_envs = num_envs
        self.num_obs = num_observations
        self.num_actions = num_actions
        self.num_states = 0
        self.max_episode_length = max_episode_length
        self.device = torch.device(device)
        self.rl_device = torch.device(rl_device)
        self.clip_obs = clip_observations
        self.clip_actions = clip_actions
        self.observation_space = spaces.Box(-np.inf, np.inf, (num_observations,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (num_actions,), dtype=np.float32)
        self.obs_buf = torch.zeros((num_envs, num_observations), device=self.device)
        self.rew_buf = torch.zeros(num_envs, device=self.device)
        # All ones: the first reset_done() resets every environment, as in the original.
        self.reset_buf = torch.ones(num_envs, dtype=torch.long, device=self.device)
        self.timeout_buf = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.progress_buf = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.extras: dict[str, Any] = {}
        self.obs_dict: dict[str, torch.Tensor] = {}

    # --- hooks for tasks ------------------------------------------------------------------------------------------

    def pre_physics_step(self, actions: torch.Tensor) -> None:
        """Apply ``actions`` ``[N, A]`` (e.g. set PD targets)."""
        raise NotImplementedError

    def simulate(self) -> None:
        """Advance the physics by one control step."""
        raise NotImplementedError

    def post_physics_step(self) -> None:
        """Count progress, read the state, compute observations, rewards and reset flags."""
        raise NotImplementedError

    def reset_idx(self, env_ids: torch.Tensor) -> None:
        """Reset environments ``env_ids`` and compute their observations."""
        raise NotImplementedError

    # --- the template ---------------------------------------------------------------------------------------------

    def step(self, actions: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, dict]:
        """One control step for every environment.

        Args:
            actions: ``[N, A]``.

        Returns:
            ``(obs_dict, rewards [N], resets [N], extras)`` on ``rl_device``; ``obs_dict["obs"]`` is ``[N, O]``.
        """
        self.pre_physics_step(self._clamp(actions.to(self.device), self.clip_actions))
        self.simulate()
        self.post_physics_step()
        self.timeout_buf = ((self.progress_buf >= self.max_episode_length - 1) & (self.reset_buf != 0)).long()
        self.extras["time_outs"] = self.timeout_buf.to(self.rl_device)
        self.obs_dict["obs"] = self._clamp(self.obs_buf, self.clip_obs).to(self.rl_device)
        return self.obs_dict, self.rew_buf.to(self.rl_device), self.reset_buf.to(self.rl_device), self.extras

    @staticmethod
    def _clamp(values: torch.Tensor, bound: float) -> torch.Tensor:
        """``values`` clamped to +-``bound`` (no copy when the bound is infinite, the default)."""
        return values if bound == np.inf else torch.clamp(values, -bound, bound)

    def reset(self) -> dict[str, torch.Tensor]:
        """The current observations, without resetting anything (the original's contract: the learner calls
        ``reset_done()`` right after, which resets every environment on the first call)."""
        self.obs_dict["obs"] = self._clamp(self.obs_buf, self.clip_obs).to(self.rl_device)
        return self.obs_dict

    def reset_done(self) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Reset every environment whose ``reset_buf`` is set; return observations and the reset ids."""
        done_env_ids = self.reset_buf.nonzero(as_tuple=False).flatten()
        if len(done_env_ids) > 0:
            self.reset_idx(done_env_ids)
        self.obs_dict["obs"] = self._clamp(self.obs_buf, self.clip_obs).to(self.rl_device)
        return self.obs_dict, done_env_ids

    # --- the original's accessors ---------------------------------------------------------------------------------

    def get_number_of_agents(self) -> int:
        return 1

    @property
    def num_acts(self) -> int:
        return self.num_actions

    def zero_actions(self) -> torch.Tensor:
        return torch.zeros((self.num_envs, self.num_actions), device=self.rl_device)

    def render(self, mode: str = "rgb_array") -> np.ndarray | None:
        """Rendering is provided by the video recorder; the task itself draws nothing."""
        return None

    def close(self) -> None:
        pass
