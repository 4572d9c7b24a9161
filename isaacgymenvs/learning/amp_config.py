"""The train config (``cfg/train/*.yaml``, ``params``) checked once, and its AMP keys as one typed structure.

rl_games reads its own keys from the config dict; :func:`check_train_params` checks them (types, finite values in
range, batch arithmetic, buffers that fit in memory) first so that a bad override fails with one line naming the key.
:class:`AMPConfig` carries the keys the AMP plugin adds, with the original's defaults.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from isaacgymenvs.learning.amp_losses import DiscRewardType, RewardCombine
from isaacgymenvs.learning.precision import MIXED_PRECISION_ERROR, is_mixed_precision_value
from isaacgymenvs.tasks.amp.humanoid_amp_base import NUM_ACTIONS, NUM_OBS
from isaacgymenvs.tasks.amp.humanoid_amp_config import ConfigError
from isaacgymenvs.utils.memory import machine_memory_bytes


@dataclass(kw_only=True)
class AMPConfig:
    """AMP keys of ``train.params.config`` (defaults: the original's HumanoidAMPPPO)."""

    task_reward_w: float = 0.0
    """Weight of the task reward (HumanoidAMP's is 1 per step)."""
    disc_reward_w: float = 1.0
    """Weight of the discriminator (style) reward."""
    reward_combine: RewardCombine = RewardCombine.add
    """``add``: w_task r_task + w_disc r_disc (the original); ``mul``: their product."""
    disc_reward_type: DiscRewardType = DiscRewardType.log
    """``log``: BCE discriminator, reward -log(1 - D) (the original); ``least_squares``: the AMP paper's."""
    amp_obs_demo_buffer_size: int = 200000
    """Demonstration samples kept (refreshed by ``amp_batch_size`` per epoch)."""
    amp_replay_buffer_size: int = 1000000
    """Agent AMP observations kept for the discriminator's negatives."""
    amp_replay_keep_prob: float = 0.01
    """Once the replay buffer is full, each new sample is stored with this probability."""
    amp_batch_size: int = 512
    """New demonstration samples per epoch."""
    amp_minibatch_size: int = 4096
    """Agent, replay and demo samples per discriminator update (each); at most ``minibatch_size``."""
    disc_coef: float = 5.0
    """Weight of the discriminator loss in the shared loss."""
    disc_logit_reg: float = 0.05
    """Weight of the logit layer's weight squares."""
    disc_grad_penalty: float = 5.0
    """Weight of the gradient penalty on demonstrations (0.2 in the LowGP config)."""
    disc_reward_scale: float = 2.0
    """Multiplies the discriminator reward."""
    disc_weight_decay: float = 0.0001
    """Weight of all discriminator weight squares."""
    normalize_amp_input: bool = True
    """Normalise the discriminator's input with running statistics."""
    amp_mask_constant_features: bool = False
    """Beyond the original: AMP features that are constant over every demonstration in the initial demo buffer (the
    DeepMimic clips' neck never moves) are set to that constant in every discriminator input, so that they cannot
    tell the agent from the clip (docs/time_to_skill.md)."""
    amp_warmup_steps: int = 0
    """Beyond the original: until the policy stays up (its training episodes average ``amp_warmup_episode_length``
    steps), the discriminator sees only the newest this-many control steps of its window
    (``task.env.numAMPObsSteps``); the older steps' normalised features are zero. 0: the whole window from the start. A
    long window sees the gait's cadence but slows learning to stand; this keeps standing as quick as a short window's
    (docs/time_to_skill.md)."""
    amp_warmup_episode_length: float = 100.0
    """Mean length (control steps) of the training episodes that end, at which the whole window opens for good."""
    checkpoint_replay_max_mb: float = 256.0
    """Save the replay buffer's contents in checkpoints when it is at most this large (MB); else only its counters."""
    metrics_interval: int = 10
    """Every this many epochs, log convergence metrics (``metrics/``): the Fréchet distance between the epoch's agent
    and demonstration AMP features, and the fall rate of the episodes that ended."""
    metrics_samples: int = 4096
    """Samples of each side used for the Fréchet distance."""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AMPConfig:
        """Read the AMP keys of ``train.params.config``, checking types and ranges."""
        values: dict[str, Any] = {}
        for field in fields(cls):
            if field.name not in config:
                continue
            value = config[field.name]
            key = f"train.params.config.{field.name}"
            if field.name == "reward_combine":
                values[field.name] = _choice(RewardCombine, value, key)
            elif field.name == "disc_reward_type":
                values[field.name] = _choice(DiscRewardType, value, key)
            elif field.type in ("int",):
                values[field.name] = _integer(value, key, minimum=0 if field.name == "amp_warmup_steps" else 1)
            elif field.type in ("bool",):
                values[field.name] = _boolean(value, key)
            elif field.name == "amp_replay_keep_prob":
                values[field.name] = _number(value, key, minimum=0.0, maximum=1.0)
            elif field.name == "amp_warmup_episode_length":
                values[field.name] = _number(value, key, minimum=0.0, positive=True)
            else:
                values[field.name] = _number(value, key, minimum=0.0)
        amp = cls(**values)
        if amp.reward_combine is RewardCombine.mul and (amp.task_reward_w == 0 or amp.disc_reward_w == 0):
            raise ConfigError(
                "reward_combine: mul with task_reward_w or disc_reward_w 0 makes every reward 0; "
                "set both weights, e.g. task_reward_w=1 disc_reward_w=1"
            )
        return amp


def _choice(kind: type, value: Any, key: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ConfigError(f"{key} must be one of {[member.value for member in kind]}, got {value!r}") from None


def _integer(value: Any, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {value!r}")
    return value


def _number(
    value: Any, key: str, minimum: float | None = None, maximum: float | None = None, positive: bool = False
) -> float:
    """A finite number in range (``positive``: above ``minimum``, not equal to it); else :class:`ConfigError`."""
    ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    if ok and minimum is not None:
        ok = value > minimum if positive else value >= minimum
    if ok and maximum is not None:
        ok = value <= maximum
    if not ok:
        if minimum is not None and maximum is not None:
            bound = f" in [{minimum:g}, {maximum:g}]"
        elif minimum is not None:
            bound = f" {'>' if positive else '>='} {minimum:g}"
        else:
            bound = ""
        raise ConfigError(f"{key} must be a finite number{bound}, got {value!r}")
    return float(value)


def _boolean(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    return value


# Keys of train.params.config checked for range: (minimum, maximum, minimum excluded). rl_games reads them as given.
_RANGES: dict[str, tuple[float, float | None, bool]] = {
    "gamma": (0.0, 1.0, False),  # a discount: above 1 the returns grow without bound
    "tau": (0.0, 1.0, False),  # GAE's lambda
    "learning_rate": (0.0, None, True),
    "e_clip": (0.0, None, True),  # PPO's clip range; 0 would stop every update
    "critic_coef": (0.0, None, False),
    "entropy_coef": (0.0, None, False),
}
# Optional keys of train.params.config, checked when present.
_OPTIONAL_RANGES: dict[str, tuple[float, float | None, bool]] = {
    "kl_threshold": (0.0, None, True),
    "grad_norm": (0.0, None, True),
    "bounds_loss_coef": (0.0, None, False),
}
_BOOLEANS = (
    "normalize_input",
    "normalize_value",
    "normalize_advantage",
    "value_bootstrap",
    "truncate_grads",
    "print_stats",
)
_LR_SCHEDULES = ("constant", "adaptive", "linear")


def check_train_params(
    params: Mapping[str, Any], num_envs: int, training: bool = True, amp_obs_steps: int = 2
) -> tuple[AMPConfig, list[str]]:
    """Check ``train.params`` for a run with ``num_envs`` environments; return its AMP part and notes on what was
    adjusted or is worth knowing. The batch arithmetic is only checked for ``training`` (a player does not batch).

    A batch (``horizon_length x num_envs``) smaller than ``minibatch_size`` shrinks the minibatch to the batch, and a
    discriminator minibatch larger than the policy's shrinks to it (small test runs then need only ``num_envs=``);
    ``params`` is then updated in place, each change described by a note. ``max_epochs`` -1 (``max_iterations=-1``)
    means no epoch limit: the run trains until it is stopped (a note says so). Buffers that could not fit in this
    machine's memory (:func:`check_memory`, with AMP observations of ``amp_obs_steps`` steps) are refused.

    Raises:
        ConfigError: a value of the wrong type or range, or sizes that do not divide or fit (one line, naming the key).
    """
    config = params.get("config", {})
    prefix = "train.params.config"
    notes = []
    for key in ("horizon_length", "minibatch_size", "mini_epochs"):
        _integer(config.get(key), f"{prefix}.{key}", minimum=1)
    for key in ("save_frequency", "keep_checkpoints", "keep_checkpoints_every"):
        _integer(config.get(key, 0), f"{prefix}.{key}", minimum=0)
    _number(config.get("save_interval_minutes", 0), f"{prefix}.save_interval_minutes", minimum=0.0)
    for key, alias in (("max_epochs", " (max_iterations=)"), ("max_frames", "")):
        limit = config.get(key, -1)
        if isinstance(limit, bool) or not isinstance(limit, int) or (limit < 1 and limit != -1):
            raise ConfigError(f"{prefix}.{key}{alias} must be a positive integer, or -1 for no limit; got {limit!r}")
    if training and config.get("max_epochs", -1) == -1 and config.get("max_frames", -1) == -1:
        notes.append("max_iterations=-1: no epoch limit; training runs until stopped (Ctrl-C saves a checkpoint)")
    for key, (minimum, maximum, positive) in _RANGES.items():
        _number(config.get(key), f"{prefix}.{key}", minimum=minimum, maximum=maximum, positive=positive)
    for key, (minimum, maximum, positive) in _OPTIONAL_RANGES.items():
        if config.get(key) is not None:
            _number(config[key], f"{prefix}.{key}", minimum=minimum, maximum=maximum, positive=positive)
    for key in _BOOLEANS:
        if key in config:
            _boolean(config[key], f"{prefix}.{key}")
    mixed_precision = config.get("mixed_precision", False)
    if not is_mixed_precision_value(mixed_precision):
        raise ConfigError(f"{prefix}.{MIXED_PRECISION_ERROR}, got {mixed_precision!r}")
    player = config.get("player", {})
    if not isinstance(player, Mapping):
        raise ConfigError(f"{prefix}.player must be a mapping of keys, got {player!r}")
    if "games_num" in player:
        _integer(player["games_num"], f"{prefix}.player.games_num", minimum=1)
    for key in ("deterministic", "print_stats"):
        if key in player:
            _boolean(player[key], f"{prefix}.player.{key}")
    schedule = config.get("lr_schedule")
    if schedule is not None and schedule not in _LR_SCHEDULES:
        raise ConfigError(f"{prefix}.lr_schedule must be one of {list(_LR_SCHEDULES)}, got {schedule!r}")
    seed = params.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    network = params.get("network", {})
    for part in ("mlp", "disc"):
        units = network.get(part, {}).get("units") if isinstance(network.get(part), Mapping) else None
        if units is not None and (
            not isinstance(units, list | tuple)
            or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in units)
        ):
            raise ConfigError(f"train.params.network.{part}.units must be a list of layer widths >= 1, got {units!r}")
    amp = AMPConfig.from_config(config)
    check_memory(config, amp, num_envs, amp_obs_steps, training, network)
    if not training:
        return amp, notes
    batch = config["horizon_length"] * num_envs
    if batch < config["minibatch_size"]:
        notes.append(
            f"minibatch_size {config['minibatch_size']} -> {batch}: the batch is only horizon_length x num_envs "
            f"= {config['horizon_length']} x {num_envs}"
        )
        config["minibatch_size"] = batch
    if batch % config["minibatch_size"] != 0:
        raise ConfigError(
            f"{prefix}.minibatch_size ({config['minibatch_size']}) must divide horizon_length x num_envs "
            f"({config['horizon_length']} x {num_envs} = {batch})"
        )
    if amp.amp_minibatch_size > config["minibatch_size"]:
        notes.append(
            f"amp_minibatch_size {amp.amp_minibatch_size} -> {config['minibatch_size']}: at most the policy's minibatch"
        )
        config["amp_minibatch_size"] = config["minibatch_size"]
        amp = AMPConfig.from_config(config)
    return amp, notes


# Bytes each environment's simulation takes (MuJoCo's data and the task's tensors; measured: ~9 KB).
SIM_BYTES_PER_ENV = 8 * 1024


def check_memory(
    config: Mapping[str, Any],
    amp: AMPConfig,
    num_envs: int,
    amp_obs_steps: int,
    training: bool,
    network: Mapping[str, Any] | None = None,
) -> None:
    """Refuse sizes whose float32 buffers and network weights alone would exceed this machine's memory (a lower bound
    of what the run allocates: copies, activations and the Python process come on top), naming the largest one's key.
    Without this, an oversized buffer is either a ``MemoryError`` at start or, with memory overcommitted, an
    out-of-memory kill once the buffer fills, hours in.
    """
    amp_obs = amp_obs_steps * NUM_OBS
    parts = {"task.env.numEnvs (num_envs=)": num_envs * SIM_BYTES_PER_ENV}
    # Network weights: the actor and the critic (separate: True) share the mlp sizes, the discriminator has its own;
    # training keeps gradients and Adam's two moments beside each weight.
    copies = 4 if training else 1
    for part, inputs, count in (("mlp", NUM_OBS, 2), ("disc", amp_obs, 1)):
        units = list((network or {}).get(part, {}).get("units") or [])
        widths = [inputs, *units, 1]
        weights = count * sum(a * b + b for a, b in itertools.pairwise(widths))
        parts[f"train.params.network.{part}.units"] = 4 * copies * weights
    if training:
        # Per environment and rollout step: observations and next observations, the AMP observation, actions, means
        # and sigmas, and a handful of scalars (values, rewards, dones, log-probabilities, ...).
        step_floats = 2 * NUM_OBS + amp_obs + 3 * NUM_ACTIONS + 8
        horizon = config["horizon_length"]
        parts["num_envs x train.params.config.horizon_length"] = 4 * step_floats * horizon * num_envs
        parts["train.params.config.amp_replay_buffer_size"] = 4 * amp_obs * amp.amp_replay_buffer_size
        parts["train.params.config.amp_obs_demo_buffer_size"] = 4 * amp_obs * amp.amp_obs_demo_buffer_size
    total = sum(parts.values())
    memory = machine_memory_bytes()
    if total > memory:
        key = max(parts, key=lambda name: parts[name])
        raise ConfigError(
            f"{key} is too large: the buffers and networks need at least {total / 2**30:.1f} GiB "
            f"({parts[key] / 2**30:.1f} GiB for this one), this machine has {memory / 2**30:.1f} GiB (docs/limits.md)"
        )
