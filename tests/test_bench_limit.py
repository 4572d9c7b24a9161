"""``bench limit``: the epoch's sizes read from the launcher's config as it adjusts them, the ceiling's arithmetic by
hand, the bare networks' passes really training, one tiny run of the command end to end, and bad command lines
refused in one line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from conftest import SMALL_RUN, run_python

from isaacgymenvs.bench.limit import BareNetworks, EpochWork, ceiling, epoch_work, main, network_seconds
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


def _tiny_work(grad_penalty: bool = True, separate: bool = True) -> EpochWork:
    return EpochWork(
        num_envs=8, horizon=4, minibatch=16, mini_epochs=2, amp_minibatch=8, units=(16, 8), disc_units=(12,),
        activation="relu", separate=separate, obs_size=NUM_OBS, action_size=NUM_ACTIONS, amp_obs_size=2 * NUM_OBS,
        grad_penalty=grad_penalty, bfloat16=False, device="cpu",
    )  # fmt: skip


def test_epoch_work_follows_the_launchers_config() -> None:
    work = epoch_work(SIZES)
    assert (work.num_envs, work.horizon, work.minibatch, work.mini_epochs, work.amp_minibatch) == (64, 16, 512, 3, 128)
    assert work.samples == 1024 and work.gradient_steps == 3 * 2  # 1024 / 512 minibatches, 3 passes
    assert work.units == (64, 32) and work.disc_units == (48,) and work.activation == "relu" and work.separate
    assert (work.obs_size, work.action_size, work.amp_obs_size) == (105, 28, 3 * 105)
    assert work.grad_penalty and not work.bfloat16 and work.device == "cpu" and work.threads == 0
    assert "64 environments x 16 steps = 1,024 samples per epoch; 6 gradient steps" in work.describe()


def test_a_minibatch_larger_than_the_batch_shrinks_as_in_the_launcher() -> None:
    work = epoch_work(
        ["num_envs=8", "train.params.config.horizon_length=16", "train.params.config.minibatch_size=4096"]
    )
    assert work.minibatch == work.samples == 128
    assert work.amp_minibatch <= 128
    assert work.gradient_steps == work.mini_epochs


def test_the_runs_thread_count_is_used_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    assert epoch_work(["num_threads=1"]).threads == 1
    before = torch.get_num_threads()
    seen = []
    epoch = BareNetworks.epoch

    def counting_epoch(self: BareNetworks) -> None:
        seen.append(torch.get_num_threads())
        epoch(self)

    monkeypatch.setattr(BareNetworks, "epoch", counting_epoch)  # the warm-up epoch runs through it
    network_seconds(dataclasses.replace(_tiny_work(), threads=1), repeats=1)
    assert seen == [1] and torch.get_num_threads() == before


def test_the_ceiling_adds_the_physics_and_the_networks_times() -> None:
    # 8,192 samples at 16,384 env-steps/s take 0.5 s; with 0.5 s of networks an epoch takes 1 s
    assert ceiling(8192, 16384.0, 0.5) == pytest.approx(8192.0)
    assert ceiling(8192, 16384.0, 0.0) == pytest.approx(16384.0)  # no networks: the physics' own rate


@pytest.mark.parametrize(("grad_penalty", "separate"), [(True, True), (False, True), (True, False)])
def test_the_bare_networks_train(grad_penalty: bool, separate: bool) -> None:
    networks = BareNetworks(_tiny_work(grad_penalty, separate))
    modules = (networks.actor, networks.critic, networks.mu, networks.value, networks.disc)
    weights = [p for module in modules if module is not None for p in module.parameters() if p.dim() == 2]
    before = [p.detach().clone() for p in weights]
    networks.epoch()
    assert len(weights) == 2 + 2 * separate + 1 + 1 + 2
    assert all(not torch.equal(b, p) for b, p in zip(before, weights, strict=True))  # every layer got gradients
    seconds = network_seconds(_tiny_work(grad_penalty, separate), repeats=2)
    assert seconds["rollout"] > 0 and seconds["update"] > 0
    assert seconds["total"] == pytest.approx(seconds["rollout"] + seconds["update"])


@pytest.mark.sim
def test_one_tiny_run_end_to_end(tmp_path: Path) -> None:
    result = run_python(
        ["-m", "isaacgymenvs.bench", "limit", "--seconds", "0.05", "--repeats", "1", *SMALL_RUN[1:]], tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert any(line.startswith("16 environments x 8 steps = 128 samples per epoch") for line in lines)
    raw = next(line for line in lines if line.startswith("raw MuJoCo at 16 environments:"))
    (ceiling_line,) = [line for line in lines if line.startswith("the ceiling: ")]
    raw_rate = float(raw.split(": ")[1].split(" env-steps/s")[0].replace(",", ""))
    best = float(ceiling_line.split(": ")[1].split(" samples/s")[0].replace(",", ""))
    assert 0 < best < raw_rate  # the networks take some time
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize(
    ("args", "status", "fragment"),
    [
        (["--repeats", "0"], 2, "must be positive"),
        (["num_envs=abc"], 1, "task.env.numEnvs must be an integer"),
        (["task=Nope"], 2, "unknown task config 'Nope'"),
        (["train.params.network.mlp.activation=gelu"], 1, "bench limit knows the activations"),
    ],
)
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
