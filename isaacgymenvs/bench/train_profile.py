"""Where the time of one training epoch goes: ``python -m isaacgymenvs.bench train --profile [--epochs N] [overrides]``.

It trains the launcher's config (Hydra overrides as for ``launch.py``; the CPU default when none) in this process, in
a temporary run folder, for one warm-up epoch and N profiled ones. Methods of the agent and of its model are wrapped
on their instances for the run (the code that runs is the real one), and each part's time is summed over the profiled
epochs. Parts are nested as printed, and a nested part is counted only inside its parent (the critic, for instance,
also runs in the gradient steps' forward pass, but is listed under the rollout only for its own passes there). The
rollout's policy part is the actor-only pass, or rl_games' full pass for networks that need it
(``RolloutPasses._rollout_policy``). Shares are of the epoch's wall time
(``train_epoch``: rollout and update, without logging and checkpoints). On CUDA every part's clock reads wait for
the device, so that work queued by one part is not charged to the next.

torch's thread count is fixed for the run (``train.params.torch_threads=0``, torch's own default, unless
``train.params.torch_threads`` or ``num_threads`` is given), so that the launcher's thread tuner does not switch it
between the epochs being compared. It profiles training from scratch: ``test``, ``checkpoint`` and ``multi_gpu`` are
refused when set (``max_iterations`` always: ``--epochs`` sets it).
"""

from __future__ import annotations

import functools
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import torch

from isaacgymenvs.bench.timing import StolenTime, machine_description
from isaacgymenvs.utils.rlgames_observer import RLGPUAlgoObserver

WARMUP_EPOCHS = 1  # the first epoch also fills the demonstration buffer

# (label, owner on the agent ("" for the agent itself), method): nesting by the label's indentation.
PARTS = (
    ("rollout (play_steps)", "", "play_steps"),
    ("  resets of finished environments (reset_done)", "", "_env_reset_done"),
    ("  policy: actions (_rollout_policy)", "", "_rollout_policy"),
    ("  env.step (task and physics)", "", "env_step"),
    ("  critic's values, after the rollout (_eval_critic)", "", "_eval_critic"),
    ("  AMP observations, fall counts (_record_step)", "", "_record_step"),
    ("  episode statistics", "", "_update_episode_stats"),
    ("  rewards, GAE, flattening (_finish_rollout)", "", "_finish_rollout"),
    ("    discriminator rewards", "", "_calc_disc_rewards"),
    ("demonstrations and replay samples (_before_update)", "", "_before_update"),
    ("  new demonstrations (motion library)", "", "_update_amp_demos"),
    ("dataset (prepare_dataset)", "", "prepare_dataset"),
    ("minibatch rows (dataset[i])", "dataset", "_get_item"),
    ("gradient steps (calc_gradients)", "", "calc_gradients"),
    ("  AMP observations normalised (statistics updated)", "", "_preproc_amp_obs"),
    ("  forward: policy, value, discriminator", "model", "forward"),
    ("  PPO losses", "", "_ppo_losses"),
    ("  discriminator losses (with the gradient penalty)", "", "_disc_losses"),
    ("  backward and optimiser step", "", "_step_optimizer"),
    ("    gradient clipping and Adam step", "", "trancate_gradients_and_step"),
    ("  KL to the rollout policy", "", "_kl_info"),
    ("replay buffer store (_after_update)", "", "_after_update"),
)
EPOCH = "epoch (train_epoch)"


def _parents() -> dict[str, str | None]:
    """Each part's parent label (by indentation), ``None`` at the top level."""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []  # the open ancestors, shallowest first
    for label, _, _ in PARTS:
        depth = (len(label) - len(label.lstrip())) // 2
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[label] = stack[-1][1] if stack else None
        stack.append((depth, label))
    return parents


