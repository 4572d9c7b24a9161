"""Checkpoint files: atomic writing, one-line errors on reading, the file layout of a run and its retention rule.

A training run's ``nn/`` folder holds (``<name>`` is the experiment's name):

* ``<name>_<epoch>.pth`` every ``save_frequency`` epochs: the networks, normalisers, optimiser and counters, without the
  AMP replay buffer (a few MB on the CPU sizes instead of ~175 MB). The newest ``keep_checkpoints`` are kept, and every
  one whose epoch is a multiple of ``keep_checkpoints_every``; older ones are deleted.
* ``<name>_last.pth``: the full state (replay buffer included when it is small enough), replaced at every save: every
  ``save_frequency`` epochs, every ``save_interval_minutes`` of wall time (so that a slow machine has one within
  minutes), and when the run is stopped with Ctrl-C or SIGTERM.
* ``<name>.pth``: the full state at the end of the run; it supersedes ``<name>_last.pth``, which is then removed.

Every file is written to a temporary name and moved into place, so a run killed while saving leaves the previous file.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from isaacgymenvs.utils.files import atomic_write

LAST_SUFFIX = "_last"


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or made for another task; the message says which."""


@dataclass(kw_only=True)
class CheckpointPolicy:
    """When checkpoints are written and which are kept (keys of ``train.params.config``)."""

    save_frequency: int = 50
    """Epochs between numbered checkpoints (0: none, only ``_last`` on time and the final one)."""
    save_interval_minutes: float = 3.0
    """Wall-clock minutes after which ``<name>_last.pth`` is written even if no numbered save came (0: never)."""
    keep_checkpoints: int = 3
    """The newest this many numbered checkpoints are kept (0: keep all)."""
    keep_checkpoints_every: int = 500
    """Numbered checkpoints whose epoch is a multiple of this are kept as well (0: none)."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CheckpointPolicy:
        """The policy in ``train.params.config`` (defaults for missing keys; checked by ``check_train_params``)."""
        defaults = cls()
        return cls(
            save_frequency=int(config.get("save_frequency", defaults.save_frequency)),
            save_interval_minutes=float(config.get("save_interval_minutes", defaults.save_interval_minutes)),
            keep_checkpoints=int(config.get("keep_checkpoints", defaults.keep_checkpoints)),
            keep_checkpoints_every=int(config.get("keep_checkpoints_every", defaults.keep_checkpoints_every)),
        )


def atomic_torch_save(state: dict[str, Any], path: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then move it into place (never a truncated file)."""
    with atomic_write(path) as stream:
        torch.save(state, stream)


def read_checkpoint_file(path: str | Path, mmap: bool = False) -> Any:
    """The tensors and containers saved at ``path`` (loaded without running code), or :class:`CheckpointError`
    naming the file and the problem. ``mmap`` maps tensors lazily (cheap when only counters are read)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist" + (" as a file" if path.exists() else ""))
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} cannot be read: the file is empty (0 bytes)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as error:  # any unreadable file gets the same one-line answer
        raise CheckpointError(f"checkpoint {path} {_unreadable(error)}") from None


def _unreadable(error: Exception) -> str:
    """Why torch could not load a checkpoint, in words for its user: what a refused file tried to load (never
    torch's advice to load it unsafely), or that the file is truncated or not a checkpoint."""
    text = str(error)
    refused = re.search(r"GLOBAL ([\w.]+)", text)
    if refused:
        return f"refused to load: it names {refused.group(1)}, which a checkpoint never needs"
    if isinstance(error, pickle.UnpicklingError):
        detail = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", text)
        reason = f": {detail.group(1)[:200]}" if detail else f" ({text.splitlines()[0][:200]})" if text else ""
        return f"cannot be read: it is corrupt or not a checkpoint{reason}"
    if isinstance(error, EOFError) or "central directory" in text or "failed reading" in text:
        return "cannot be read: it is truncated or corrupt (not a complete torch checkpoint)"
    first_line = text.splitlines()[0][:200] if text else ""
    return f"cannot be read: it is not a torch checkpoint ({type(error).__name__}: {first_line})"


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """An rl_games AMP checkpoint's contents, or :class:`CheckpointError` naming the file and the problem."""
    state = read_checkpoint_file(path)
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"checkpoint {path} is not an AMP checkpoint (no 'model' entry)")
    problem = _damage(state)
    if problem is not None:
        raise CheckpointError(f"checkpoint {path} is damaged: {problem}")
    state["model"] = {key.removeprefix("_orig_mod."): value for key, value in state["model"].items()}
    return state


