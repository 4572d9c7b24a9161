"""``ModelAMPContinuous``: rl_games' Gaussian-policy model whose training forward also runs the discriminator."""

from __future__ import annotations

from typing import Any

import torch
from rl_games.algos_torch.models import ModelA2CContinuousLogStd


class ModelAMPContinuous(ModelA2CContinuousLogStd):
    """rl_games' ``BaseModel.build`` hands the whole build config (``amp_input_shape`` included) to the AMP network
    builder and wraps the result in :class:`ModelAMPContinuous.Network`."""

    class Network(ModelA2CContinuousLogStd.Network):
        """In training mode (``is_train``), also returns the discriminator's logits of the (already normalised)
        ``amp_obs``, ``amp_obs_replay`` and ``amp_obs_demo`` inputs."""

        def forward(self, input_dict: dict[str, Any]) -> dict[str, torch.Tensor]:
            is_train = input_dict.get("is_train", True)
            result = super().forward(input_dict)
            if is_train:
                network = self.a2c_network
                result["disc_agent_logit"] = network.eval_disc(input_dict["amp_obs"])
                result["disc_agent_replay_logit"] = network.eval_disc(input_dict["amp_obs_replay"])
                result["disc_demo_logit"] = network.eval_disc(input_dict["amp_obs_demo"])
            return result

        def act(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
            """Sampled actions for (unnormalised) observations ``[B, O]``, as the rollout's forward pass gives them
            (``actions``, ``neglogpacs``, ``mus``, ``sigmas``; the same random draws), without the critic's pass."""
            mu, logstd = self.a2c_network.eval_actor(self.norm_obs(obs))
            sigma = torch.exp(logstd)
            actions = torch.distributions.Normal(mu, sigma, validate_args=False).sample()
            neglogp = self.neglogp(actions, mu, sigma, logstd)
            return {"actions": actions, "neglogpacs": torch.squeeze(neglogp), "mus": mu, "sigmas": sigma}
