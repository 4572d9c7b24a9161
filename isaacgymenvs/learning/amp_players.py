"""``AMPPlayerContinuous``: the player for AMP checkpoints (loads the discriminator's input normaliser too, and can
print the discriminator's verdict on environment 0 every step)."""

from __future__ import annotations

from typing import Any

import torch
from rl_games.algos_torch.running_mean_std import RunningMeanStd

from isaacgymenvs.learning import amp_losses
from isaacgymenvs.learning.amp_config import AMPConfig
from isaacgymenvs.learning.common_player import CommonPlayer


class AMPPlayerContinuous(CommonPlayer):
    """Plays a policy trained by :class:`~isaacgymenvs.learning.amp_continuous.AMPAgent`."""

    def __init__(self, params: dict[str, Any]) -> None:
        config = params["config"]
        self.amp = AMPConfig.from_config(config)
        self._print_disc_prediction = config.get("print_disc_prediction", False)
        super().__init__(params)
        if self.amp.normalize_amp_input:
            self._amp_input_mean_std = RunningMeanStd(self.env.amp_observation_space.shape).to(self.device)
            self._amp_input_mean_std.eval()

    def _build_net_config(self) -> dict[str, Any]:
        return {**super()._build_net_config(), "amp_input_shape": self.env.amp_observation_space.shape}

    def _restore_extra(self, state: dict[str, Any]) -> None:
        if self.amp.normalize_amp_input and "amp_input_mean_std" in state:
            self._amp_input_mean_std.load_state_dict(state["amp_input_mean_std"])

    def _after_step(self, infos: dict[str, Any]) -> None:
        super()._after_step(infos)
        if self._print_disc_prediction:
            with torch.no_grad():
                amp_obs = infos["amp_obs"][0:1].to(self.device)
                if self.amp.normalize_amp_input:
                    amp_obs = self._amp_input_mean_std(amp_obs)
                logit = self.model.a2c_network.eval_disc(amp_obs)
                reward = amp_losses.disc_reward(logit, self.amp.disc_reward_type, self.amp.disc_reward_scale)
            print(f"disc prediction: {torch.sigmoid(logit).item():.3f}, disc reward: {reward.item():.3f}")
