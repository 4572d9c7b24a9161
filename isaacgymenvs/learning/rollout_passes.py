"""``RolloutPasses``: the rollout's network passes for :class:`~isaacgymenvs.learning.common_agent.CommonAgent`.

The original evaluated the policy and the critic on each step's states, and the critic again on the states each step
reached (the bootstrap values). The networks and their normalisers do not change during a rollout, so the values can
wait until it ends: then the critic evaluates the rollout's states in a few large passes, and the states reached only
where they are not the next step's states (the last step's, and those where an episode timed out). With separate
actor and critic networks (the AMP configs) each step runs the actor alone (``act``: the same means, sigmas,
log-probabilities and random draws as rl_games' full pass); other networks keep rl_games' full pass per step and get
only the bootstrap values afterwards. ``docs/benchmarks.md`` has the measurements.
"""

from __future__ import annotations

from typing import Any

import torch

from isaacgymenvs.learning.precision import network_autocast

# Rows of one critic pass over a finished rollout (see RolloutPasses._critic_passes).
CRITIC_PASS_ROWS = 32768


class RolloutPasses:
    """Mixed into the agent (needs rl_games' ``model``, ``experience_buffer``, ``ppo_device``, ``_preproc_obs``,
    ``normalize_value`` / ``value_mean_std`` and ``has_central_value``, and the agent's ``mixed_precision``)."""

    def _init_rollout_passes(self) -> None:
        """Decide, once the model is built, whether the rollout runs the actor alone (``_values_after_rollout``)."""
        network = self.model.a2c_network
        self._values_after_rollout = (
            hasattr(self.model, "act")
            and getattr(network, "separate", False)
            and not network.is_rnn()
            and not getattr(network, "has_cnn", False)
            and not self.has_central_value
        )

    def _networks_autocast(self) -> Any:
        """The context every pass of the networks runs in: bfloat16 autocast under ``mixed_precision``."""
        return network_autocast(self.ppo_device, self.mixed_precision)

    def get_action_values(self, obs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        with self._networks_autocast():
            return super().get_action_values(obs)

    def _rollout_policy(self, obs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The rollout's pass for one step: :meth:`_act` (no ``values``) where the agent takes the actor-only path,
        else rl_games' :meth:`get_action_values`."""
        return self._act(obs) if self._values_after_rollout else self.get_action_values(obs)

    def _act(self, obs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """:meth:`get_action_values` without the values (see ``_values_after_rollout``)."""
        self.model.eval()
        with torch.no_grad(), self._networks_autocast():
            return self.model.act(self._preproc_obs(obs["obs"]))

    def _eval_critic(self, obs_dict: dict[str, torch.Tensor]) -> torch.Tensor:
        """De-normalised values ``[N, 1]`` of observations (the rollout's values and bootstrap values)."""
        self.model.eval()
        obs = self.model.norm_obs(self._preproc_obs(obs_dict["obs"]))
        with self._networks_autocast():
            value = self.model.a2c_network.eval_critic(obs)
        return self.value_mean_std(value, True) if self.normalize_value else value

    def _eval_rollout_values(self) -> None:
        """The critic's values ``[T, N, 1]`` of the rollout's states after it: the bootstrap values of every state
        it reached (zero where the episode terminated), and, when the rollout ran only the actor, the values of the
        states it acted in; the values the original computed step by step."""
        buffer = self.experience_buffer.tensor_dict
        if self._values_after_rollout:
            self._critic_passes(buffer["obses"], buffer["values"])
            self._bootstrap_values_from_next_steps(buffer)
        else:
            self._critic_passes(buffer["next_obses"], buffer["next_values"])
        buffer["next_values"].mul_(1.0 - buffer["terminated"])

    def _bootstrap_values_from_next_steps(self, buffer: dict[str, torch.Tensor]) -> None:
        """``next_values [T, N, 1]`` from ``values`` where they are the same states' values, the critic elsewhere.

        Where an episode did not end at step t, the state it reached is the state step t + 1 acted in
        (``next_obses[t] == obses[t + 1]``; resets happen at the start of a step), so its value is already known.
        The critic runs only on the last step's next states and on the states reached where an episode ended by
        time-out (its bootstrap value counts); where it terminated the value is zeroed by the caller.
        """
        values, next_values, next_obses = buffer["values"], buffer["next_values"], buffer["next_obses"]
        next_values[:-1] = values[1:]
        timed_out = (buffer["dones"][:-1] != 0) & (buffer["terminated"][:-1, :, 0] == 0)  # [T - 1, N]
        rows = timed_out.flatten().nonzero().flatten()
        reached, reached_values = next_obses[:-1].flatten(0, 1), next_values[:-1].view(-1, next_values.shape[-1])
        for start in range(0, len(rows), CRITIC_PASS_ROWS):
            pass_rows = rows[start : start + CRITIC_PASS_ROWS]
            reached_values.index_copy_(0, pass_rows, self._eval_critic({"obs": reached.index_select(0, pass_rows)}))
        self._critic_passes(next_obses[-1:], next_values[-1:])

    def _critic_passes(self, obs: torch.Tensor, values: torch.Tensor) -> None:
        """``values [T, N, 1]`` of observations ``[T, N, O]``, a few steps per pass (at most
        :data:`CRITIC_PASS_ROWS` rows), so that large rollouts do not hold all their activations at once."""
        steps_per_pass = max(1, CRITIC_PASS_ROWS // obs.shape[1])
        for start in range(0, obs.shape[0], steps_per_pass):
            steps = slice(start, start + steps_per_pass)
            values[steps] = self._eval_critic({"obs": obs[steps].flatten(0, 1)}).view_as(values[steps])
