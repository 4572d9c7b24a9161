"""The time-to-skill benchmark: its thresholds on hand-made evaluations, the CSV, summary and plot; an evaluation that
leaves training's random streams and threads as they were; and a tiny-budget run through the command line
whose CSV, plot and summary are checked, and whose losses equal a plain launcher run's (evaluating changes nothing)."""

from __future__ import annotations

import csv
import math
import random
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SMALL_RUN, run_python
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from isaacgymenvs.bench import skill_report as report

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WALK = {"clip_forward_speed_mps": 0.97, "clip_stride_length_m": 1.22}  # the walk clip's gait (motion info)


def _row(epoch: int, **values: float) -> dict[str, float]:
    """An evaluation that imitates the walk clip, with ``values`` replaced (16,384 samples and 2.5 s per epoch)."""
    row = {
        "epoch": epoch,
        "samples": 16384 * epoch,
        "train_minutes": 2.5 * epoch / 60,
        "eval_seconds": 3.0,
        "fall_rate": 0.0,
        "mean_episode_length": 299.0,
        "forward_speed_mps": 0.97,
        "stride_length_m": 1.22,
        "key_body_error_m": 0.05,
        "classifier_accuracy": 0.9,
        **WALK,
    }
    row.update(values)
    return row


@pytest.mark.parametrize(
    ("value", "target", "floor", "expected"),
    [
        (1.1, 1.0, 0.1, True),  # exactly 10 % off meets it
        (1.1001, 1.0, 0.1, False),
        (0.9, 1.0, 0.1, True),
        (3.2, 3.54, 0.1, True),  # 0.34 off, within 0.354
        (3.1, 3.54, 0.1, False),
        (0.08, 0.0, 0.1, True),  # a clip that does not move forward: the floor, not 10 % of 0
        (-0.15, 0.0, 0.1, False),
        (math.nan, 1.22, 0.1, False),  # no complete swing against a clip that has strides
        (math.nan, math.nan, 0.1, True),  # a clip without strides asks for none
    ],
)
def test_within_tolerance(value: float, target: float, floor: float, expected: bool) -> None:
    assert report.within(value, target, floor) is expected


def test_stands_is_a_fall_rate_of_at_most_5_percent() -> None:
    assert report.stands(_row(1, fall_rate=1 / 32))  # 1 fall in 32 episodes
    assert report.stands(_row(1, fall_rate=1 / 20))  # exactly 5 %
    assert not report.stands(_row(1, fall_rate=2 / 32))  # 6.25 %


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, True),
        ({"fall_rate": 2 / 32}, False),  # falls too often
        ({"forward_speed_mps": 0.85}, False),  # 12 % slow
        ({"forward_speed_mps": 0.88}, True),  # 9 % slow
        ({"stride_length_m": 1.36}, False),  # 11 % long
        ({"stride_length_m": math.nan}, False),  # no complete swing
        ({"stride_length_m": math.nan, "clip_stride_length_m": math.nan}, True),
        ({"key_body_error_m": 0.081}, False),
        ({"key_body_error_m": 0.08}, True),
    ],
)
def test_imitates_needs_every_criterion(change: dict, expected: bool) -> None:
    assert report.imitates(_row(1, **change)) is expected


def _study() -> list[dict[str, float]]:
    """Falls at epoch 20, stands from epoch 40 (running too slowly), imitates from epoch 60."""
    rows = [
        _row(20, fall_rate=0.5, forward_speed_mps=0.4, stride_length_m=math.nan, key_body_error_m=0.15),
        _row(40, fall_rate=0.0, forward_speed_mps=0.7, stride_length_m=0.9, key_body_error_m=0.09),
        _row(60),
    ]
    for row in rows:
        row["stands"], row["imitates"] = int(report.stands(row)), int(report.imitates(row))
    return rows