class ProfileObserver(RLGPUAlgoObserver):
    """Wraps the agent's parts once it exists; sums their times over the epochs after the warm-up."""

    def __init__(self, warmup_epochs: int = WARMUP_EPOCHS) -> None:
        super().__init__()
        self.warmup_epochs = warmup_epochs
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.epochs = 0
        self.samples = 0
        self.threads = 0

    def after_init(self, algo: Any) -> None:
        super().after_init(algo)
        active: Counter[str] = Counter()  # calls under way per label (a re-entered part stays active)
        parents = _parents()
        cuda = torch.device(algo.ppo_device).type == "cuda"

        def clock() -> float:
            if cuda:
                torch.cuda.synchronize()
            return time.perf_counter()

        def timed(label: str, parent: str | None, function: Callable) -> Callable:
            @functools.wraps(function)
            def wrapper(*args: object, **kwargs: object) -> object:
                if parent is not None and not active[parent]:
                    return function(*args, **kwargs)
                active[label] += 1
                start = clock()
                try:
                    return function(*args, **kwargs)
                finally:
                    active[label] -= 1
                    if not active[label]:  # the outermost call of a re-entered part counts once
                        self.totals[label] += clock() - start
                        self.calls[label] += 1

            return wrapper

        for label, path, method in PARTS:
            owner = getattr(algo, path) if path else algo
            setattr(owner, method, timed(label, parents[label], getattr(owner, method)))
        algo.train_epoch = timed(EPOCH, None, algo.train_epoch)

    def after_print_stats(self, frame: int, epoch_num: int, total_time: float) -> None:
        super().after_print_stats(frame, epoch_num, total_time)
        if epoch_num <= self.warmup_epochs:  # the warm-up's times are dropped
            self.totals.clear()
            self.calls.clear()
            return
        self.epochs += 1
        self.samples += self.algo.curr_frames
        self.threads = torch.get_num_threads()

    def table(self) -> list[str]:
        """The profile: per part, calls and milliseconds per epoch and share of the epoch."""
        epochs = max(1, self.epochs)
        epoch_seconds = self.totals[EPOCH] / epochs
        lines = [
            f"{self.epochs} profiled epochs of {self.samples // epochs:,} samples, torch threads {self.threads}: "
            f"{epoch_seconds * 1e3:.0f} ms per epoch, {self.samples / max(self.totals[EPOCH], 1e-9):,.0f} samples/s",
            f"{'part':<56} {'calls':>6} {'ms/epoch':>9} {'share':>7}",
        ]
        for label, _, _ in PARTS:
            seconds, calls = self.totals.get(label, 0.0) / epochs, self.calls.get(label, 0) / epochs
            share = seconds / max(epoch_seconds, 1e-12)
            lines.append(f"{label:<56} {calls:>6.0f} {seconds * 1e3:>9.1f} {share:>7.1%}")
        return lines


class ProfileUsageError(ValueError):
    """A command line the profile cannot run (one line, exit status 2)."""


def profile(overrides: list[str], epochs: int) -> ProfileObserver:
    """Train ``WARMUP_EPOCHS + epochs`` epochs of the launcher's config with ``overrides``; the observer holds the
    profile."""
    # The command line sits above the launcher, as bench skill's does: it composes and runs the launcher's config.
    from isaacgymenvs.launcher import _resolve, compose, run

    if epochs < 1:
        raise ProfileUsageError(f"--epochs must be positive, got {epochs}")
    given = {override.split("=")[0].lstrip("+~") for override in overrides}
    if "max_iterations" in given:
        raise ProfileUsageError("max_iterations= is set by the profile from --epochs; drop it")
    fixed = [] if given & {"train.params.torch_threads", "num_threads"} else ["++train.params.torch_threads=0"]
    cfg = compose(
        [
            "task=HumanoidAMP",
            f"max_iterations={WARMUP_EPOCHS + epochs}",
            "experiment=profile",
            "train.params.config.save_frequency=0",
            *fixed,
            *overrides,
        ]
    )
    # Refused by value, as bench skill does, so that a harmless test=False or checkpoint= passes.
    config = _resolve(cfg)
    for key in ("test", "checkpoint", "multi_gpu"):
        if config[key]:
            raise ProfileUsageError(f"{key}= does not apply to the profile (it trains from scratch); drop it")
    observer = ProfileObserver()
    with tempfile.TemporaryDirectory(prefix="train_profile_") as folder:
        run(cfg, algo_observer=observer, runs_dir=folder)
    return observer


def main(overrides: list[str], epochs: int) -> int:
    """``bench train --profile``: print the machine, then the profile; a bad command line is one line on stderr."""
    from isaacgymenvs.launcher import RUN_INPUT_ERRORS, UsageError

    print(machine_description(), flush=True)
    stolen = StolenTime()
    try:
        observer = profile(overrides, epochs)
    except (ProfileUsageError, UsageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RUN_INPUT_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    note = stolen.note()
    print("\n".join([*observer.table(), *([note] if note else [])]), flush=True)
    return 0
