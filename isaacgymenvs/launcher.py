"""The launcher behind ``python launch.py``: compose the Hydra config, check it, build the task and train or play.

    python launch.py task=HumanoidAMP                         # train on the default motion
    python launch.py task=HumanoidAMP test=True checkpoint=runs/HumanoidAMP_.../nn/HumanoidAMP.pth num_envs=16
    python launch.py task=HumanoidAMP checkpoint=runs/.../nn/HumanoidAMP_50.pth       # resume training

The command line is Hydra's override syntax with the original's keys (``cfg/config.yaml``). Every mistake a newcomer
can make on it -- an unknown task or train config, a value of the wrong type, a missing motion or checkpoint file, a
checkpoint trained for other sizes -- ends the run with one line saying what is wrong and a non-zero exit status.

Outputs of a training run go to ``runs/<experiment>/``: ``nn/`` checkpoints (every ``save_frequency`` epochs and at
the end), ``summaries/`` TensorBoard events and ``config.yaml``, the resolved config.
"""

from __future__ import annotations

import copy
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import isaacgymenvs
from isaacgymenvs.learning.distributed import LaunchError, init_distributed
from isaacgymenvs.motion.motion import MotionFileError
from isaacgymenvs.physics.mujoco_backend import ModelError
from isaacgymenvs.tasks.amp.humanoid_amp_config import ConfigError, HumanoidAMPConfig

USAGE = __doc__.split("\n\n")[1]
RUNS_DIR = "runs"


class UsageError(ValueError):
    """A command line that cannot be composed into a config."""


def _config_names(group: str) -> list[str]:
    return sorted(path.stem for path in (isaacgymenvs.CONFIG_DIR / group).glob("*.yaml"))


def _check_groups(overrides: list[str]) -> None:
    """Unknown ``task=`` / ``train=`` names, caught before Hydra's multi-line error."""
    for override in overrides:
        key, _, value = override.partition("=")
        key = key.lstrip("+~")
        if key in ("task", "train") and value and value not in _config_names(key):
            raise UsageError(f"unknown {key} config {value!r}; available: {', '.join(_config_names(key))}")


