"""``AMPBuilder``: rl_games' actor-critic network plus the AMP discriminator.

Architecture (spec section 9): separate actor and critic MLPs, a fixed (not learned) log-std initialised from the config
(-2.9), and a discriminator MLP on the AMP observation with a single logit. Linear layers keep PyTorch's default weight
initialisation with zero biases (rl_games' ``default`` initialiser); the logit layer's weights are uniform in
+-``disc.logit_init_scale`` (default ``DISC_LOGIT_INIT_SCALE``, the original's 1.0). The output layers (action means,
value, logit) compute in float32 even under mixed precision (:mod:`isaacgymenvs.learning.precision`).
"""

from __future__ import annotations

from typing import Any

import torch
from rl_games.algos_torch import network_builder
from torch import nn

from isaacgymenvs.learning.precision import FullPrecisionLinear, keep_in_full_precision

DISC_LOGIT_INIT_SCALE = 1.0


class AMPBuilder(network_builder.A2CBuilder):
    """Builds :class:`AMPBuilder.Network` from the train config's ``network`` section (``disc.units``, ...)."""

    def build(self, name: str, **kwargs: Any) -> AMPBuilder.Network:
        return AMPBuilder.Network(self.params, **kwargs)

    class Network(network_builder.A2CBuilder.Network):
        """Actor, critic and discriminator. Extra build argument: ``amp_input_shape`` (e.g. ``(210,)``)."""

        def __init__(self, params: dict[str, Any], **kwargs: Any) -> None:
            amp_input_shape = kwargs.pop("amp_input_shape")
            super().__init__(params, **kwargs)
            if self.is_continuous and not self.space_config.get("learn_sigma", True):
                # A fixed exploration noise: the log-std is a parameter (it is saved and can be overridden with
                # sigma=) that receives no gradient.
                self.sigma.requires_grad_(False)
            heads = [self.mu, self.value] if self.is_continuous else [self.value]
            if self.is_continuous and type(self.sigma) is nn.Linear:  # a state-dependent sigma (fixed_sigma: False)
                heads.append(self.sigma)
            for head in heads:
                keep_in_full_precision(head)
            self._build_disc(amp_input_shape)

        def load(self, params: dict[str, Any]) -> None:
            super().load(params)
            self._disc_units = params["disc"]["units"]
            self._disc_activation = params["disc"]["activation"]
            self._disc_initializer = params["disc"]["initializer"]
            self._disc_logit_init_scale = float(params["disc"].get("logit_init_scale", DISC_LOGIT_INIT_SCALE))

        def eval_actor(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """The policy's action means and log-stds ``[B, A]`` of (normalised) observations: the actor half of
            rl_games' forward pass for separate networks without recurrence."""
            out = self.actor_mlp(self.actor_cnn(obs).flatten(1))
            mu = self.mu_act(self.mu(out))
            if self.fixed_sigma:
                return mu, mu * 0.0 + self.sigma_act(self.sigma)
            return mu, self.sigma_act(self.sigma(out))

        def eval_critic(self, obs: torch.Tensor) -> torch.Tensor:
            """The critic's value ``[B, 1]`` of (normalised) observations, in the value normaliser's units."""
            out = self.critic_mlp(self.critic_cnn(obs).flatten(1))
            return self.value_act(self.value(out))

        def eval_disc(self, amp_obs: torch.Tensor) -> torch.Tensor:
            """Discriminator logits ``[B, 1]`` of (normalised) AMP observations."""
            return self._disc_logits(self._disc_mlp(amp_obs))

        def get_disc_logit_weights(self) -> torch.Tensor:
            """The logit layer's weights, flattened."""
            return torch.flatten(self._disc_logits.weight)

        def get_disc_weights(self) -> list[torch.Tensor]:
            """Every discriminator weight matrix, flattened: the MLP's Linear layers in order, then the logit layer."""
            weights = [
                torch.flatten(module.weight) for module in self._disc_mlp.modules() if isinstance(module, nn.Linear)
            ]
            weights.append(torch.flatten(self._disc_logits.weight))
            return weights

        def _build_disc(self, input_shape: tuple[int, ...]) -> None:
            self._disc_mlp = self._build_mlp(
                input_size=input_shape[0],
                units=self._disc_units,
                activation=self._disc_activation,
                dense_func=nn.Linear,
            )
            self._disc_logits = FullPrecisionLinear(self._disc_units[-1], 1)
            mlp_init = self.init_factory.create(**self._disc_initializer)
            for module in self._disc_mlp.modules():
                if isinstance(module, nn.Linear):
                    mlp_init(module.weight)
                    nn.init.zeros_(module.bias)
            scale = self._disc_logit_init_scale
            nn.init.uniform_(self._disc_logits.weight, -scale, scale)
            nn.init.zeros_(self._disc_logits.bias)
