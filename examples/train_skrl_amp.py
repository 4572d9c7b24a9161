"""Train HumanoidAMP with skrl's AMP agent instead of our rl_games learner, save it, and play it back.

    python examples/train_skrl_amp.py task=HumanoidAMP max_iterations=200 experiment=skrl_run
    python examples/train_skrl_amp.py task=HumanoidAMP test=True checkpoint=runs/skrl_run/checkpoints/skrl_run.pt

The command line is the launcher's, with the same Hydra keys: ``task=``, ``num_envs=``, ``task.env.motion_file=``,
``seed=``, ``max_iterations=`` (one iteration is one rollout and update, as an epoch is for rl_games), ``experiment=``,
``test=True checkpoint=...`` and ``train.params...`` overrides; the train config's sizes and weights are translated
into skrl's (``isaacgymenvs/learning/skrl_amp.py``). A run writes ``runs/<experiment>/``: skrl's TensorBoard events,
``checkpoints/`` every ``save_frequency`` iterations and ``checkpoints/<experiment>.pt`` at the end. Needs the optional
extra: ``pip install -e '.[skrl]'``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    from isaacgymenvs.launcher import RUNS_DIR, UsageError, _resolve, compose
    from isaacgymenvs.learning.checkpoints import CheckpointError
    from isaacgymenvs.motion.motion import MotionFileError
    from isaacgymenvs.tasks.amp.humanoid_amp_config import ConfigError

    overrides = list(sys.argv[1:] if argv is None else argv)
    if any(argument in ("-h", "--help") for argument in overrides):
        print(__doc__)
        return 0
    try:
        from isaacgymenvs.learning import skrl_amp
    except ImportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        config = _resolve(compose(overrides))
        _skrl_values_unless_asked(config, overrides)
        return _run(config, skrl_amp, RUNS_DIR)
    except (UsageError, ConfigError, MotionFileError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2 if isinstance(error, UsageError) else 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _skrl_values_unless_asked(config: dict[str, Any], overrides: list[str]) -> None:
    """skrl's AMP agent follows some of our options at one value only (``SKRL_AMP_VALUES``: the logistic
    discriminator, added rewards, no feature mask or warm-up window): a default that differs is replaced by skrl's
    value, with a note; a value asked for on the command line is left for the adapter to refuse with one line."""
    from isaacgymenvs.learning.skrl_options import SKRL_AMP_VALUES
    from isaacgymenvs.utils.overrides import override_keys

    train = config["train"]["params"]["config"]
    asked = override_keys(overrides)
    for key, value in SKRL_AMP_VALUES.items():
        if f"train.params.config.{key}" not in asked and train.get(key, value) != value:
            print(f"note: skrl's AMP agent has only {key} {value}; the default {train[key]} is replaced by it")
            train[key] = value


def _run(config: dict[str, Any], skrl_amp: Any, runs_dir: str) -> int:
    from isaacgymenvs.learning.amp_config import check_train_params
    from isaacgymenvs.tasks.amp.humanoid_amp_config import ConfigError
    from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP
    from isaacgymenvs.utils.utils import flush_denormals, set_seed

    params = config["train"]["params"]
    num_envs = config["task"]["env"]["numEnvs"]
    _, notes = check_train_params(params, num_envs, training=not config["test"])
    for note in notes:
        print(f"note: {note}")
    if config["test"] and not config["checkpoint"]:
        raise ConfigError("test=True needs checkpoint=<a skrl checkpoint>")
    set_seed(config["seed"], config["torch_deterministic"])
    flush_denormals()
    experiment = config["experiment"] or f"HumanoidAMP_skrl_{datetime.now().strftime('%Y-%m-%d_%H-%M-%S')}"
    task = HumanoidAMP(cfg=config["task"], rl_device=config["rl_device"], sim_device=config["sim_device"])
    env = skrl_amp.HumanoidAMPWrapper(task)
    updates = params["config"]["max_epochs"]
    if config["test"]:
        agent = skrl_amp.build_agent(env, params, runs_dir, experiment, training=False)
        agent.init()
        skrl_amp.load(agent, Path(config["checkpoint"]).expanduser())
        games = params["config"].get("player", {}).get("games_num", 100)
        result = skrl_amp.play(env, agent, episodes=games)
        print(
            f"played {result['episodes']} episodes: mean length {result['mean_episode_length']:.1f} steps, "
            f"fall rate {result['fall_rate']:.2f}"
        )
        return 0
    agent = skrl_amp.build_agent(env, params, runs_dir, experiment, training=True, total_updates=updates)
    print(f"run folder: {Path(runs_dir) / experiment}; filling the demonstration buffer ...", flush=True)
    skrl_amp.train(env, agent, updates)
    checkpoint = Path(runs_dir) / experiment / "checkpoints" / f"{experiment}.pt"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    skrl_amp.save(agent, checkpoint)
    print(f"finished: {updates} updates; checkpoint {checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