def _damage(state: dict[str, Any]) -> str | None:
    """What in a loaded checkpoint is not what this learner writes (entries of the wrong kind, NaN weights, negative
    counters), or None; caught here, such a file would otherwise fail with a traceback somewhere in restoring."""
    for key in ("model", "amp_input_mean_std"):
        tensors = state.get(key, {})
        if not isinstance(tensors, dict) or not all(
            isinstance(name, str) and isinstance(value, torch.Tensor) for name, value in tensors.items()
        ):
            return f"'{key}' is not a set of named tensors"
        for name, value in tensors.items():
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                return f"{key} {name} holds NaN or inf (saved from a diverged run?)"
    if "amp_input_mean_std" in state and set(state["amp_input_mean_std"]) != {"running_mean", "running_var", "count"}:
        return "'amp_input_mean_std' is not a running mean and variance"
    for key in ("epoch", "frame"):
        value = state.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"'{key}' must be a count >= 0, found {str(value)[:40]!r}"
    optimizer = state.get("optimizer", {"state": {}, "param_groups": []})
    if not isinstance(optimizer, dict) or not {"state", "param_groups"} <= set(optimizer):
        return "'optimizer' is not an optimiser's state"
    replay = state.get("amp_replay_buffer", {"head": 0, "total_count": 0, "buffers": {}})
    if (
        not isinstance(replay, dict)
        or not {"head", "total_count", "buffers"} <= set(replay)
        or not isinstance(replay["buffers"], dict)
        or not all(isinstance(value, torch.Tensor) for value in replay["buffers"].values())
    ):
        return "'amp_replay_buffer' is not a replay buffer's state"
    return None


def checkpoint_epoch(path: str | Path) -> int:
    """The epoch a checkpoint was written at (its ``epoch`` entry; -1 when it has none)."""
    state = read_checkpoint_file(path, mmap=True)
    return int(state.get("epoch", -1)) if isinstance(state, dict) else -1


def numbered_checkpoints(nn_dir: str | Path, name: str) -> dict[int, Path]:
    """The numbered checkpoints ``<name>_<epoch>.pth`` in ``nn_dir``, by epoch."""
    pattern = re.compile(rf"^{re.escape(name)}_(\d+)\.pth$")
    found = {}
    for path in Path(nn_dir).glob(f"{name}_*.pth"):
        match = pattern.match(path.name)
        if match:
            found[int(match.group(1))] = path
    return found


def newest_checkpoint(nn_dir: str | Path) -> tuple[int, Path] | None:
    """The epoch and path of the newest checkpoint of any name in ``nn_dir`` (None when it holds none)."""
    newest: tuple[int, Path] | None = None
    for path in sorted(Path(nn_dir).glob("*.pth")):
        try:
            epoch = checkpoint_epoch(path)
        except CheckpointError:
            continue  # an unreadable file is nothing a resume could be compared with
        if newest is None or epoch > newest[0]:
            newest = (epoch, path)
    return newest


def checkpoints_to_delete(epochs: Iterable[int], keep_last: int, keep_every: int) -> list[int]:
    """The numbered checkpoints' epochs the retention rule removes: all but the newest ``keep_last`` (0: keep all)
    and those whose epoch is a multiple of ``keep_every`` (0: none kept that way)."""
    ordered = sorted(epochs)
    if keep_last <= 0:
        return []
    newest = set(ordered[-keep_last:])
    return [epoch for epoch in ordered if epoch not in newest and not (keep_every > 0 and epoch % keep_every == 0)]


def check_checkpoint_fits(state: dict[str, Any], model: torch.nn.Module, path: str | Path) -> None:
    """Raise :class:`CheckpointError` if the checkpoint's tensors do not fit ``model`` (other observation or action
    sizes, other network sizes)."""
    expected = model.state_dict()
    saved = state["model"]
    missing = sorted(set(expected) - set(saved))
    if missing:
        raise CheckpointError(
            f"checkpoint {path} lacks {len(missing)} model tensors (e.g. {missing[0]}); "
            "it was not written by this AMP learner"
        )
    for key, tensor in expected.items():
        if tuple(saved[key].shape) != tuple(tensor.shape):
            what = {"running_mean_std.running_mean": "observations", "a2c_network.mu.weight": "actions"}
            hint = f" ({what[key]} of size {saved[key].shape[0]} vs {tensor.shape[0]})" if key in what else ""
            raise CheckpointError(
                f"checkpoint {path} was trained for other sizes: {key} is "
                f"{tuple(saved[key].shape)}, this task and network need {tuple(tensor.shape)}{hint}"
            )
