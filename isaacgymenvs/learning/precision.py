"""Mixed precision for the networks: bfloat16 matrix products where the processor has units for them.

rl_games' ``mixed_precision`` key turns on bfloat16 autocast for the model's forward pass in the update, CUDA only. Ours
(:class:`isaacgymenvs.learning.common_agent.CommonAgent`) applies it on either device, to every pass of the networks
(the rollout's actions and values, the discriminator's rewards, the update), so that the rollout's log-probabilities
and the update's first ones come from the same arithmetic. The environment's own torch maths never run under it.

The key takes ``True``, ``False`` or ``auto``: bfloat16 where it pays (a CUDA GPU that supports it; a CPU with AMX
tile units), float32 elsewhere. Measured end to end on one AMX CPU (``docs/benchmarks.md``), bfloat16 trained 12-43 %
faster with AMX, but with oneDNN held to AVX-512 BF16 instructions it was 17 % slower than float32, with plain AVX-512
half as fast and with AVX2 13 times slower (emulated): so ``auto`` asks for AMX. No loss scaling: bfloat16 has
float32's exponent range. The layers whose outputs the losses are taken of (action means, values, discriminator
logits) stay in float32 (:class:`FullPrecisionLinear`).
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

MIXED_PRECISION_ERROR = "mixed_precision must be true, false or auto"


def is_mixed_precision_value(value: Any) -> bool:
    """Whether ``value`` is one the ``mixed_precision`` key takes: ``True``, ``False`` or ``auto``."""
    return isinstance(value, bool) or (isinstance(value, str) and value == "auto")


def bf16_matmul_native(device: str | torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in units built for it (CUDA: compute capability 8.0 or newer;
    CPU: AMX tiles, usable by this process)."""
    device = torch.device(device)
    if device.type == "cuda":
        # is_bf16_supported() also says yes where bfloat16 is emulated (before Ampere); tensor cores need 8.0.
        return torch.cuda.is_available() and torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type != "cpu":
        return False
    # Private torch helpers (torch >= 2.1); _init_amx asks the kernel for the tile state and says whether it was given.
    supported = getattr(torch.cpu, "_is_amx_tile_supported", None)
    enable = getattr(torch.cpu, "_init_amx", None)
    return bool(supported is not None and enable is not None and supported() and enable())


def resolve_mixed_precision(value: Any, device: str | torch.device) -> bool:
    """The ``mixed_precision`` key's effect on ``device``: ``auto`` is :func:`bf16_matmul_native`.

    Raises:
        ValueError: a value other than ``True``, ``False`` or ``auto``.
    """
    if not is_mixed_precision_value(value):
        raise ValueError(f"{MIXED_PRECISION_ERROR}, got {value!r}")
    return value if isinstance(value, bool) else bf16_matmul_native(device)


def precision_note(value: Any, device: str | torch.device) -> str | None:
    """A line for the start of training when the networks do not run in float32 as in the original, or when bfloat16
    was forced where it is emulated (slow); ``None`` otherwise."""
    kind = torch.device(device).type
    native = bf16_matmul_native(device)
    if value == "auto" and native:
        units = "this CPU's AMX units" if kind == "cpu" else "this GPU"
        return f"the networks run in bfloat16 on {units} (mixed_precision=auto; False for float32)"
    if value is True and not native:
        return (
            f"mixed_precision=True on a {kind} without bfloat16 matrix units: emulated, it can be several times "
            "slower than float32 (auto uses it only where it is native)"
        )
    return None


def network_autocast(device: str | torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on ``device`` when ``enabled``, else a no-op context."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


class FullPrecisionLinear(nn.Linear):
    """A linear layer that computes in float32 even inside an autocast region.

    For the output layers: with the fixed exploration noise (sigma = exp(-2.9) = 0.055) a bfloat16 action mean would
    be rounded by up to 4 % of sigma, and every loss and log-probability downstream would inherit it.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x.float())


def keep_in_full_precision(layer: nn.Linear) -> None:
    """Make an already initialised ``nn.Linear`` a :class:`FullPrecisionLinear` in place (same parameters, same
    state-dict keys, no new random draws, so a seed's initial weights do not change)."""
    if type(layer) is not nn.Linear:
        raise TypeError(f"expected an nn.Linear, got {type(layer).__name__}")
    layer.__class__ = FullPrecisionLinear