def test_summary_reports_where_each_threshold_was_first_met() -> None:
    lines = report.summary_lines(_study(), "humanoid3d_walk", 32, report.Trained(60, 983040, 150.0))
    assert lines[1] == "  stands   (fall rate <= 5 %): 655,360 samples, 1.67 training minutes (epoch 40)"
    assert lines[2].startswith("  imitates (stands; speed and stride within 10 % of the clip's; DTW hand/foot error")
    assert lines[2].endswith("): 983,040 samples, 2.50 training minutes (epoch 60)")
    assert lines[3] == (
        "training: 60 epochs, 983,040 samples, 2.50 training minutes; evaluation: 3 times, 9.0 s "
        "(6 % of the training time, not part of it)"
    )


def test_summary_gives_the_best_values_when_not_reached() -> None:
    lines = report.summary_lines(_study()[:2], "humanoid3d_walk", 32, report.Trained(40, 655360, 100.0))
    assert lines[1].endswith(": 655,360 samples, 1.67 training minutes (epoch 40)")
    assert lines[2].endswith(
        "not reached; best while standing: speed 0.70 m/s (clip 0.97), stride 0.90 m (clip 1.22), DTW 0.090 m"
    )
    lines = report.summary_lines(_study()[:1], "humanoid3d_walk", 32, report.Trained(25, 409600, 62.5))
    assert lines[1].endswith("not reached; best fall rate 0.50 (epoch 20)")
    assert lines[2].endswith("not reached; never stood")
    no_stride = [*_study()[:1], _row(30, fall_rate=0.0, forward_speed_mps=0.5, stride_length_m=math.nan)]
    lines = report.summary_lines(no_stride, "humanoid3d_walk", 32, report.Trained(30, 491520, 75.0))
    assert "speed 0.50 m/s (clip 0.97), stride n/a (clip 1.22), DTW 0.050 m" in lines[2]
    assert report.summary_lines([], "humanoid3d_walk", 32, report.Trained(0, 0, 0.0))[1] == "  no evaluation yet"


