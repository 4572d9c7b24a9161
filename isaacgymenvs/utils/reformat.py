"""Config helpers: OmegaConf to plain containers, and printing a config tree."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf


def omegaconf_to_dict(config: DictConfig | dict) -> dict[str, Any]:
    """A resolved plain ``dict`` (lists as lists) of ``config``."""
    if isinstance(config, dict):
        return config
    return OmegaConf.to_container(config, resolve=True)


def print_dict(values: dict[str, Any], nesting: int = -4, start: bool = True) -> None:
    """Print a nested dict as an indented tree."""
    if isinstance(values, dict):
        if not start:
            print()
        nesting += 4
        for key in values:
            print(nesting * " ", end="")
            print(key, end=": ")
            print_dict(values[key], nesting, start=False)
    else:
        print(values)
