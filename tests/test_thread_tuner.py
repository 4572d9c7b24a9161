"""The thread tuner's schedule and choice, with hand-made epoch costs."""

from __future__ import annotations

from isaacgymenvs.learning.thread_tuner import ThreadTuner


def _run(tuner: ThreadTuner, costs: dict[int, float], epochs: int) -> list[int]:
    """Counts used in epochs 1..epochs when an epoch costs ``costs[threads]`` seconds per sample."""
    used = []
    for epoch in range(1, epochs + 1):
        threads = tuner.before_epoch(epoch)
        used.append(threads)
        tuner.after_epoch(epoch, costs[threads])
    return used


def test_an_idle_machine_keeps_every_core() -> None:
    applied: list[int] = []
    tuner = ThreadTuner(2, recheck_every=5, set_threads=applied.append)
    used = _run(tuner, {2: 1.0, 1: 1.2}, 9)
    # epoch 2 tries 2 threads, epoch 3 one thread; 2 stays; epoch 8 (3 + 5) tries one thread again.
    assert used == [2, 2, 1, 2, 2, 2, 2, 1, 2]
    assert applied == used and tuner.chosen == 2


def test_a_busy_machine_moves_to_one_thread_and_back_when_it_frees_up() -> None:
    tuner = ThreadTuner(2, recheck_every=5, set_threads=lambda _: None)
    assert _run(tuner, {2: 1.6, 1: 1.0}, 4) == [2, 2, 1, 1]
    assert tuner.chosen == 1
    # The other work ends (2 threads now faster): the recheck at epoch 8 (3 + 5) tries them and keeps them.
    used = []
    for epoch in range(5, 10):
        used.append(tuner.before_epoch(epoch))
        tuner.after_epoch(epoch, {2: 0.8, 1: 1.0}[used[-1]])
    assert used == [1, 1, 1, 2, 2] and tuner.chosen == 2


def test_differences_within_the_margin_do_not_switch() -> None:
    tuner = ThreadTuner(2, margin=0.05, set_threads=lambda _: None)
    _run(tuner, {2: 1.0, 1: 0.97}, 3)  # 3 % faster: noise
    assert tuner.chosen == 2


def test_one_core_never_tunes() -> None:
    applied: list[int] = []
    tuner = ThreadTuner(1, set_threads=applied.append)
    assert _run(tuner, {1: 1.0}, 5) == [1] * 5
