"""``python launch.py --help``: the usage, then the keys a newcomer needs with the values they resolve to on this
machine (with the command line's other overrides applied)."""

from __future__ import annotations

from isaacgymenvs.launcher import CONFIG_GROUP_DEFAULTS, USAGE, compose
from isaacgymenvs.utils.overrides import override_keys

# The keys a newcomer needs, in `--help` with the values they resolve to on this machine (README has the same table).
HELP_KEYS = (
    ("task", None, "HumanoidAMP or HumanoidAMPHands (cfg/task/)"),
    ("train", None, "HumanoidAMPPPO; HumanoidAMPPPOLowGP for flips; HumanoidAMPPPOOriginal: the original's values"),
    ("num_envs", "task.env.numEnvs", "environments (4096 with CUDA, 512 on a CPU)"),
    ("max_iterations", "train.params.config.max_epochs", "epochs to train"),
    ("experiment", "experiment", "run folder name under runs/ ('' = <name>_<date_time>, or the checkpoint's run)"),
    ("task.env.motion_file", "task.env.motion_file", "motion clip: a file, a .yaml list or a built-in clip name"),
    ("test", "test", "play the checkpoint instead of training"),
    ("checkpoint", "checkpoint", "checkpoint to play, or to resume training from"),
    ("seed", "seed", "random seed (-1: random)"),
    ("num_threads", "num_threads", "CPU threads for the simulation and for torch (0: every core)"),
    ("rl_device", "rl_device", "the learner's device"),
    ("capture_video", "capture_video", "write mp4 videos into the run folder"),
    ("train.params.config.save_frequency", "train.params.config.save_frequency", "epochs between checkpoints"),
    (
        "train.params.config.save_interval_minutes",
        "train.params.config.save_interval_minutes",
        "minutes between saves of <name>_last.pth",
    ),
    ("train.params.config.reward_combine", "train.params.config.reward_combine", "add (original) or mul"),
    ("train.params.config.disc_reward_type", "train.params.config.disc_reward_type", "log (original) or least_squares"),
)


def help_text(overrides: list[str] | None = None) -> str:
    """``--help``: usage, then the main keys with the values they resolve to here, with the command line's other
    ``overrides`` applied (the plain defaults when those do not compose)."""
    from omegaconf import OmegaConf

    overrides = overrides or []
    try:
        cfg = compose(overrides)
    except Exception:  # a bad override: its own error comes when the command runs without --help
        cfg, overrides = compose([]), []
    groups = {**CONFIG_GROUP_DEFAULTS, **{k: v for k, v in override_keys(overrides).items() if k in ("task", "train")}}
    rows = []
    for key, path, meaning in HELP_KEYS:
        value = groups[key] if path is None else OmegaConf.select(cfg, path)
        value = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
        rows.append(f"  {key + '=' + str(value):<48} {meaning}")
    return (
        "usage: python launch.py [key=value ...]   (Hydra overrides; the original IsaacGymEnvs keys)\n\n"
        + USAGE
        + "\n\nmain keys, with their values here:\n"
        + "\n".join(rows)
        + "\n\nEvery key: cfg/config.yaml, cfg/task/*.yaml, cfg/train/*.yaml (docs/training.md explains them)."
    )
