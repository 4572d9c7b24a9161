"""The launcher behind ``python launch.py``: compose the Hydra config, check it, build the task and train or play.

    python launch.py task=HumanoidAMP                         # train on the default motion
    python launch.py task=HumanoidAMP test=True checkpoint=runs/HumanoidAMP_.../nn/HumanoidAMP.pth num_envs=16
    python launch.py task=HumanoidAMP checkpoint=runs/.../nn/HumanoidAMP_50.pth       # resume training

The command line is Hydra's override syntax with the original's keys (``cfg/config.yaml``). Every mistake a newcomer
can make on it -- an unknown task or train config, a value of the wrong type, a missing motion or checkpoint file, a
checkpoint trained for other sizes -- ends the run with one line saying what is wrong and a non-zero exit status.

Outputs of a training run go to ``runs/<experiment>/``: ``nn/`` checkpoints (:mod:`isaacgymenvs.learning.checkpoints`),
``summaries/`` TensorBoard events, ``config.yaml`` (the resolved config) and ``rl_games.log`` (rl_games' own messages,
kept off the console). Ctrl-C or SIGTERM saves a checkpoint, then stops with a line saying how to resume; resuming and
playing take the run's settings from its ``config.yaml`` (:mod:`isaacgymenvs.resume`).
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import isaacgymenvs
from isaacgymenvs.learning.distributed import LaunchError, init_distributed
from isaacgymenvs.motion.motion import MotionFileError
from isaacgymenvs.physics.mujoco_model import ModelError
from isaacgymenvs.physics.mujoco_threads import default_thread_count
from isaacgymenvs.resume import apply_saved_config, override_keys, resume_target, run_folder, saved_run_config
from isaacgymenvs.tasks.amp.humanoid_amp_config import ConfigError, HumanoidAMPConfig
from isaacgymenvs.utils.files import check_creatable, remove_stale_temporaries

USAGE = __doc__.split("\n\n")[1]
RUNS_DIR = "runs"
# Bad input found while composing, checking or starting a run (a task value, a clip, the model, a launch setting, the
# task name): each is one line for the user, exit status 1. Commands that run the launcher catch the same ones.
RUN_INPUT_ERRORS = (ConfigError, MotionFileError, ModelError, LaunchError, isaacgymenvs.TaskNotFoundError)
# The config groups' defaults (cfg/config.yaml); a composed config does not record which group file it came from.
CONFIG_GROUP_DEFAULTS = {"task": "HumanoidAMP", "train": "HumanoidAMPPPO"}


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
        cfg = isaacgymenvs.compose_config(overrides)
    except (HydraException, OmegaConfBaseException) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if first_line.startswith("Could not override"):
            first_line += " (no such key in the config; to add one, write ++key=value)"
        raise UsageError(first_line) from None
    _take_run_settings(cfg, overrides)
    return cfg


def _take_run_settings(cfg: Any, overrides: list[str]) -> None:
    """With ``checkpoint=``: the settings of the run that wrote it, where the command line gives none
    (:mod:`isaacgymenvs.resume`), each note printed in one line."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        checkpoint, playing = cfg.checkpoint, bool(cfg.test)
    except OmegaConfBaseException:
        return  # a bad value there is reported, in one line, when the config is resolved
    saved = saved_run_config(checkpoint) if checkpoint else None
    if saved is not None:
        for note in apply_saved_config(cfg, overrides, saved, playing):
            print(f"note: {note}", flush=True)


def _resolve(cfg: Any) -> dict[str, Any]:
    from omegaconf.errors import OmegaConfBaseException

    from isaacgymenvs.utils.reformat import omegaconf_to_dict

    try:
        return omegaconf_to_dict(cfg)
    except OmegaConfBaseException as error:
        raise UsageError(str(error).strip().splitlines()[0]) from None


def _experiment_name(config: dict[str, Any], rank_info: Any, checkpoint: str, runs_dir: str) -> tuple[str, str]:
    """The run folder's name and the checkpoints' file name: when resuming, the checkpoint's run (or a new folder
    beside it when that holds something newer, :func:`~isaacgymenvs.resume.resume_target`); else ``experiment=``
    when given, else the train config's name and the start time."""
    target = resume_target(checkpoint, config["experiment"], runs_dir) if checkpoint else None
    if target is not None:
        if target.note and (rank_info is None or rank_info.rank == 0):
            print(f"note: {target.note}", flush=True)
        name, file_name = target.experiment, target.checkpoint_name
    else:
        file_name = config["train"]["params"]["config"]["name"]
        name = config["experiment"] or f"{file_name}_{datetime.now().strftime('%Y-%m-%d_%H-%M-%S')}"
    if rank_info is not None:  # every rank writes (or not) into rank 0's folder name
        import torch.distributed as dist

        names = [name, file_name]
        dist.broadcast_object_list(names, 0)
        name, file_name = names
    return name, file_name


