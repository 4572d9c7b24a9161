"""The train config (``cfg/train/*.yaml``, ``params``) checked once, and its AMP keys as one typed structure.

rl_games reads its own keys from the config dict; :func:`check_train_params` checks them (types, ranges, batch
arithmetic) first so that a bad override fails with one line naming the key. :class:`AMPConfig` carries the keys the
AMP plugin adds, with the original's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from isaacgymenvs.learning.amp_losses import DiscRewardType, RewardCombine
from isaacgymenvs.tasks.amp.humanoid_amp_config import ConfigError


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
                values[field.name] = _integer(value, key, minimum=1)
            elif field.type in ("bool",):
                if not isinstance(value, bool):
                    raise ConfigError(f"{key} must be true or false, got {value!r}")
                values[field.name] = value
            else:
                values[field.name] = _number(value, key, minimum=0.0)
        amp = cls(**values)
        if amp.amp_replay_keep_prob > 1.0:
            raise ConfigError(
                f"train.params.config.amp_replay_keep_prob must be in [0, 1], got {amp.amp_replay_keep_prob}"
            )
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


def _number(value: Any, key: str, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or (minimum is not None and value < minimum):
        bound = f" >= {minimum:g}" if minimum is not None else ""
        raise ConfigError(f"{key} must be a number{bound}, got {value!r}")
    return float(value)


def check_train_params(params: Mapping[str, Any], num_envs: int, training: bool = True) -> tuple[AMPConfig, list[str]]:
    """Check ``train.params`` for a run with ``num_envs`` environments; return its AMP part and notes on what was
    adjusted. The batch arithmetic is only checked for ``training`` (a player does not batch).

    A batch (``horizon_length x num_envs``) smaller than ``minibatch_size`` shrinks the minibatch to the batch, and a
    discriminator minibatch larger than the policy's shrinks to it (small test runs then need only ``num_envs=``);
    ``params`` is then updated in place, each change described by a note.

    Raises:
        ConfigError: a value of the wrong type or range, or sizes that do not divide (one line, naming the key).
    """
    config = params.get("config", {})
    prefix = "train.params.config"
    for key in ("horizon_length", "minibatch_size", "mini_epochs"):
        _integer(config.get(key), f"{prefix}.{key}", minimum=1)
    for key in ("save_frequency", "keep_checkpoints", "keep_checkpoints_every"):
        _integer(config.get(key, 0), f"{prefix}.{key}", minimum=0)
    _number(config.get("save_interval_minutes", 0), f"{prefix}.save_interval_minutes", minimum=0.0)
    max_epochs = config.get("max_epochs", -1)
    if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or (max_epochs < 1 and max_epochs != -1):
        raise ConfigError(f"{prefix}.max_epochs (max_iterations=) must be a positive integer, got {max_epochs!r}")
    for key in ("learning_rate", "gamma", "tau", "e_clip", "critic_coef", "entropy_coef"):
        _number(config.get(key), f"{prefix}.{key}", minimum=0.0)
    seed = params.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    amp = AMPConfig.from_config(config)
    if not training:
        return amp, []
    notes = []
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
