"""The glue between tasks and rl_games: the env creator, the ``RLGPU`` vec env and an observer for env statistics.

As in the original, the learner reaches a task through ``vecenv.create_vec_env("rlgpu", ...)`` -> :class:`RLGPUEnv`,
which also exposes ``reset_done()`` and the AMP observation space; the player calls the env creator directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from rl_games.common import env_configurations, vecenv

from isaacgymenvs.tasks import isaacgym_task_map
from isaacgymenvs.utils.rlgames_observer import RLGPUAlgoObserver

__all__ = ["ENV_NAME", "VECENV_TYPE", "RLGPUAlgoObserver", "RLGPUEnv", "get_rlgames_env_creator", "register_rlgpu_env"]

ENV_NAME = "rlgpu"
VECENV_TYPE = "RLGPU"


def get_rlgames_env_creator(
    task_config: dict[str, Any],
    task_name: str,
    sim_device: str,
    rl_device: str,
    graphics_device_id: int = -1,
    headless: bool = True,
    post_create_hook: Callable[[Any], Any] | None = None,
    virtual_screen_capture: bool = False,
    force_render: bool = False,
) -> Callable[..., Any]:
    """A function that builds the task (and applies ``post_create_hook`` to it, e.g. a video recorder)."""

    def create_rlgpu_env(**_: Any) -> Any:
        env = isaacgym_task_map[task_name](
            cfg=task_config,
            rl_device=rl_device,
            sim_device=sim_device,
            graphics_device_id=graphics_device_id,
            headless=headless,
            virtual_screen_capture=virtual_screen_capture,
            force_render=force_render,
        )
        return post_create_hook(env) if post_create_hook is not None else env

    return create_rlgpu_env


class RLGPUEnv(vecenv.IVecEnv):
    """rl_games' view of a task."""

    def __init__(self, config_name: str, num_actors: int, **kwargs: Any) -> None:
        self.env = env_configurations.configurations[config_name]["env_creator"](**kwargs)

    def step(self, actions: torch.Tensor) -> tuple[Any, ...]:
        return self.env.step(actions)

    def reset(self) -> dict[str, torch.Tensor]:
        return self.env.reset()

    def reset_done(self) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        return self.env.reset_done()

    def get_number_of_agents(self) -> int:
        return self.env.get_number_of_agents()

    def get_env_info(self) -> dict[str, Any]:
        info = {
            "action_space": self.env.action_space,
            "observation_space": self.env.observation_space,
            "agents": 1,
            "value_size": 1,
        }
        if hasattr(self.env, "amp_observation_space"):
            info["amp_observation_space"] = self.env.amp_observation_space
        return info

    def close(self) -> None:
        self.env.close()


def register_rlgpu_env(env_creator: Callable[..., Any]) -> None:
    """Make ``env_name: rlgpu`` create tasks with ``env_creator``."""
    vecenv.register(VECENV_TYPE, lambda config_name, num_actors, **kwargs: RLGPUEnv(config_name, num_actors, **kwargs))
    env_configurations.register(ENV_NAME, {"vecenv_type": VECENV_TYPE, "env_creator": env_creator})