def test_csv_rows_and_plot(tmp_path: Path) -> None:
    rows = _study()
    for row in rows:
        report.append_row(tmp_path / "skill.csv", row)
    with (tmp_path / "skill.csv").open() as stream:
        read = list(csv.DictReader(stream))
    assert list(read[0]) == list(report.COLUMNS)
    assert [r["epoch"] for r in read] == ["20", "40", "60"]
    assert read[0]["stride_length_m"] == "nan" and read[0]["wall_minutes"] == "nan"  # no wall time in these rows
    assert [r["stands"] for r in read] == ["0", "1", "1"] and [r["imitates"] for r in read] == ["0", "0", "1"]
    assert float(read[1]["forward_speed_mps"]) == 0.7
    report.plot(rows, "humanoid3d_walk", tmp_path / "skill.png")
    assert (tmp_path / "skill.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    line = report.format_progress(rows[0])
    assert line.startswith("skill | epoch 20 | 327,680 samples | 0.83 train min | fall rate 0.50 |")
    assert "stride n/a (clip 1.22)" in line and "stands no" in line


class _FakeEvaluation:
    """Scores a policy with the next of ``changes`` applied to an imitating walk evaluation."""

    def __init__(self, changes: list[dict[str, float]]) -> None:
        self.changes, self.clip = iter(changes), {"forward_speed_mps": 0.97, "stride_length_m": 1.22}

    def __call__(self, policy: object) -> dict[str, float]:
        metrics = {key: value for key, value in _row(0).items() if key not in ("epoch", "samples", "train_minutes")}
        return {**metrics, "episodes": 4, **next(self.changes)}


@pytest.mark.parametrize(("until", "last_epoch"), [(None, -1), ("stands", 4), ("imitates", 6)])
def test_until_ends_training_at_the_first_evaluation_that_meets_it(
    tmp_path: Path, until: str | None, last_epoch: int
) -> None:
    from types import SimpleNamespace

    from isaacgymenvs.bench.skill_observer import SkillObserver

    # Evaluations after epochs 2 (falls), 4 (stands, DTW too large), 6 (imitates) and 8 (imitates).
    changes = [{"fall_rate": 1.0}, {"key_body_error_m": 0.5}, {}, {}]
    observer = SkillObserver(_FakeEvaluation(changes), 2, tmp_path / "skill.csv", minutes=60.0, until=until)
    agent = SimpleNamespace(frame=0, max_epochs=-1, max_frames=-1, model=torch.nn.Linear(1, 1), writer=None)
    observer.after_init(agent)
    for epoch in range(1, 9):
        if agent.max_epochs != -1 and epoch > agent.max_epochs:  # the agent's loop has ended
            break
        agent.frame = 128 * epoch
        observer.after_print_stats(agent.frame, epoch, 1.0 * epoch)
    assert agent.max_epochs == last_epoch and observer.met_until == (until is not None)
    expected = {
        None: [(0, 0), (1, 0), (1, 1), (1, 1)],
        "stands": [(0, 0), (1, 0)],
        "imitates": [(0, 0), (1, 0), (1, 1)],
    }
    assert [(row["stands"], row["imitates"]) for row in observer.rows] == expected[until]
    with pytest.raises(ValueError, match="stands"):
        SkillObserver(_FakeEvaluation([]), 2, tmp_path / "other.csv", minutes=1.0, until="walks")


@pytest.mark.sim
def test_an_evaluation_leaves_training_state_alone() -> None:
    from isaacgymenvs.bench.skill_observer import PolicyEvaluation, preserved_random_state
    from isaacgymenvs.launcher import _resolve, compose

    def draws() -> tuple:
        return torch.rand(2), np.random.rand(), random.random()

    def seed() -> None:
        torch.manual_seed(5), np.random.seed(5), random.seed(5)

    seed()
    with preserved_random_state("cpu"):
        draws()
    after_body = draws()
    seed()
    unaffected = draws()
    assert torch.equal(after_body[0], unaffected[0]) and after_body[1:] == unaffected[1:]
    config = _resolve(compose([*SMALL_RUN, "num_envs=4"]))
    evaluation = PolicyEvaluation(config["task"], "cpu", "cpu", envs=4, episodes=4, seed=0)
    assert evaluation.clip["stride_length_m"] == pytest.approx(1.219, abs=0.001)
    state, numpy_state, threads = torch.get_rng_state(), np.random.get_state()[1].copy(), torch.get_num_threads()
    first = evaluation(lambda obs: torch.zeros(obs.shape[0], 28))
    assert torch.equal(torch.get_rng_state(), state) and np.array_equal(np.random.get_state()[1], numpy_state)
    assert torch.get_num_threads() == threads
    assert first["episodes"] == 4 and first["fall_rate"] == 1.0  # zero actions fall
    second = evaluation(lambda obs: torch.zeros(obs.shape[0], 28))  # every evaluation starts from the same states
    assert first == pytest.approx(second, nan_ok=True)


# --- the command line -------------------------------------------------------------------------------------------

TINY = ["--samples", "384", "--eval-every", "2", "--episodes", "4"]  # 3 epochs of 128 samples: evaluations at 2, 3


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    folder = tmp_path_factory.mktemp("skill")
    result = run_python(["-m", "isaacgymenvs.bench", "skill", *SMALL_RUN, *TINY, "--out", "out"], folder)
    return folder, result


@pytest.mark.sim
def test_tiny_run_writes_csv_plot_summary_and_the_training_run(tiny_run: tuple) -> None:
    folder, result = tiny_run
    assert result.returncode == 0, result.stderr[-2000:]
    out = folder / "out"
    with (out / "skill.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == list(report.COLUMNS)
    assert [(r["epoch"], r["samples"]) for r in rows] == [("2", "256"), ("3", "384")]  # every 2 epochs, and the last
    for row in rows:
        assert 0 < float(row["train_minutes"]) < float(row["wall_minutes"]) and float(row["eval_seconds"]) > 0
        assert 0.0 <= float(row["fall_rate"]) <= 1.0 and row["episodes"] == "4"
        assert float(row["clip_forward_speed_mps"]) == pytest.approx(0.974, abs=0.002)
        assert float(row["key_body_error_m"]) > 0
    assert (out / "skill.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "nn" / "skill.pth").is_file() and (out / "config.yaml").is_file()
    progress = [line for line in result.stdout.splitlines() if line.startswith("skill | epoch")]
    assert len(progress) == 2 and progress[0].startswith("skill | epoch 2 | 256 samples |")
    summary = (out / "summary.txt").read_text().splitlines()
    assert summary[1].startswith("  stands   (fall rate <= 5 %): ")
    assert summary[2].startswith("  imitates (stands; ")
    assert summary[3].startswith("training: 3 epochs, 384 samples, ")
    assert "\n".join(summary[:4]) in result.stdout
    events = EventAccumulator(str(out / "summaries"))
    events.Reload()
    assert [event.step for event in events.Scalars("skill/fall_rate")] == [256, 384]


def _losses(summaries: Path) -> dict[str, list[float]]:
    events = EventAccumulator(str(summaries))
    events.Reload()
    tags = ("losses/a_loss", "losses/c_loss", "losses/disc_loss", "info/disc_reward_mean")
    return {tag: [event.value for event in events.Scalars(tag)] for tag in tags}


@pytest.mark.sim
def test_evaluating_does_not_change_training(tiny_run: tuple) -> None:
    folder, result = tiny_run
    assert result.returncode == 0, result.stderr[-2000:]
    plain = run_python([str(PROJECT_ROOT / "launch.py"), *SMALL_RUN, "max_iterations=3", "experiment=plain"], folder)
    assert plain.returncode == 0, plain.stderr[-2000:]
    # The evaluation after epoch 2 ran between epochs 2 and 3 of the benchmark's run: epoch 3 is the witness.
    assert _losses(folder / "out" / "summaries") == _losses(folder / "runs" / "plain" / "summaries")


@pytest.mark.sim
@pytest.mark.parametrize(
    ("args", "fragment", "status"),
    [
        (["--episodes", "0", "--samples", "10"], "--episodes must be positive", 2),
        (["--eval-every", "5"], "one of the arguments --minutes --samples --report is required", 2),
        (["--samples", "10", "task.env.motion_file=no_such_clip"], "no_such_clip", 1),
        (["--samples", "10", "++experiment=mine"], "experiment= is set by this benchmark", 2),
    ],
)
def test_command_line_errors_are_one_line(tmp_path: Path, args: list[str], fragment: str, status: int) -> None:
    result = run_python(["-m", "isaacgymenvs.bench", "skill", *args, "--out", "out"], tmp_path)
    assert result.returncode == status
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr[-2000:]
    assert not (tmp_path / "out").exists()


def _finished_run(folder: Path) -> None:
    """A run on the walk clip that stands and imitates at epoch 60, then shortens its strides to 1.0 m from epoch 120
    (epochs 20-200, 2.5 s each: 8.33 training minutes)."""
    folder.mkdir()
    for epoch in range(20, 220, 20):
        change = {"fall_rate": 0.5} if epoch < 60 else {"stride_length_m": 1.0} if epoch >= 120 else {}
        row = _row(epoch, **change)
        row.update(episodes=32, stands=report.stands(row), imitates=report.imitates(row))
        report.append_row(folder / "skill.csv", row)
    (folder / "config.yaml").write_text("task:\n  env:\n    motion_file: humanoid3d_walk\n")


def test_report_counts_the_late_window_and_tabulates_the_run(tmp_path: Path) -> None:
    from isaacgymenvs.bench.skill import report as skill_report

    _finished_run(tmp_path / "run")
    lines = skill_report(tmp_path / "run", None, 100)
    assert lines[0].startswith("time to skill on humanoid3d_walk (32 episodes")
    assert "stands   (fall rate <= 5 %): 983,040 samples, 2.50 training minutes (epoch 60)" in lines[1]
    assert lines[3] == "last evaluation: epoch 200, 3,276,800 samples, 8.33 training minutes"
    # The last quarter of 8.33 minutes starts at 6.25: epochs 160, 180 and 200, all with the short stride.
    assert lines[5] == "from training minute 6.25 on (3 evaluations, epochs 160-200):"
    assert lines[6] == "  stand 3/3; speed within 10 % 3/3; stride within 10 % 0/3; DTW <= 0.08 m 3/3; imitate 0/3"
    assert "stride 1.00 m (clip 1.22; longest 1.00)" in lines[7] and "DTW 0.050 m (best 0.050)" in lines[7]
    assert lines[7].endswith("stride period 1.03 s (clip 1.26)")  # 1.0 m at 0.97 m/s; the clip's 1.22 m at 0.97
    table = lines[9:]
    labels = [line.split(" | ")[0] for line in table[2:]]
    assert labels == ["| 60 (stands, imitates)", "| 100", "| 200", "| clip", "| imitates needs"]
    assert table[-1] == "| imitates needs | | <= 0.05 | 0.87 to 1.07 | 1.10 to 1.34 | <= 0.08 |"
    # From minute 0: every evaluation, the two falling ones and the imitating ones included.
    assert skill_report(tmp_path / "run", 0.0, 100)[6].startswith("  stand 8/10; speed within 10 % 10/10;")
    assert "imitate 3/10" in skill_report(tmp_path / "run", 0.0, 100)[6]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--report", "nowhere"], "no skill.csv in nowhere"),
        (["--report", "run", "--out", "x"], "--report reads a finished run; drop --out"),
        (["--report", "run", "seed=1", "--eval-every", "5"], "finished run; drop --eval-every, seed=1"),
        (["--report", "run", "--samples", "10"], "not allowed with argument"),
        (["--samples", "10", "--from-minutes", "3"], "--from-minutes applies to --report only"),
        (["--samples", "10", "--table-every", "3"], "--table-every applies to --report only"),
        (["--report", "run", "--table-every", "0"], "--table-every must be positive, got 0"),
        (["--report", "run", "--from-minutes", "nan"], "--from-minutes must be 0 or more, got nan"),
        (["--report", "empty"], "holds no evaluation yet"),
        (["--report", "other"], "not a bench skill CSV (no column"),
        (["--report", "blank"], "line 2: epoch '' is not a number"),
    ],
)
def test_report_errors_are_one_line(tmp_path: Path, args: list[str], fragment: str) -> None:
    _finished_run(tmp_path / "run")
    for name, text in (("empty", ",".join(report.COLUMNS)), ("other", "epoch,samples\n1,2"),
                       ("blank", ",".join(report.COLUMNS) + "\n" + "," * (len(report.COLUMNS) - 1))):  # fmt: skip
        (tmp_path / name).mkdir()
        (tmp_path / name / "skill.csv").write_text(text + "\n")
    result = run_python(["-m", "isaacgymenvs.bench", "skill", *args], tmp_path)
    assert result.returncode == (1 if args[1] in ("empty", "other", "blank") else 2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr[-2000:]


def test_report_from_the_command_line(tmp_path: Path) -> None:
    _finished_run(tmp_path / "run")
    result = run_python(["-m", "isaacgymenvs.bench", "skill", "--report", "run", "--from-minutes", "0"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "imitate 3/10" in result.stdout and "| 60 (stands, imitates) |" in result.stdout


def test_window_of_a_clip_without_strides_or_forward_motion() -> None:
    rows = [_row(20, clip_forward_speed_mps=0.0, clip_stride_length_m=math.nan, forward_speed_mps=0.0,
                 stride_length_m=math.nan, key_body_error_m=math.nan), _row(40, clip_forward_speed_mps=0.0,
                 clip_stride_length_m=math.nan, forward_speed_mps=0.05, stride_length_m=math.nan)]  # fmt: skip
    lines = report.window_lines(rows, 0.0)
    # Standing still in place of a clip that stands still: speed within the 0.1 m/s floor, no stride asked for.
    assert lines[1] == "  stand 2/2; speed within 10 % 2/2; stride within 10 % 2/2; DTW <= 0.08 m 1/2; imitate 1/2"
    assert lines[2] == (
        "  medians: speed 0.03 m/s (clip 0.00), stride n/a (clip n/a; longest n/a), DTW 0.050 m (best 0.050), "
        "stride period n/a (clip n/a)"
    )
    assert report.epoch_table(rows, 20)[-2:] == ["| clip | | | 0.00 | n/a | |", "| imitates needs | | <= 0.05 | "
                                                 "-0.10 to 0.10 | any | <= 0.08 |"]  # fmt: skip
