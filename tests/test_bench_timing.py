"""The benchmarks' timing helpers that need no simulation: the share of CPU time a virtual machine's host took."""

from __future__ import annotations

from pathlib import Path

import pytest

from isaacgymenvs.bench import timing


def test_stolen_time_is_the_steal_share_of_the_ticks_between_two_readings(monkeypatch: pytest.MonkeyPatch) -> None:
    """``/proc/stat``'s cpu line: user nice system idle iowait irq softirq steal guest guest_nice (ticks)."""
    readings = iter([[100, 0, 50, 800, 0, 0, 0, 50, 7, 0], [160, 0, 70, 900, 0, 0, 0, 70, 9, 0]])
    monkeypatch.setattr(timing, "_cpu_times", lambda: next(readings))
    assert timing.StolenTime().share() == pytest.approx(20 / 200)  # guest ticks are inside user's: not added
    monkeypatch.setattr(timing, "_cpu_times", lambda: None)  # no /proc/stat
    assert timing.StolenTime().share() is None and timing.StolenTime().note() == ""
    assert not timing.steal_reported()
    monkeypatch.undo()
    if Path("/proc/stat").is_file():  # the real file parses (None when no tick passed in between)
        share = timing.StolenTime().share()
        assert share is None or 0.0 <= share <= 1.0
