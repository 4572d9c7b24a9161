"""Starting states prepared ahead (:mod:`isaacgymenvs.tasks.amp.reset_pool`): the pool's order, sizes and refills on
a counting fake, and the task's resets from prepared states against its resets drawn on the spot."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isaacgymenvs.tasks.amp.reset_pool import HIGH_STEPS, MIN_ROWS, ResetPool
from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP


class _Counter:
    """Prepares rows numbered in the order they are made; records each batch's size."""

    def __init__(self) -> None:
        self.next, self.batches = 0, []

    def __call__(self, count: int) -> dict[str, torch.Tensor]:
        self.batches.append(count)
        rows = torch.arange(self.next, self.next + count)
        self.next += count
        return {"id": rows, "pair": torch.stack([rows, -rows], dim=1)}


def test_pool_hands_out_states_oldest_first_and_prepares_a_shortfall() -> None:
    counter = _Counter()
    pool = ResetPool(counter, capacity=100)
    first = pool.take(100)  # the first reset of every environment
    assert first["id"].tolist() == list(range(100)) and counter.batches == [100] and len(pool) == 0
    pool.refill()  # rate 0 (a full reset is not a rate): the minimum batch
    assert counter.batches[-1] == MIN_ROWS and len(pool) == MIN_ROWS
    taken = pool.take(5)
    assert taken["id"].tolist() == list(range(100, 105))
    assert taken["pair"][:, 1].tolist() == [-i for i in range(100, 105)]
    taken = pool.take(20)  # 11 left: 9 more prepared now, after them
    assert taken["id"].tolist() == list(range(105, 125)) and counter.batches[-1] == 9 and len(pool) == 0


def test_pool_refills_a_few_steps_ahead_of_the_reset_rate() -> None:
    counter = _Counter()
    pool = ResetPool(counter, capacity=1000)
    for _ in range(200):  # 10 resets every step
        pool.refill()
        pool.take(10)
    assert 9.0 < pool.rate <= 10.0
    refills = counter.batches[1:]
    assert all(size <= HIGH_STEPS * 10 + MIN_ROWS for size in refills)
    assert len(refills) < 200 / 4  # a batch lasts several steps
    assert sum(counter.batches) - 2000 == len(pool)  # nothing lost or handed out twice
    pool.clear()
    assert len(pool) == 0 and pool.take(3)["id"].tolist() == [counter.next - 3, counter.next - 2, counter.next - 1]


def _task(state_init: str, num_envs: int = 48) -> HumanoidAMP:
    env = {"numEnvs": num_envs, "motion_file": "humanoid3d_walk", "stateInit": state_init, "numAMPObsSteps": 3}
    return HumanoidAMP({"env": env, "sim": {}}, rl_device="cpu", sim_device="cpu")


