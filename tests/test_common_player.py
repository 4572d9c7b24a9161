"""The player's console output on a fake environment (no simulator): a progress line every ``print_interval``
finished episodes with the running means, and the final ``av reward: ... av steps: ...`` line that tools parse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_amp_agent import _runner

from isaacgymenvs.tasks.amp.humanoid_amp_config import ConfigError


def _player_output(tmp_path: Path, capsys: pytest.CaptureFixture[str], **player: object) -> tuple[object, list[str]]:
    runner, _ = _runner(tmp_path, player={"games_num": 20, "deterministic": True, "print_stats": True, **player})
    player_object = runner.create_player()  # untrained weights: the fake environment's episodes have fixed lengths
    capsys.readouterr()
    player_object.run()
    return player_object, capsys.readouterr().out.splitlines()


def test_player_prints_progress_every_print_interval_episodes(tmp_path: Path, capsys) -> None:
    # 8 fake environments whose episodes all last 11 steps (reward 1 per step): 8 episodes end every 11 steps.
    player, lines = _player_output(tmp_path, capsys, print_interval=8)
    assert lines == [
        "episodes 8/20: mean reward 11.00, mean episode length 11.0 steps",
        "episodes 16/20: mean reward 11.00, mean episode length 11.0 steps",
        "av reward: 11.00 av steps: 11.0 (24 episodes)",
    ]
    assert player.episode_lengths == [11.0] * 24


def test_player_progress_default_interval_and_bad_values(tmp_path: Path, capsys) -> None:
    _, lines = _player_output(tmp_path, capsys)  # 24 episodes: fewer than the default interval of 100
    assert len(lines) == 1 and re.fullmatch(r"av reward: [\d.]+ av steps: [\d.]+ \(24 episodes\)", lines[0])
    _, lines = _player_output(tmp_path, capsys, print_interval=5, print_stats=False)
    assert len(lines) == 1 and lines[0].startswith("av reward: ")
    for bad in (0, -3, 2.5, "10"):
        runner, _ = _runner(tmp_path, player={"games_num": 4, "print_interval": bad})
        with pytest.raises(ConfigError, match="print_interval must be an integer >= 1"):
            runner.create_player()
