"""Reading a Hydra command line's keys without composing it.

Commands that must refuse a bad command line before they import torch or compose a config (the benchmarks, the
launcher's help) need only which keys were set and to what; this module has no heavy imports for that reason.
"""

from __future__ import annotations


def override_keys(overrides: list[str]) -> dict[str, str]:
    """The keys set on a Hydra command line (``+``/``++``/``~`` prefixes dropped) and their raw values.

    ``["++train.params.config.seed=3", "~task.sim"]`` gives ``{"train.params.config.seed": "3"}``: a deletion
    without ``=`` sets nothing.
    """
    keys = {}
    for override in overrides:
        key, separator, value = override.partition("=")
        if separator:
            keys[key.lstrip("+~")] = value
    return keys
