"""The options of our AMP learner that skrl's AMP agent can only follow at one value.

This module imports neither skrl nor torch: the learner comparison (``bench learners``) and the skrl example read it
before they choose what to run, and the adapter (:mod:`isaacgymenvs.learning.skrl_amp`) refuses anything else.
"""

from __future__ import annotations

SKRL_AMP_VALUES: dict[str, object] = {
    "disc_reward_type": "log",  # skrl's discriminator is the logistic one
    "reward_combine": "add",  # task and style rewards added
    "amp_mask_constant_features": False,  # skrl feeds every AMP feature to its discriminator
    "amp_warmup_steps": 0,  # and the whole window from the start
}
"""``train.params.config`` keys, each with the only value skrl's AMP agent has."""


def skrl_overrides() -> list[str]:
    """Command-line overrides that set every key of :data:`SKRL_AMP_VALUES` to skrl's value."""
    return [f"train.params.config.{key}={value}" for key, value in SKRL_AMP_VALUES.items()]