def compose(overrides: list[str]) -> Any:
    """The composed config for command-line ``overrides``, or :class:`UsageError` in one line."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    _check_groups(overrides)
    try:
        return isaacgymenvs.compose_config(overrides)
    except (HydraException, OmegaConfBaseException) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if first_line.startswith("Could not override"):
            first_line += " (no such key in the config; to add one, write ++key=value)"
        raise UsageError(first_line) from None


def _resolve(cfg: Any) -> dict[str, Any]:
    from omegaconf.errors import OmegaConfBaseException

    from isaacgymenvs.utils.reformat import omegaconf_to_dict

    try:
        return omegaconf_to_dict(cfg)
    except OmegaConfBaseException as error:
        raise UsageError(str(error).strip().splitlines()[0]) from None


def _experiment_name(config: dict[str, Any], rank_info: Any) -> str:
    """The run folder's name: ``experiment=`` when given, else the train config's name and the start time."""
    name = (
        config["experiment"]
        or f"{config['train']['params']['config']['name']}_{datetime.now().strftime('%Y-%m-%d_%H-%M-%S')}"
    )
    if rank_info is not None:  # every rank writes (or not) into rank 0's folder name
        import torch.distributed as dist

        names = [name]
        dist.broadcast_object_list(names, 0)
        name = names[0]
    return name


def run(cfg: Any) -> int:
    """Train or play with the composed config ``cfg``."""
    from rl_games.torch_runner import Runner

    from isaacgymenvs.learning.amp_config import check_train_params
    from isaacgymenvs.learning.common_agent import load_checkpoint
    from isaacgymenvs.learning.registry import register_amp
    from isaacgymenvs.utils.rlgames_utils import RLGPUAlgoObserver, get_rlgames_env_creator, register_rlgpu_env
    from isaacgymenvs.utils.utils import flush_denormals, set_seed

    config = _resolve(cfg)
    rank_info = init_distributed() if config["multi_gpu"] else None
    rank = rank_info.rank if rank_info is not None else 0
    task_config = config["task"]
    HumanoidAMPConfig.from_cfg(task_config)  # fail early, in one line, on a bad task value
    num_envs = task_config["env"]["numEnvs"]
    train_params = config["train"]["params"]
    check_train_params(train_params, num_envs, training=not config["test"])
    rl_device = config["rl_device"]
    if rank_info is not None and rank_info.backend == "nccl":
        rl_device = f"cuda:{rank_info.local_rank}"
    checkpoint = config["checkpoint"]
    if checkpoint:
        checkpoint = str(Path(checkpoint).expanduser().resolve())
        load_checkpoint(checkpoint)  # exists and is readable
    if config["test"] and not checkpoint:
        print("warning: test=True without checkpoint=: playing an untrained policy", file=sys.stderr)
    config["seed"] = set_seed(config["seed"], config["torch_deterministic"], rank) - rank  # rl_games adds the rank
    flush_denormals()

    experiment = _experiment_name(config, rank_info) if not config["test"] else None
    recorders: list[Any] = []
    hook = _recording_hook(config, task_config, experiment, checkpoint, recorders) if rank == 0 else None
    env_creator = get_rlgames_env_creator(
        task_config=task_config,
        task_name=task_config["name"],
        sim_device=config["sim_device"],
        rl_device=rl_device,
        graphics_device_id=config["graphics_device_id"],
        headless=config["headless"],
        post_create_hook=hook,
    )
    register_rlgpu_env(env_creator)
    agent_config = train_params["config"]
    agent_config.update(
        device=rl_device,
        device_name=rl_device,
        multi_gpu=bool(config["multi_gpu"]),
        torch_compile=False,
        num_actors=num_envs,
        train_dir=RUNS_DIR,
    )
    train_params["seed"] = config["seed"]
    if experiment is not None:
        agent_config["full_experiment_name"] = experiment
        # Written by the agent into its run folder once the task and the agent exist (nothing is written before).
        agent_config["resolved_config"] = copy.deepcopy(config)
    runner = Runner(algo_observer=RLGPUAlgoObserver())
    register_amp(runner)
    runner.load({"params": train_params})
    try:
        runner.run(
            {
                "train": not config["test"],
                "play": bool(config["test"]),
                "checkpoint": checkpoint,
                "sigma": config["sigma"] if config["sigma"] != "" else None,
            }
        )
    finally:
        for recorder in recorders:
            recorder.close()
    return 0


def _recording_hook(
    config: dict[str, Any], task_config: dict[str, Any], experiment: str | None, checkpoint: str, recorders: list[Any]
) -> Any:
    """The env creator's hook that wraps the task in a :class:`~isaacgymenvs.video.recorder.RecordingTask` when
    videos or motion files are asked for (None otherwise)."""
    if not config["capture_video"] and not config["export_motion"]:
        return None
    from isaacgymenvs.video.recorder import RecordingSettings, RecordingTask

    settings = RecordingSettings(
        output_dir=_output_dir(experiment, checkpoint, config),
        prefix="test" if config["test"] else "train",
        capture_video=bool(config["capture_video"]),
        capture_video_freq=_positive(config["capture_video_freq"], "capture_video_freq"),
        capture_video_len=_positive(config["capture_video_len"], "capture_video_len"),
        camera_follow=bool(task_config["env"].get("cameraFollow", True)),
        export_motion=bool(config["export_motion"]),
        per_episode=bool(config["test"]),
        export_motion_freq=_positive(config["export_motion_freq"], "export_motion_freq"),
        export_motion_len=_positive(config["export_motion_len"], "export_motion_len"),
        export_motion_max=_positive(config["export_motion_max"], "export_motion_max"),
    )

    def wrap(task: Any) -> Any:
        recorder = RecordingTask(task, settings)
        recorders.append(recorder)
        return recorder

    return wrap


def _positive(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key} must be a positive integer, got {value!r}")
    return value


def _output_dir(experiment: str | None, checkpoint: str, config: dict[str, Any]) -> Path:
    """Where videos and motion files go: the training run's folder; when testing, the checkpoint's run folder (or
    ``runs/<experiment>`` / ``runs/test_<date_time>``)."""
    if experiment is not None:
        return Path(RUNS_DIR) / experiment
    if config["experiment"]:
        return Path(RUNS_DIR) / config["experiment"]
    if checkpoint and Path(checkpoint).parent.name == "nn":
        return Path(checkpoint).parent.parent
    return Path(RUNS_DIR) / f"test_{datetime.now().strftime('%Y-%m-%d_%H-%M-%S')}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``launch.py``; returns the exit status."""
    from isaacgymenvs.learning.common_agent import CheckpointError

    overrides = list(sys.argv[1:] if argv is None else argv)
    if any(argument in ("-h", "--help") for argument in overrides):
        print(USAGE)
        print("\nKeys: see cfg/config.yaml, cfg/task/*.yaml, cfg/train/*.yaml; docs/training.md explains them.")
        return 0
    try:
        return run(compose(overrides))
    except (
        UsageError,
        ConfigError,
        MotionFileError,
        ModelError,
        CheckpointError,
        LaunchError,
        isaacgymenvs.TaskNotFoundError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2 if isinstance(error, UsageError) else 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if os.environ.get("WORLD_SIZE"):
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
