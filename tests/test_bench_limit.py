"""``bench limit``: the epoch's sizes read from the launcher's config as it adjusts them, the bare networks doing
exactly one epoch's passes (rows through each network counted), the ceiling's arithmetic by hand, the run's threads,
one tiny run of the command end to end, and bad command lines refused in one line."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch
from conftest import SMALL_RUN, run_python

from isaacgymenvs.bench.limit import BareNetworks, EpochWork, ceiling, epoch_work, main, network_seconds
from isaacgymenvs.physics.mujoco_warp_backend import warp_available
from isaacgymenvs.tasks.amp.humanoid_amp_base import NUM_ACTIONS, NUM_OBS

SIZES = [
    "num_envs=64",
    "task.env.numAMPObsSteps=3",
    "train.params.config.horizon_length=16",
    "train.params.config.minibatch_size=512",
    "train.params.config.amp_minibatch_size=128",
    "train.params.config.mini_epochs=3",
    "train.params.network.mlp.units=[64,32]",
    "train.params.network.disc.units=[48]",
    "train.params.config.mixed_precision=False",
]


def _tiny_work(grad_penalty: bool = True, separate: bool = True, threads: int = 0) -> EpochWork:
    return EpochWork(
        num_envs=8, horizon=4, minibatch_size=16, mini_epochs=2, amp_minibatch_size=8, units=(16, 8),
        disc_units=(12,), activation="relu", disc_activation="tanh", separate=separate, obs_size=NUM_OBS,
        action_size=NUM_ACTIONS, amp_obs_size=2 * NUM_OBS, grad_penalty=grad_penalty, bfloat16=False, device="cpu",
        threads=threads,
    )  # fmt: skip


def test_epoch_work_follows_the_launchers_config() -> None:
    work = epoch_work(SIZES)
    sizes = (work.num_envs, work.horizon, work.minibatch_size, work.mini_epochs, work.amp_minibatch_size)
    assert sizes == (64, 16, 512, 3, 128)
    assert work.samples == 1024 and work.gradient_steps == 3 * 2  # 1024 / 512 minibatches, 3 passes
    assert work.units == (64, 32) and work.disc_units == (48,)
    assert work.activation == work.disc_activation == "relu" and work.separate  # the task's config says separate
    assert (work.obs_size, work.action_size, work.amp_obs_size) == (105, 28, 3 * 105)
    assert work.grad_penalty and not work.bfloat16 and work.device == "cpu" and work.threads == 0
    assert work.task_config["env"]["numEnvs"] == 64 and work.task_config["env"]["numAMPObsSteps"] == 3
    assert "64 environments x 16 steps = 1,024 samples per epoch; 6 gradient steps" in work.describe()


def test_rl_games_defaults_and_names() -> None:
    work = epoch_work(["~train.params.network.separate", "train.params.network.disc.activation=swish"])
    assert not work.separate  # rl_games' default: one trunk for actor and critic
    assert (work.activation, work.disc_activation) == ("relu", "swish")


def test_a_minibatch_larger_than_the_batch_shrinks_as_in_the_launcher() -> None:
    work = epoch_work(
        ["num_envs=8", "train.params.config.horizon_length=16", "train.params.config.minibatch_size=4096"]
    )
    assert work.minibatch_size == work.samples == 128
    assert work.amp_minibatch_size == 128  # the CPU default's 512, shrunk to the policy's minibatch
    assert work.gradient_steps == work.mini_epochs


@pytest.mark.parametrize(("grad_penalty", "separate"), [(True, True), (False, True), (True, False)])
def test_the_bare_networks_do_one_epochs_passes(
    monkeypatch: pytest.MonkeyPatch, grad_penalty: bool, separate: bool
) -> None:
    work = _tiny_work(grad_penalty, separate)
    networks = BareNetworks(work)
    rows: Counter[str] = Counter()
    named = {"actor": networks.actor, "critic": networks.critic, "disc": networks.disc}
    for name, module in named.items():
        if module is not None:
            module.register_forward_hook(lambda _m, inputs, _o, name=name: rows.update({name: inputs[0].shape[0]}))
    penalties = []
    grad = torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **k: penalties.append(1) or grad(*a, **k))
    weights = [p for module in named.values() if module is not None for p in module.parameters() if p.dim() == 2]
    before = [p.detach().clone() for p in weights]
    networks.epoch()
    update_rows = work.gradient_steps * work.minibatch_size
    policy_rows = work.samples + update_rows  # the rollout's steps, then every gradient step's minibatch
    if separate:
        assert rows == {"actor": policy_rows, "critic": policy_rows, "disc": rows["disc"]}
    else:  # the actor's trunk also serves the critic's head over the rollout
        assert rows == {"actor": policy_rows + work.samples, "disc": rows["disc"]}
    assert rows["disc"] == work.samples + work.gradient_steps * 3 * work.amp_minibatch_size
    assert len(penalties) == (work.gradient_steps if grad_penalty else 0)
    assert all(not torch.equal(b, p) for b, p in zip(before, weights, strict=True))  # every layer trained


def test_the_inputs_leave_the_callers_random_stream_alone() -> None:
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    BareNetworks(_tiny_work())
    assert torch.equal(torch.rand(3), expected)


def test_the_ceiling_adds_the_physics_and_the_networks_times() -> None:
    # 8,192 samples at 16,384 env-steps/s take 0.5 s; with 0.5 s of networks an epoch takes 1 s
    assert ceiling(8192, 16384.0, 0.5) == pytest.approx(8192.0)
    assert ceiling(8192, 16384.0, 0.0) == pytest.approx(16384.0)  # no networks: the physics' own rate


@pytest.mark.parametrize(("threads", "expected"), [(1, 1), (0, 3)])
def test_the_runs_thread_count_is_used_and_restored(
    monkeypatch: pytest.MonkeyPatch, threads: int, expected: int
) -> None:
    monkeypatch.setattr("isaacgymenvs.physics.mujoco_threads.default_thread_count", lambda: 3)  # "every core"
    seen = []
    epoch = BareNetworks.epoch

    def counting_epoch(self: BareNetworks) -> None:
        seen.append(torch.get_num_threads())
        epoch(self)

    monkeypatch.setattr(BareNetworks, "epoch", counting_epoch)  # the warm-up epoch runs through it
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seconds = network_seconds(_tiny_work(threads=threads), repeats=2)
        assert seen == [expected] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seconds["rollout"] > 0 and seconds["update"] > 0
    assert seconds["total"] == pytest.approx(seconds["rollout"] + seconds["update"])


@pytest.mark.sim
def test_one_tiny_run_end_to_end(tmp_path: Path) -> None:
    command = ["-m", "isaacgymenvs.bench", "limit", "--seconds", "0.05", "--repeats", "1", *SMALL_RUN[1:]]
    result = run_python(command, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert any(line.startswith("16 environments x 8 steps = 128 samples per epoch") for line in lines)
    raw = next(line for line in lines if line.startswith("raw MuJoCo at 16 environments:"))
    (ceiling_line,) = [line for line in lines if line.startswith("the ceiling: ")]
    raw_rate = float(raw.split(": ")[1].split(" env-steps/s")[0].replace(",", ""))
    best = float(ceiling_line.split(": ")[1].split(" samples/s")[0].replace(",", ""))
    assert 0 < best < raw_rate  # the networks take some time
    assert not any(tmp_path.iterdir())  # nothing written


BAD_COMMAND_LINES = [
    (["--repeats", "0"], 2, "must be positive"),
    (["num_envs=abc"], 1, "task.env.numEnvs must be an integer"),
    (["task=Nope"], 2, "unknown task config 'Nope'"),
    (["train.params.network.mlp.activation=gelu2"], 1, "train.params.network.mlp.activation must be one of"),
    (["train.params.network.disc.units=[]"], 1, "disc.units must list at least one layer width"),
    (["multi_gpu=True"], 1, "bench limit measures one process"),
]
if not torch.cuda.is_available():
    BAD_COMMAND_LINES.append((["rl_device=cuda:0"], 1, "torch sees no CUDA device here"))
# With MuJoCo Warp installed (the gpu extra) the run would step on it; without, the launcher's own refusal.
WARP_REFUSAL = "and this run would use mujoco_warp" if warp_available() else "needs MuJoCo Warp"
BAD_COMMAND_LINES.append((["task.sim.backend=mujoco_warp"], 1, WARP_REFUSAL))


@pytest.mark.parametrize(("args", "status", "fragment"), BAD_COMMAND_LINES)
def test_bad_command_lines_are_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], status: int, fragment: str
) -> None:
    try:
        code = main(args)
    except SystemExit as exit_info:  # argparse's refusals
        code = exit_info.code
    assert code == status
    errors = capsys.readouterr().err.strip().splitlines()
    assert fragment in errors[-1]
