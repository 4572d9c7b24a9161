"""Resuming or playing a checkpoint with the settings of the run that wrote it.

A checkpoint inside a run folder (``runs/<experiment>/nn/<file>.pth``) has the run's resolved config beside it
(``runs/<experiment>/config.yaml``). When training resumes from it, the settings in :data:`RUN_KEYS` (motion file,
environment count, network sizes, AMP window, constant-feature mask) are taken from there unless the command line sets
them; when it is played (``test=True``), those a player needs (not the environment count, which is the player's own, nor
the mask, which only training uses). A command-line value that differs from the run's is used, with one note saying so.

A resumed run writes into its own run folder and keeps its checkpoint names, so epoch numbers and files continue; but
if that folder already holds a newer checkpoint than the one resumed from, the run goes to a new folder
(``<experiment>_from<epoch>``) so that nothing newer is ever replaced by something older.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from isaacgymenvs.learning.checkpoints import checkpoint_epoch, newest_checkpoint
from isaacgymenvs.utils.overrides import override_keys


@dataclass(frozen=True)
class RunKey:
    """A setting that identifies a run: where it sits in the config, how the command line sets it, how to say it."""

    path: str
    """Dotted key in the composed config."""
    overrides: tuple[str, ...]
    """Command-line keys that set it."""
    label: str
    """Its name in notes."""
    when_playing: bool
    """Whether a played checkpoint takes it from its run too."""


RUN_KEYS = (
    RunKey("task.env.motion_file", ("task.env.motion_file",), "motion file", when_playing=True),
    RunKey("task.env.numEnvs", ("num_envs", "task.env.numEnvs"), "environments", when_playing=False),
    RunKey("train.params.network.mlp.units", ("train.params.network.mlp.units",), "policy units", when_playing=True),
    RunKey("train.params.network.disc.units", ("train.params.network.disc.units",), "disc units", when_playing=True),
    # The window sets the discriminator's input size, and its default differs between CPU and CUDA machines.
    RunKey("task.env.numAMPObsSteps", ("task.env.numAMPObsSteps",), "AMP steps", when_playing=True),
    RunKey(
        "train.params.config.amp_mask_constant_features",
        ("train.params.config.amp_mask_constant_features",),
        "constant AMP features masked",
        when_playing=False,
    ),
)


def run_folder(checkpoint: str | Path) -> Path | None:
    """The run folder a checkpoint belongs to (``.../<experiment>`` for ``.../<experiment>/nn/<file>``), or None."""
    path = Path(checkpoint).expanduser().resolve()
    return path.parent.parent if path.parent.name == "nn" else None


def saved_run_config(checkpoint: str | Path) -> dict[str, Any] | None:
    """The resolved config saved beside a checkpoint's run (None when there is none or it cannot be read)."""
    folder = run_folder(checkpoint)
    if folder is None or not (folder / "config.yaml").is_file():
        return None
    try:
        saved = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, RecursionError):  # a hostile, deeply nested file is no config either
        return None
    return saved if isinstance(saved, dict) else None


def _lookup(config: dict[str, Any], path: str) -> Any:
    node: Any = config
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def apply_saved_config(cfg: DictConfig, overrides: list[str], saved: dict[str, Any], playing: bool) -> list[str]:
    """Set ``cfg``'s run settings (:data:`RUN_KEYS`) to the saved run's where the command line does not set them;
    one note line on what was taken and one per command-line value that differs from the run's."""
    given = override_keys(overrides)
    taken, notes = [], []
    for key in RUN_KEYS:
        if playing and not key.when_playing:
            continue
        saved_value = _lookup(saved, key.path)
        if saved_value is None:
            continue
        current = _plain(OmegaConf.select(cfg, key.path))
        if any(name in given for name in key.overrides):
            if current != saved_value:
                notes.append(f"{key.label}: {current} from the command line (the run used {saved_value})")
            continue
        if current != saved_value:
            OmegaConf.update(cfg, key.path, saved_value, merge=False)
        taken.append(f"{key.label} {saved_value}")
    if taken:
        notes.insert(0, "from the run's config.yaml: " + ", ".join(taken))
    return notes


@dataclass(frozen=True)
class ResumeTarget:
    """Where a resumed training run writes: its run folder's name and its checkpoints' file name."""

    experiment: str
    checkpoint_name: str
    note: str | None


def resume_target(checkpoint: str, experiment: str, runs_dir: str | Path) -> ResumeTarget | None:
    """The run folder and checkpoint name of a run resumed from ``checkpoint`` (None: not a run folder's checkpoint
    and no ``experiment`` given, so the run is named as a new one).

    Args:
        checkpoint: the checkpoint resumed from.
        experiment: ``experiment=`` from the command line ('' when not given: the checkpoint's run folder).
        runs_dir: the folder that holds run folders.
    """
    folder = run_folder(checkpoint)
    saved = saved_run_config(checkpoint)
    name = experiment or (folder.name if folder is not None else "")
    if not name:
        return None
    checkpoint_name = name
    if not experiment and saved is not None:
        checkpoint_name = _lookup(saved, "train.params.config.name") or name
    epoch = checkpoint_epoch(checkpoint)
    newest = newest_checkpoint(Path(runs_dir) / name / "nn")
    if newest is None or newest[0] <= epoch:
        return ResumeTarget(name, checkpoint_name, None)
    branch = f"{name}_from{epoch}"
    suffix = 2
    while (Path(runs_dir) / branch).exists():
        branch, suffix = f"{name}_from{epoch}_{suffix}", suffix + 1
    note = (
        f"{Path(runs_dir) / name} holds a newer checkpoint ({newest[1].name}, epoch {newest[0]}) than epoch {epoch}: "
        f"this run writes to {Path(runs_dir) / branch} instead, so that nothing newer is replaced"
    )
    return ResumeTarget(branch, checkpoint_name, note)
