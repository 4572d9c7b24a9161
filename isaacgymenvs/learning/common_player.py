"""``CommonPlayer``: plays a trained policy (``test=True``), resetting finished environments every step, until
``games_num`` episodes have ended, printing the running means every ``print_interval`` episodes and the averages at the
end (``av reward: ... av steps: ...``, a line that tests and tools parse)."""

from __future__ import annotations

from typing import Any

import torch
from rl_games.algos_torch import players
from rl_games.common.player import BasePlayer

from isaacgymenvs.learning.checkpoints import check_checkpoint_fits, load_checkpoint
from isaacgymenvs.tasks.amp.humanoid_amp_config import ConfigError

# Finished episodes between two progress lines when train.params.config.player.print_interval is not set.
DEFAULT_PRINT_INTERVAL = 100


class CommonPlayer(players.PpoPlayerContinuous):
    """rl_games' continuous PPO player with the original plugin's loop."""

    def __init__(self, params: dict[str, Any]) -> None:
        BasePlayer.__init__(self, params)
        self.network = self.config["network"]
        self.actions_num = self.action_space.shape[0]
        self.actions_low = torch.from_numpy(self.action_space.low.copy()).float().to(self.device)
        self.actions_high = torch.from_numpy(self.action_space.high.copy()).float().to(self.device)
        self.mask = [False]
        self.normalize_input = self.config["normalize_input"]
        self.normalize_value = self.config.get("normalize_value", False)
        self.model = self.network.build(self._build_net_config())
        self.model.to(self.device)
        self.model.eval()
        self.is_rnn = self.model.is_rnn()
        self.episode_lengths: list[float] = []
        self.print_interval = _print_interval(self.player_config.get("print_interval", DEFAULT_PRINT_INTERVAL))

    def _build_net_config(self) -> dict[str, Any]:
        return {
            "actions_num": self.actions_num,
            "input_shape": self.obs_shape,
            "num_seqs": self.num_agents,
            "value_size": self.env_info.get("value_size", 1),
            "normalize_value": self.normalize_value,
            "normalize_input": self.normalize_input,
        }

    def restore(self, fn: str) -> None:
        state = load_checkpoint(fn)
        check_checkpoint_fits(state, self.model, fn)
        self.model.load_state_dict(state["model"])
        self._restore_extra(state)

    def _restore_extra(self, state: dict[str, Any]) -> None:
        """Hook: load more than the model from a checkpoint."""

    def _env_reset_done(self) -> tuple[torch.Tensor, torch.Tensor]:
        obs, done_env_ids = self.env.reset_done()
        return self.obs_to_torch(obs), done_env_ids

    def _after_step(self, infos: dict[str, Any]) -> None:
        """Hook called after every environment step (e.g. to record motion)."""

    def run(self) -> None:
        games_played, sum_rewards, sum_steps = 0, 0.0, 0.0
        obs = self.env_reset(self.env)
        batch_size = self.get_batch_size(obs, 1)
        episode_rewards = torch.zeros(batch_size)
        episode_steps = torch.zeros(batch_size)
        for _ in range(self.max_steps):
            obs, _ = self._env_reset_done()
            action = self.get_action(obs, self.is_deterministic)
            obs, rewards, dones, infos = self.env_step(self.env, action)
            self._after_step(infos)
            episode_rewards += rewards
            episode_steps += 1
            done_indices = dones.nonzero(as_tuple=False).flatten()
            if len(done_indices) > 0:
                reports_before = games_played // self.print_interval
                games_played += len(done_indices)
                sum_rewards += episode_rewards[done_indices].sum().item()
                sum_steps += episode_steps[done_indices].sum().item()
                self.episode_lengths.extend(episode_steps[done_indices].tolist())
                # A progress line each time another print_interval episodes have ended (the last one is the summary).
                interval_ended = games_played // self.print_interval > reports_before
                if self.print_stats and interval_ended and games_played < self.games_num:
                    print(_progress_line(games_played, self.games_num, sum_rewards, sum_steps))
                not_done = 1.0 - dones.float()
                episode_rewards *= not_done
                episode_steps *= not_done
            if games_played >= self.games_num:
                break
        if games_played == 0:
            print(f"no episode ended within {self.max_steps} steps")
            return
        print(
            f"av reward: {sum_rewards / games_played:.2f} av steps: {sum_steps / games_played:.1f} "
            f"({games_played} episodes)"
        )


def _print_interval(value: Any) -> int:
    """``player.print_interval``: finished episodes between two progress lines (a positive integer)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"train.params.config.player.print_interval must be an integer >= 1, got {value!r}")
    return value


def _progress_line(games_played: int, games_num: int, sum_rewards: float, sum_steps: float) -> str:
    """``episodes 100/2000: mean reward 12.34, mean episode length 287.5 steps`` (means over the episodes so far)."""
    # rl_games' default games_num (1e9) means "until max_steps": no total worth showing.
    total = f"/{games_num}" if games_num < 1_000_000_000 else ""
    return (
        f"episodes {games_played}{total}: mean reward {sum_rewards / games_played:.2f}, "
        f"mean episode length {sum_steps / games_played:.1f} steps"
    )