def run(cfg: Any, algo_observer: Any = None, runs_dir: str = RUNS_DIR) -> int:
    """Train or play with the composed config ``cfg``.

    ``algo_observer`` replaces the default :class:`~isaacgymenvs.utils.rlgames_observer.RLGPUAlgoObserver` (benchmarks
    pass a subclass of it to act between epochs, e.g. to evaluate the policy); ``runs_dir`` is the folder that holds
    run folders (``runs/``, relative to the working directory, for the command line).
    """
    # Only what checking the values needs is imported first: a bad value is refused before rl_games (and torch's
    # compiler, which it imports) take seconds to load.
    from isaacgymenvs.learning.amp_config import check_train_params
    from isaacgymenvs.learning.checkpoints import CheckpointError, load_checkpoint
    from isaacgymenvs.learning.precision import precision_note
    from isaacgymenvs.utils.utils import flush_denormals, set_seed

    config = _resolve(cfg)
    rank_info = init_distributed() if config["multi_gpu"] else None
    rank = rank_info.rank if rank_info is not None else 0
    task_config = config["task"]
    task = HumanoidAMPConfig.from_cfg(task_config)  # fail early, in one line, on a bad task value
    num_envs = task_config["env"]["numEnvs"]
    train_params = config["train"]["params"]
    _, notes = check_train_params(
        train_params, num_envs, training=not config["test"], amp_obs_steps=task.num_amp_obs_steps
    )
    for note in notes if rank == 0 else []:
        print(f"note: {note}", flush=True)
    # The rollout (MuJoCo's pool) and the update (torch) take turns, so each may use every core given to this process;
    # unless a count was given, torch's is then chosen by timing epochs with all of them and with one
    # (isaacgymenvs.learning.thread_tuner: one torch thread wins on a machine busy with other work).
    threads_given = bool(config["num_threads"]) or "torch_threads" in train_params
    train_params.setdefault("torch_threads", config["num_threads"] or default_thread_count())
    train_params["config"]["tune_torch_threads"] = not threads_given
    rl_device = config["rl_device"]
    if rank_info is not None and rank_info.backend == "nccl":
        rl_device = f"cuda:{rank_info.local_rank}"
    _check_launch_values(config)
    if not config["test"] and rank == 0:
        note = precision_note(train_params["config"].get("mixed_precision", False), rl_device)
        if note:
            print(f"note: {note}", flush=True)
    checkpoint = config["checkpoint"]
    if checkpoint:
        checkpoint = str(Path(checkpoint).expanduser().resolve())
        state = load_checkpoint(checkpoint)  # exists, is readable and whole
        if not config["test"] and "optimizer" not in state:
            raise CheckpointError(
                f"checkpoint {checkpoint} has no optimiser state, so training cannot resume from it "
                "(it can be played with test=True)"
            )
    if config["test"] and not checkpoint:
        print("warning: test=True without checkpoint=: playing an untrained policy", file=sys.stderr)
    config["seed"] = set_seed(config["seed"], config["torch_deterministic"], rank) - rank  # rl_games adds the rank
    flush_denormals()

    from rl_games.torch_runner import Runner

    from isaacgymenvs.learning.registry import register_amp
    from isaacgymenvs.utils.rlgames_utils import RLGPUAlgoObserver, get_rlgames_env_creator, register_rlgpu_env

    training = not config["test"]
    experiment, file_name = _experiment_name(config, rank_info, checkpoint, runs_dir) if training else (None, None)
    if experiment is not None and rank == 0:
        _prepare_run_folder(Path(runs_dir) / experiment)
    recorders: list[Any] = []
    hook = _recording_hook(config, task_config, experiment, checkpoint, recorders, runs_dir) if rank == 0 else None
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
        train_dir=runs_dir,
    )
    train_params["seed"] = config["seed"]
    if experiment is not None:
        agent_config["full_experiment_name"] = experiment
        agent_config["name"] = file_name
        # Written by the agent into its run folder once the task and the agent exist (nothing is written before).
        agent_config["resolved_config"] = copy.deepcopy(config)
    runner = Runner(algo_observer=algo_observer if algo_observer is not None else RLGPUAlgoObserver())
    register_amp(runner)
    chatter = io.StringIO()  # rl_games' own prints: kept off the console, saved in the run folder
    sigma = config["sigma"] if config["sigma"] != "" else None
    try:
        with contextlib.redirect_stdout(chatter):
            runner.load({"params": train_params})
        if config["test"]:
            with contextlib.redirect_stdout(chatter):
                player = runner.create_player()
            _restore(player, checkpoint, sigma)
            player.run()
        else:
            with contextlib.redirect_stdout(chatter):
                agent = runner.algo_factory.create(runner.algo_name, base_name="run", params=runner.params)
            if rank == 0:
                (Path(agent.experiment_dir) / "rl_games.log").write_text(chatter.getvalue(), encoding="utf-8")
                print(f"run folder: {agent.experiment_dir}", flush=True)
            _restore(agent, checkpoint, sigma)
            agent.train()
    finally:
        for recorder in recorders:
            recorder.close()
    return 0


