"""Multi-process training with torch.distributed (``torchrun ... launch.py multi_gpu=True``).

rl_games 1.6.5's own ``multi_gpu`` path hard-codes NCCL and CUDA devices. Here the process group is created first, with
NCCL where CUDA is present and gloo on CPUs, and the agent switches rl_games' multi-process code paths on after its
base class is built (``../shared/spec/rl_games_1.6.5_notes.md``): rl_games then all-reduces gradients, KL and learning
rates and broadcasts the exit flag; our agent adds the initial weight broadcast and the per-epoch statistics.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


class LaunchError(RuntimeError):
    """A multi-process run launched the wrong way; the message says how to launch it."""


@dataclass(frozen=True)
class DistributedInfo:
    """This process's place in the group."""

    rank: int
    local_rank: int
    world_size: int
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed() -> DistributedInfo:
    """Join (or create) the process group torchrun prepared, choosing NCCL with CUDA and gloo otherwise.

    Raises:
        LaunchError: not started by torchrun (no ``WORLD_SIZE``/``RANK`` in the environment).
    """
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        raise LaunchError(
            "multi_gpu=True needs one process per device, started by torchrun: "
            "torchrun --standalone --nproc_per_node=2 launch.py task=HumanoidAMP multi_gpu=True"
        )
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    info = DistributedInfo(
        rank=dist.get_rank(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        world_size=dist.get_world_size(),
        backend=dist.get_backend(),
    )
    if info.backend == "nccl":
        torch.cuda.set_device(info.local_rank)
    return info


def current() -> DistributedInfo | None:
    """The process group this process belongs to, or None when running alone."""
    if not dist.is_available() or not dist.is_initialized():
        return None
    return DistributedInfo(
        rank=dist.get_rank(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        world_size=dist.get_world_size(),
        backend=dist.get_backend(),
    )


def broadcast_module(module: torch.nn.Module, source: int = 0) -> None:
    """Copy ``module``'s parameters and buffers from rank ``source`` to every rank."""
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, source)


def average_running_stats(module: torch.nn.Module) -> None:
    """Average the running means and variances of every ``RunningMeanStd`` in ``module`` across ranks (each rank saw
    as many samples, so the plain average of the moments is the pooled one, up to the between-rank spread of the
    means, which is added to the variance)."""
    world_size = dist.get_world_size()
    for name, buffer in module.named_buffers():
        if name.endswith("running_mean"):
            prefix = name[: -len("running_mean")]
            variance = dict(module.named_buffers())[prefix + "running_var"]
            mean_sq = buffer.data * buffer.data
            dist.all_reduce(buffer.data)
            buffer.data /= world_size
            dist.all_reduce(mean_sq)
            mean_sq /= world_size
            dist.all_reduce(variance.data)
            variance.data /= world_size
            variance.data += (mean_sq - buffer.data * buffer.data).clamp_min(0.0)


def state_digest(modules: Iterable[torch.nn.Module]) -> str:
    """The first 16 hex digits of a SHA-256 over the parameters and buffers of ``modules`` (names and bytes)."""
    digest = hashlib.sha256()
    for module in modules:
        for name, tensor in sorted(module.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class RankSharedState:
    """An agent's state that every rank of a multi-process run must hold identically, and how it is kept so."""

    def _rank_shared_modules(self) -> list[torch.nn.Module]:
        """The model (networks and the observation and value normalisers); the AMP agent adds its discriminator-input
        normaliser."""
        return [self.model]

    def _broadcast_initial_weights(self) -> None:
        for module in self._rank_shared_modules():
            broadcast_module(module)

    def _synchronize_statistics(self) -> None:
        """Average the running statistics each rank gathered from its own environments this epoch, so that every rank
        holds the same normalisers (gradients are already averaged by rl_games' step)."""
        for module in self._rank_shared_modules():
            average_running_stats(module)

    def state_digest(self) -> str:
        """A short hash of :meth:`_rank_shared_modules` (parameters and buffers), to check that ranks agree."""
        return state_digest(self._rank_shared_modules())


def init_base_for_rank(agent: Any, base_name: str, params: dict[str, Any]) -> None:
    """Build ``agent``'s rl_games base with its CUDA/NCCL-only setup off, then switch its multi-process paths on (gloo
    works too).

    Ranks other than 0 build the base's run folders in a temporary directory (only rank 0 writes outputs).
    """
    from rl_games.common import a2c_common  # here: the launcher imports this module before it needs rl_games

    config = params["config"]
    rank = dist.get_rank()
    config["multi_gpu"] = False
    scratch = None
    if rank != 0:
        scratch = tempfile.mkdtemp(prefix="amp_rank_")
        config["train_dir"], original_train_dir = scratch, config.get("train_dir", "runs")
    try:
        a2c_common.A2CBase.__init__(agent, base_name, params)
    finally:
        config["multi_gpu"] = True
        if scratch is not None:
            config["train_dir"] = original_train_dir
    agent.multi_gpu = True
    agent.global_rank = rank
    agent.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    agent.world_size = dist.get_world_size()
    if rank != 0:
        if agent.writer is not None:
            agent.writer.close()
        agent.writer = None
        agent.print_stats = False
        shutil.rmtree(scratch, ignore_errors=True)
