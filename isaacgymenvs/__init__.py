"""HumanoidAMP and the rl_games AMP plugin, re-created on MuJoCo.

``isaacgymenvs.make(...)`` builds a task as the original's did; importing the package registers the OmegaConf
resolvers the configs use: ``eq``, ``contains``, ``if``, ``resolve_default`` (the original's) and ``if_cuda`` (ours:
the first value when a CUDA device is present, else the second).
"""

from __future__ import annotations

import ctypes.util
import os
import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = PROJECT_ROOT / "cfg"


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _register_resolvers() -> None:
    resolvers = {
        "eq": lambda x, y: x.lower() == y.lower(),
        "contains": lambda x, y: x.lower() in y.lower(),
        "if": lambda pred, a, b: a if pred else b,
        # Returns the default when the argument is '' (an unset command-line key).
        "resolve_default": lambda default, arg: default if arg == "" else arg,
        "if_cuda": lambda gpu_value, cpu_value: gpu_value if _cuda_available() else cpu_value,
    }
    for name, function in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function)


_register_resolvers()


def _guard_mujoco_gl() -> None:
    """MuJoCo fails to import at all when ``MUJOCO_GL`` names a platform whose library is missing; turn rendering off
    instead (with a warning), so that simulation and training still work."""
    platform = os.environ.get("MUJOCO_GL", "").lower().strip()
    library = {"osmesa": "OSMesa", "egl": "EGL"}.get(platform)
    if library is not None and ctypes.util.find_library(library) is None:
        warnings.warn(f"MUJOCO_GL={platform} but lib{library} is not installed: rendering is disabled", stacklevel=2)
        os.environ["MUJOCO_GL"] = "disable"


_guard_mujoco_gl()


class TaskNotFoundError(ValueError):
    """An unknown task name."""


def available_tasks() -> list[str]:
    """Task names with a config in ``cfg/task``."""
    return sorted(path.stem for path in (CONFIG_DIR / "task").glob("*.yaml"))


def compose_config(overrides: list[str]) -> DictConfig:
    """The project's Hydra config composed with command-line style ``overrides`` (outside a Hydra app)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def make(
    seed: int,
    task: str,
    num_envs: int,
    sim_device: str,
    rl_device: str,
    graphics_device_id: int = -1,
    headless: bool = True,
    multi_gpu: bool = False,
    virtual_screen_capture: bool = False,
    force_render: bool = True,
    cfg: DictConfig | dict | None = None,
) -> Any:
    """Build task ``task`` with ``num_envs`` environments, as the original ``isaacgymenvs.make`` did.

    ``cfg``, when given, is the full config (or its ``task`` node); otherwise ``cfg/config.yaml`` is composed with
    ``task=<task>``. ``sim_device="cpu"`` works everywhere (MuJoCo simulates on the CPU whatever is asked).

    Raises:
        TaskNotFoundError: ``task`` has no config in ``cfg/task``.
        isaacgymenvs.tasks.amp.humanoid_amp_config.ConfigError: ``num_envs`` <= 0 or another bad value.
    """
    from isaacgymenvs.tasks import isaacgym_task_map
    from isaacgymenvs.utils.reformat import omegaconf_to_dict
    from isaacgymenvs.utils.utils import set_seed

    if cfg is None:
        if task not in available_tasks():
            raise TaskNotFoundError(f"unknown task {task!r}; available tasks: {', '.join(available_tasks())}")
        cfg = compose_config([f"task={task}"])
    config = omegaconf_to_dict(cfg)
    task_config = config.get("task", config)
    task_config.setdefault("env", {})["numEnvs"] = num_envs
    task_name = task_config.get("name", task)
    if task_name not in isaacgym_task_map:
        raise TaskNotFoundError(f"unknown task {task_name!r}; available tasks: {', '.join(sorted(isaacgym_task_map))}")
    set_seed(seed)
    return isaacgym_task_map[task_name](
        cfg=task_config,
        rl_device=rl_device,
        sim_device=sim_device,
        graphics_device_id=graphics_device_id,
        headless=headless,
        virtual_screen_capture=virtual_screen_capture,
        force_render=force_render,
    )