def _check_launch_values(config: dict[str, Any]) -> None:
    """Top-level keys the task and train configs do not cover: ``experiment`` names one folder under ``runs/``
    (a path there would write elsewhere), ``sigma`` is a number."""
    experiment = config["experiment"]
    if not isinstance(experiment, str) or experiment in (".", "..") or any(c in experiment for c in "/\\\0"):
        raise ConfigError(f"experiment must be a folder name (no '/', not '..'), got {experiment!r}")
    sigma = config["sigma"]
    if sigma != "" and (isinstance(sigma, bool) or not isinstance(sigma, int | float) or not math.isfinite(sigma)):
        raise ConfigError(f"sigma must be a finite number, the policy's log-std (or '' for its own), got {sigma!r}")


def _prepare_run_folder(folder: Path) -> None:
    """Before anything is built: the run folder must be creatable (else rl_games fails with a traceback after the task
    is built), and what a run killed while saving left there (hidden ``.*.partial`` temporaries) is removed."""
    check_creatable(folder, "the run folder")
    removed = [path for place in (folder, folder / "nn") for path in remove_stale_temporaries(place)]
    if removed:
        print(
            f"note: removed {len(removed)} unfinished file(s) left in {folder} by a run stopped while saving",
            flush=True,
        )


def _restore(agent: Any, checkpoint: str, sigma: float | None) -> None:
    """Load ``checkpoint`` (if any) into an agent or player, then set a fixed exploration ``sigma`` (if given)."""
    if checkpoint:
        agent.restore(checkpoint)
    network = agent.model.a2c_network
    if sigma is not None and getattr(network, "fixed_sigma", False):
        import torch

        with torch.no_grad():
            network.sigma.fill_(float(sigma))
    elif sigma is not None:
        print("note: sigma= is ignored: the policy learns its own sigma (fixed_sigma: False)", flush=True)


def _recording_hook(
    config: dict[str, Any],
    task_config: dict[str, Any],
    experiment: str | None,
    checkpoint: str,
    recorders: list[Any],
    runs_dir: str,
) -> Any:
    """The env creator's hook that wraps the task in a :class:`~isaacgymenvs.video.recorder.RecordingTask` when
    videos or motion files are asked for (None otherwise)."""
    if not config["capture_video"] and not config["export_motion"]:
        return None
    from isaacgymenvs.video.recorder import RecordingSettings, RecordingTask

    settings = RecordingSettings(
        output_dir=_output_dir(experiment, checkpoint, config, runs_dir),
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


def _output_dir(experiment: str | None, checkpoint: str, config: dict[str, Any], runs_dir: str) -> Path:
    """Where videos and motion files go: the training run's folder; when testing, a new ``test_<date_time>`` folder
    in ``runs/<experiment>`` or else in the checkpoint's run folder (else in ``runs/``), so that no test run
    overwrites another's files."""
    if experiment is not None:
        return Path(runs_dir) / experiment
    base = Path(runs_dir)
    if config["experiment"]:
        base = Path(runs_dir) / config["experiment"]
    elif checkpoint:
        base = run_folder(checkpoint) or base
    stamp = f"test_{datetime.now().strftime('%Y-%m-%d_%H-%M-%S')}"
    folder, count = base / stamp, 2
    while folder.exists():
        folder, count = base / f"{stamp}_{count}", count + 1
    return folder


def _stop_message(stop: Any, overrides: list[str]) -> str:
    """One line for a run stopped by a signal: what was saved and the command that resumes it."""
    if stop.checkpoint is None:
        return f"{stop}: no epoch had finished since the start, nothing was saved"
    task = override_keys(overrides).get("task", "HumanoidAMP")
    return f"{stop}; saved {stop.checkpoint}; resume with: python launch.py task={task} checkpoint={stop.checkpoint}"


def _quiet_broken_pipe() -> int:
    """The reader of the output went away (``launch.py ... | head``): stop quietly, as command-line tools do."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the final flush at exit goes nowhere
    return 128 + signal.SIGPIPE


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``launch.py``; returns the exit status."""
    from isaacgymenvs.learning.checkpoints import CheckpointError
    from isaacgymenvs.learning.run_control import TrainingInterrupted

    overrides = list(sys.argv[1:] if argv is None else argv)
    if any(argument in ("-h", "--help") for argument in overrides):
        from isaacgymenvs.launcher_help import help_text

        try:
            print(help_text([item for item in overrides if item not in ("-h", "--help")]), flush=True)
        except BrokenPipeError:
            return _quiet_broken_pipe()
        return 0
    if override_keys(overrides).get("headless", "").lower() == "false":
        print(
            "note: headless=False: there is no live viewer window on MuJoCo, so this runs headless "
            "(capture_video=True records videos; docs/watching.md)",
            flush=True,
        )
    try:
        return run(compose(overrides))
    except TrainingInterrupted as stop:
        print(_stop_message(stop, overrides), file=sys.stderr)
        return 128 + stop.signal_number
    except (UsageError, CheckpointError, *RUN_INPUT_ERRORS) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2 if isinstance(error, UsageError) else 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except OSError as error:  # a folder or file that cannot be written (permissions, a full disk), named
        where = f"{error.filename}: " if error.filename else ""
        print(f"error: {where}{error.strerror or error}", file=sys.stderr)
        return 1
    finally:
        if os.environ.get("WORLD_SIZE"):
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