@pytest.mark.sim
@pytest.mark.parametrize("state_init", ["Random", "Hybrid", "Default", "Start"])
def test_resets_from_prepared_states_equal_resets_drawn_on_the_spot(state_init: str) -> None:
    """The same random draws give the same starting states, observations, AMP windows and MuJoCo rows whether they
    are prepared ahead (the C backend's default) or drawn and written at the reset; and so does the step after.
    (Equal to float rounding: Hybrid's direct path converts its two kinds of state in separate batches.)"""
    pooled, direct = _task(state_init), _task(state_init)
    direct._reset_pool = None
    assert pooled._reset_pool is not None
    for task in (pooled, direct):
        torch.manual_seed(7)
        task.reset_done()
    for name in ("obs_buf", "_amp_obs_buf", "progress_buf", "reset_buf", "_terminate_buf"):
        torch.testing.assert_close(getattr(pooled, name), getattr(direct, name), rtol=0, atol=1e-6, msg=name)
    for name in ("root_states", "dof_pos", "dof_vel", "rigid_body_pos", "rigid_body_rot", "contact_forces"):
        torch.testing.assert_close(getattr(pooled.backend, name), getattr(direct.backend, name), rtol=0, atol=1e-6)
    for field in ("_qpos", "_qvel", "_ctrl", "_time"):
        np.testing.assert_allclose(getattr(pooled.backend, field), getattr(direct.backend, field), atol=1e-6)
    actions = torch.rand(48, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    pooled_step, direct_step = pooled.step(actions), direct.step(actions)
    torch.testing.assert_close(pooled_step[0]["obs"], direct_step[0]["obs"], rtol=0, atol=1e-4)
    torch.testing.assert_close(pooled_step[3]["amp_obs"], direct_step[3]["amp_obs"], rtol=0, atol=1e-4)
    assert len(pooled._reset_pool) > 0  # the pooled task prepared states while it stepped


@pytest.mark.sim
def test_prepared_resets_start_with_the_reference_history() -> None:
    """Start initialisation: every reset, prepared while earlier steps ran, begins at time 0 of the clip with the
    AMP window of a demonstration there (not the window of the episode before)."""
    task = _task("Start", num_envs=64)
    torch.manual_seed(0)
    task.reset_done()
    expected = task.build_amp_obs_demo(torch.zeros(1, dtype=torch.long), torch.zeros(1, dtype=torch.float64))
    resets = 0
    for _ in range(40):
        _, done_ids = task.reset_done()
        if len(done_ids):
            resets += len(done_ids)
            window = task._amp_obs_buf[done_ids].reshape(len(done_ids), -1)
            torch.testing.assert_close(window, expected.expand_as(window), rtol=0, atol=1e-4)
        task.step(torch.rand(64, 28) * 2 - 1)
    assert resets > 10 and len(task._reset_pool) > 0


@pytest.mark.sim
def test_a_full_reset_starts_the_pool_afresh() -> None:
    """Reseeding before a reset of every environment gives the same starting states whatever ran before (an
    evaluation reuses its task)."""
    task = _task("Random", num_envs=32)
    starts = []
    for steps in (0, 25):
        for _ in range(steps):
            task.reset_done()
            task.step(torch.rand(32, 28) * 2 - 1)
        task.reset_buf[:] = 1
        torch.manual_seed(4)
        starts.append(task.reset_done()[0]["obs"].clone())
    assert torch.equal(starts[0], starts[1])


@pytest.mark.sim
def test_prepared_resets_keep_every_environment_running() -> None:
    """Many steps of random actions: every reset takes prepared states, observations stay finite, and reset
    environments start with a filled AMP window whose newest step is their observation (the window's older steps
    are checked against the clip in test_prepared_resets_start_with_the_reference_history)."""
    task = _task("Random", num_envs=64)
    torch.manual_seed(0)
    task.reset_done()
    resets = 0
    for _ in range(60):
        obs, done_ids = task.reset_done()
        resets += len(done_ids)
        if len(done_ids):
            window = task._amp_obs_buf[done_ids]
            assert (window.abs().sum(dim=-1) > 0).all()
            torch.testing.assert_close(window[:, 0], obs["obs"][done_ids])
        _, _, _, extras = task.step(torch.rand(64, 28) * 2 - 1)
        assert torch.isfinite(extras["amp_obs"]).all()
    assert resets > 20 and task._reset_pool.rate > 0


@pytest.mark.sim
def test_a_seed_gives_the_same_run_with_prepared_resets() -> None:
    """The pool's refills depend on counts, not on timing: two tasks with the same seed and actions stay identical
    through many resets."""
    runs = []
    for _ in range(2):
        task = _task("Hybrid", num_envs=32)
        torch.manual_seed(11)
        observations, resets = [], 0
        for _ in range(40):
            obs, done_ids = task.reset_done()
            resets += len(done_ids)
            observations.append(obs["obs"].clone())
            task.step(torch.rand(32, 28) * 2 - 1)
        runs.append((torch.stack(observations), resets))
    assert runs[0][1] == runs[1][1] > 32
    assert torch.equal(runs[0][0], runs[1][0])
