"""Wiring the AMP plugin into rl_games, in one place: the agent, the player, the model and the network."""

from __future__ import annotations

from rl_games.algos_torch import model_builder
from rl_games.torch_runner import Runner

from isaacgymenvs.learning.amp_continuous import AMPAgent
from isaacgymenvs.learning.amp_models import ModelAMPContinuous
from isaacgymenvs.learning.amp_network_builder import AMPBuilder
from isaacgymenvs.learning.amp_players import AMPPlayerContinuous


def register_amp(runner: Runner) -> None:
    """Register ``algo: amp_continuous``, ``model: continuous_amp`` and ``network: amp`` (the train configs' names)."""
    runner.algo_factory.register_builder("amp_continuous", lambda **kwargs: AMPAgent(**kwargs))
    runner.player_factory.register_builder("amp_continuous", lambda **kwargs: AMPPlayerContinuous(**kwargs))
    model_builder.register_model("continuous_amp", ModelAMPContinuous)
    model_builder.register_network("amp", AMPBuilder)
