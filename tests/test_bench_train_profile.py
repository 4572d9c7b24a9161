"""The learner's epoch profile (``bench train --profile``): a tiny run in this process fills every part, nested parts
fit inside their parents, the epoch's parts fit inside the epoch, and the model's forward pass is counted in the
gradient steps (the rollout runs the actor alone)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SMALL_RUN, run_python

from isaacgymenvs.bench import train_profile
from isaacgymenvs.bench.train_profile import EPOCH, PARTS, profile


def test_parents_follow_the_indentation(monkeypatch: pytest.MonkeyPatch) -> None:
    parents = train_profile._parents()
    assert parents["rollout (play_steps)"] is None
    assert parents["    discriminator rewards"] == "  rewards, GAE, flattening (_finish_rollout)"
    assert parents["  forward: policy, value, discriminator"] == "gradient steps (calc_gradients)"
    assert parents["replay buffer store (_after_update)"] is None
    # A level skipped (0 -> 2 -> 1 -> 2): each part's parent is the nearest shallower one above it.
    monkeypatch.setattr(train_profile, "PARTS", (("a", "", ""), ("    b", "", ""), ("  c", "", ""), ("    d", "", "")))
    assert train_profile._parents() == {"a": None, "    b": "a", "  c": "a", "    d": "  c"}


@pytest.mark.sim
def test_a_tiny_profile_fills_every_part_and_nests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # test=False and an empty checkpoint= are what the launcher's defaults are anyway: accepted.
    observer = profile([*SMALL_RUN[1:], "++train.params.torch_threads=1", "test=False", "checkpoint="], epochs=2)
    totals = observer.totals
    assert observer.epochs == 2 and observer.samples == 2 * 16 * 8 and observer.threads == 1
    parents = train_profile._parents()
    for label, _, _ in PARTS:
        assert totals[label] > 0, label
        parent = parents[label]
        assert totals[label] <= (totals[parent] if parent else totals[EPOCH]), label
    top = sum(totals[label] for label, _, _ in PARTS if parents[label] is None)
    assert top <= totals[EPOCH]
    # The forward pass runs in the gradient steps only: 2 mini-epochs x 2 minibatches of 64, per epoch (the rollout's
    # policy steps run the actor alone).
    assert observer.calls["  forward: policy, value, discriminator"] == 2 * 2 * 2
    assert observer.calls["  env.step (task and physics)"] == 2 * 8
    assert observer.calls["minibatch rows (dataset[i])"] == 2 * 2 * 2
    # The agent's, the replay's and the demonstrations' AMP observations of each minibatch (not the rollout's rewards).
    assert observer.calls["  AMP observations normalised (statistics updated)"] == 2 * 2 * 2 * 3
    lines = observer.table()
    assert lines[0].startswith("2 profiled epochs of 128 samples, torch threads 1:")
    assert len(lines) == 2 + len(PARTS)


@pytest.mark.sim
@pytest.mark.parametrize(
    ("args", "fragment", "status"),
    [
        (["--epochs", "0"], "--epochs must be positive", 2),
        (["checkpoint=runs/x.pth"], "checkpoint= does not apply", 2),
        (["test=True"], "test= does not apply", 2),
        (["max_iterations=5"], "max_iterations= is set by the profile", 2),
        (["train=NoSuchTrain"], "NoSuchTrain", 2),
        (["num_envs=abc"], "numEnvs must be an integer", 1),
        (["task.env.motion_file=no_such_clip"], "no_such_clip", 1),
    ],
)
def test_bad_command_lines_are_one_line(tmp_path: Path, args: list[str], fragment: str, status: int) -> None:
    result = run_python(["-m", "isaacgymenvs.bench", "train", "--profile", *args], tmp_path)
    assert result.returncode == status
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr[-2000:]
