"""``AMPDataset``: minibatches are rows of one random permutation for every key, a pass covers every row once, keys
read only at a minibatch's head are gathered for those rows only, and new means and sigmas go back where they came
from."""

from __future__ import annotations

import pytest
import torch

from isaacgymenvs.learning.amp_datasets import AMPDataset

BATCH, MINIBATCH, HEAD = 32, 8, 3


def _dataset() -> tuple[AMPDataset, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    dataset = AMPDataset(BATCH, MINIBATCH, is_discrete=False, is_rnn=False, device="cpu", seq_length=4)
    rows = torch.arange(BATCH, dtype=torch.float32)
    values = {
        "obs": rows[:, None] * torch.ones(1, 5),  # each row holds its own index
        "mu": rows[:, None] * torch.ones(1, 2),
        "sigma": rows[:, None] * torch.ones(1, 2),
        "amp_obs": rows[:, None] * torch.ones(1, 7) + 1000,
        "rnn_states": None,
    }
    dataset.update_values_dict({key: None if value is None else value.clone() for key, value in values.items()})
    return dataset, values


def test_every_key_follows_one_permutation_and_a_pass_covers_each_row_once() -> None:
    dataset, values = _dataset()
    seen = []
    for index in range(len(dataset)):
        item = dataset[index]
        rows = item["obs"][:, 0].long()  # each row holds its own index
        assert torch.equal(item["mu"], values["mu"][rows])  # the same rows for every key
        assert torch.equal(item["amp_obs"], values["amp_obs"][rows])
        assert "rnn_states" not in item
        seen.append(rows)
    assert sorted(torch.cat(seen).tolist()) == list(range(BATCH))
    again = torch.cat([dataset[index]["obs"][:, 0] for index in range(len(dataset))])
    assert sorted(again.long().tolist()) == list(range(BATCH))
    assert not torch.equal(again.long(), torch.cat(seen))  # a new permutation after each pass


def test_head_only_keys_hold_the_first_rows_of_the_same_minibatch() -> None:
    dataset, values = _dataset()
    dataset.read_head_only(("amp_obs",), HEAD)
    for index in range(len(dataset)):
        item = dataset[index]
        rows = item["obs"][:, 0].long()
        assert item["obs"].shape[0] == MINIBATCH and item["amp_obs"].shape[0] == HEAD
        assert torch.equal(item["amp_obs"], values["amp_obs"][rows[:HEAD]])


def test_new_means_and_sigmas_go_back_to_their_rows() -> None:
    dataset, values = _dataset()
    item = dataset[1]
    rows = item["obs"][:, 0].long()
    dataset.update_mu_sigma(-item["mu"], -item["sigma"])
    mu = dataset.values_dict["mu"]
    assert torch.equal(mu[rows], -values["mu"][rows])
    assert torch.equal(dataset.values_dict["sigma"][rows], -values["sigma"][rows])
    untouched = torch.ones(BATCH, dtype=torch.bool)
    untouched[rows] = False
    assert torch.equal(mu[untouched], values["mu"][untouched])


def test_head_rows_must_be_positive() -> None:
    dataset, _ = _dataset()
    with pytest.raises(ValueError, match="rows must be positive"):
        dataset.read_head_only(("amp_obs",), 0)
