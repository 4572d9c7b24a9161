"""``python -m isaacgymenvs.eval [checkpoint=...] [key=value ...] [--episodes N] [--json F] [--markdown F]
[--feature-gaps]``.

Evaluates a checkpoint's policy (deterministic actions) on the task and motion of the config (the launcher's keys:
``task=``, ``task.env.motion_file=``, ``num_envs=`` (default 32 here), ``seed=``), next to the baselines -- the
reference resampled, a zero-action policy, a uniform-random policy -- and prints a markdown table; ``--json`` and
``--markdown`` also write the results to files. Without ``checkpoint=`` only the baselines are evaluated.
``--feature-gaps`` also prints the policy's AMP features farthest from the clip's
(:mod:`isaacgymenvs.eval.feature_gaps`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

DEFAULT_ENVS = 32


def _policy_from_checkpoint(config: dict[str, Any], task: Any, checkpoint: str) -> Any:
    """The checkpoint's deterministic policy, built by rl_games' player machinery around ``task``."""
    from rl_games.torch_runner import Runner

    from isaacgymenvs.learning.registry import register_amp
    from isaacgymenvs.utils.rlgames_utils import register_rlgpu_env

    register_rlgpu_env(lambda **_: task)
    params = config["train"]["params"]
    params["config"].update(
        device=config["rl_device"],
        device_name=config["rl_device"],
        torch_compile=False,
        num_actors=task.num_envs,
        multi_gpu=False,
    )
    runner = Runner()
    register_amp(runner)
    runner.load({"params": params})
    player = runner.create_player()
    player.restore(checkpoint)
    player.has_batch_dimension = True

    def act(obs: torch.Tensor) -> torch.Tensor:
        return player.get_action(obs.to(player.device), is_deterministic=True)

    return act


def main(argv: list[str] | None = None) -> int:
    from isaacgymenvs.eval.evaluate import evaluate, markdown_table
    from isaacgymenvs.eval.feature_gaps import gaps_table
    from isaacgymenvs.launcher import UsageError, _resolve, compose
    from isaacgymenvs.learning.checkpoints import CheckpointError, load_checkpoint
    from isaacgymenvs.motion.motion import MotionFileError
    from isaacgymenvs.tasks.amp.humanoid_amp_config import ConfigError
    from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP
    from isaacgymenvs.utils.utils import set_seed

    arguments = list(sys.argv[1:] if argv is None else argv)
    overrides = [a for a in arguments if "=" in a and not a.startswith("-")]
    parser = argparse.ArgumentParser(prog="python -m isaacgymenvs.eval", description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=32, help="episodes per subject")
    parser.add_argument("--json", help="also write the results as JSON here")
    parser.add_argument("--markdown", help="also write the table here")
    parser.add_argument("--no-baselines", action="store_true", help="evaluate only the checkpoint")
    parser.add_argument(
        "--feature-gaps", action="store_true", help="also print the AMP features farthest from the clip's (checkpoint=)"
    )
    options = parser.parse_args([a for a in arguments if a not in overrides])
    if not any(o.split("=")[0].lstrip("+") == "num_envs" for o in overrides):
        overrides.append(f"num_envs={DEFAULT_ENVS}")
    try:
        if options.episodes < 1:
            raise ConfigError(f"--episodes must be at least 1, got {options.episodes}")
        config = _resolve(compose([*overrides, "test=True"]))
        seed = set_seed(config["seed"], config["torch_deterministic"])
        task = HumanoidAMP(cfg=config["task"], rl_device=config["rl_device"], sim_device=config["sim_device"])
        policies = {}
        if config["checkpoint"]:
            checkpoint = str(Path(config["checkpoint"]).expanduser().resolve())
            load_checkpoint(checkpoint)
            policies["policy"] = _policy_from_checkpoint(config, task, checkpoint)
        elif options.no_baselines or options.feature_gaps:
            raise ConfigError(f"{'--no-baselines' if options.no_baselines else '--feature-gaps'} needs checkpoint=")
        if not options.no_baselines:
            policies["zero action"] = lambda obs: torch.zeros(obs.shape[0], task.num_actions, device=obs.device)
            policies["random"] = lambda obs: torch.rand(obs.shape[0], task.num_actions, device=obs.device) * 2 - 1
        results = evaluate(task, policies, options.episodes, seed)
        if options.no_baselines:
            results = {"policy": results["policy"]}
    except (UsageError, ConfigError, MotionFileError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    table = markdown_table(results)
    print(table)
    if options.feature_gaps and "policy" in results:
        print("\nThe policy's AMP features farthest from the clip's (per feature, in pooled standard deviations):")
        print(gaps_table(results["policy"]["feature_gaps"]))
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2))
    if options.markdown:
        Path(options.markdown).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
