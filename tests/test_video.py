"""Watching and exporting motion: offscreen rendering, captured videos, the motion viewer, exported rollouts, plots."""

from __future__ import annotations

import shutil
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
from conftest import run_python

from isaacgymenvs.motion.files import load_motion, save_motion
from isaacgymenvs.motion.skeleton import AMP_BODY_NAMES, AMP_JOINT_LAYOUT
from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP
from isaacgymenvs.video.recorder import RecordingSettings, RecordingTask

pytestmark = pytest.mark.sim

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SMALL = [
    "task=HumanoidAMP",
    "num_envs=8",
    "train.params.config.horizon_length=8",
    "train.params.config.minibatch_size=64",
    "train.params.config.amp_minibatch_size=64",
    "train.params.config.mini_epochs=1",
    "train.params.config.amp_obs_demo_buffer_size=512",
    "train.params.config.amp_replay_buffer_size=1024",
    "train.params.config.amp_batch_size=128",
    "train.params.network.mlp.units=[32,32]",
    "train.params.network.disc.units=[32,32]",
    "task.env.motion_file=humanoid3d_walk",
]


@pytest.fixture(scope="module")
def can_render(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip rendering tests on a machine without any OpenGL platform (CI installs Mesa's; see .ci/run)."""
    folder = tmp_path_factory.mktemp("probe")
    result = run_python(
        ["-m", "isaacgymenvs.motion", "view", "humanoid3d_walk", "--out", str(folder / "probe.png")], folder
    )
    if result.returncode != 0 and "cannot render" in result.stderr:
        pytest.skip(result.stderr.strip())
    assert result.returncode == 0, result.stderr


def _not_blank(image: np.ndarray) -> bool:
    """More than a flat background: the humanoid and the floor's grid make a varied image."""
    return image.std() > 10 and len(np.unique(image.reshape(-1, 3), axis=0)) > 50


def test_captured_video_decodes_with_the_expected_frames(tmp_path: Path, can_render: None) -> None:
    result = run_python(
        [
            str(PROJECT_ROOT / "launch.py"),
            *SMALL,
            "max_iterations=6",
            "experiment=video",
            "capture_video=True",
            "capture_video_freq=16",
            "capture_video_len=12",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    videos = sorted((tmp_path / "runs" / "video" / "videos").glob("*.mp4"))
    assert [v.name for v in videos][:2] == ["train-step0.mp4", "train-step16.mp4"]
    reader = imageio.get_reader(videos[0])
    frames = [frame for frame in reader]
    assert len(frames) == 12
    assert frames[0].shape == (480, 640, 3)
    assert reader.get_meta_data()["fps"] == pytest.approx(30.12, abs=0.01)
    assert all(_not_blank(frame) for frame in frames)


def test_missing_rendering_backend_disables_video_not_training(tmp_path: Path) -> None:
    result = run_python(
        [
            str(PROJECT_ROOT / "launch.py"),
            *SMALL,
            "max_iterations=2",
            "experiment=novideo",
            "capture_video=True",
            "capture_video_freq=4",
            "capture_video_len=4",
        ],
        tmp_path,
        env={"MUJOCO_GL": "osmesa", "PYOPENGL_PLATFORM": "osmesa", "DISPLAY": ""},
    )
    # OSMesa is not what this machine renders with: if it works here, this test has nothing to show.
    if (tmp_path / "runs" / "novideo" / "videos").exists() and any(
        (tmp_path / "runs" / "novideo" / "videos").iterdir()
    ):
        pytest.skip("OSMesa renders on this machine")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "capture_video disabled" in result.stderr
    assert (tmp_path / "runs" / "novideo" / "nn" / "novideo.pth").exists()


def _recorded_task(tmp_path: Path) -> tuple[RecordingTask, list[torch.Tensor]]:
    """A task whose environment 0 is recorded per episode; returns it and the simulator's body positions of the
    first episode (its first state, then the state after every step)."""
    task = HumanoidAMP(
        {"env": {"numEnvs": 4, "motion_file": "humanoid3d_walk"}, "sim": {}}, rl_device="cpu", sim_device="cpu"
    )
    recorder = RecordingTask(
        task,
        RecordingSettings(
            output_dir=tmp_path, prefix="test", export_motion=True, per_episode=True, export_motion_max=1
        ),
    )
    torch.manual_seed(0)
    positions: list[torch.Tensor] = []
    episodes = 0
    for _ in range(200):
        _, done = recorder.reset_done()
        if bool((done == 0).any()):
            episodes += 1
            if episodes == 2:
                break
            positions = [task.backend.rigid_body_pos[0].clone()]  # the episode's first state
        recorder.step(torch.zeros(4, 28))
        positions.append(task.backend.rigid_body_pos[0].clone())  # every state reached, the last one included
    recorder.close()
    return recorder, positions


def test_exported_rollout_reimports_exactly(tmp_path: Path) -> None:
    recorder, positions = _recorded_task(tmp_path)
    simulated = torch.stack(positions).double()
    assert sorted(p.name for p in recorder.written) == ["test-000.bvh", "test-000.npy", "test-000.npz"]
    for extension in (".bvh", ".npy", ".npz"):
        motion = load_motion(tmp_path / "motions" / f"test-000{extension}")
        assert motion.num_frames == len(positions)
        assert motion.fps == pytest.approx(1 / 0.0332, rel=1e-3)
        error = (motion.global_translation - simulated).norm(dim=-1).max()
        assert float(error) < 1e-3, (extension, float(error))
    with np.load(tmp_path / "motions" / "test-000.npz") as data:
        fields = {name: data[name] for name in data.files}
    frames = len(positions)
    assert fields["body_names"].tolist() == list(AMP_BODY_NAMES)
    assert fields["dof_names"].tolist() == list(AMP_JOINT_LAYOUT.dof_names)
    assert fields["body_positions"].shape == (frames, 15, 3) and fields["body_rotations"].shape == (frames, 15, 4)
    assert fields["dof_positions"].shape == (frames, 28) and fields["body_linear_velocities"].shape == (frames, 15, 3)


def test_test_run_exports_motion_per_episode(tmp_path: Path) -> None:
    result = run_python(
        [
            str(PROJECT_ROOT / "launch.py"),
            *SMALL,
            "test=True",
            "experiment=played",
            "++train.params.config.player.games_num=6",
            "export_motion_max=2",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (folder,) = (tmp_path / "runs" / "played").glob("test_*")  # a new folder for every test run
    motions = sorted(p.name for p in (folder / "motions").iterdir())
    assert motions == ["test-000.bvh", "test-000.npy", "test-000.npz", "test-001.bvh", "test-001.npy", "test-001.npz"]
    again = run_python(
        [
            str(PROJECT_ROOT / "launch.py"),
            *SMALL,
            "test=True",
            "experiment=played",
            "++train.params.config.player.games_num=1",
            "export_motion_max=1",
        ],
        tmp_path,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(list((tmp_path / "runs" / "played").glob("test_*"))) == 2  # the first run's files are kept


@pytest.mark.parametrize("extension", [".npy", ".npz", ".bvh", ".txt", "rollout"])
def test_viewer_renders_every_format(tmp_path: Path, can_render: None, extension: str) -> None:
    from isaacgymenvs.motion.builtin import builtin_clip_path

    if extension == ".txt":
        source = builtin_clip_path("humanoid3d_walk")
    elif extension == "rollout":
        _recorded_task(tmp_path)
        source = tmp_path / "motions" / "test-000.bvh"
    else:
        source = tmp_path / f"walk{extension}"
        save_motion(load_motion("humanoid3d_walk"), source)
    result = run_python(
        ["-m", "isaacgymenvs.motion", "view", str(source), "--out", str(tmp_path / "sheet.png")], tmp_path
    )
    assert result.returncode == 0, result.stderr
    sheet = imageio.imread(tmp_path / "sheet.png")
    assert sheet.shape == (480, 8 * 320, 3)
    assert all(_not_blank(sheet[:, i * 320 : (i + 1) * 320]) for i in range(8))


def test_viewer_side_by_side_video(tmp_path: Path, can_render: None) -> None:
    result = run_python(
        ["-m", "isaacgymenvs.motion", "view", "humanoid3d_walk", "humanoid3d_run", "--out", str(tmp_path / "both.mp4")],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    frames = [frame for frame in imageio.get_reader(tmp_path / "both.mp4")]
    assert len(frames) == int(38 / 30 * 30) + 1  # the longer clip (walk, 1.267 s) at 30 fps
    assert frames[0].shape == (480, 1280, 3)
    assert _not_blank(frames[0][:, :640]) and _not_blank(frames[0][:, 640:])


def test_viewer_window_of_a_looping_clip(tmp_path: Path, can_render: None) -> None:
    args = ["humanoid3d_run", "--out", str(tmp_path / "run.mp4"), "--start", "2", "--seconds", "1"]
    result = run_python(["-m", "isaacgymenvs.motion", "view", *args], tmp_path)
    assert result.returncode == 0, result.stderr
    frames = [frame for frame in imageio.get_reader(tmp_path / "run.mp4")]
    assert len(frames) == 31  # 1 s at 30 fps, both ends included, well past the 0.8 s clip's end
    assert not np.array_equal(frames[0], frames[-1])  # the clip repeats rather than holding its last pose


def test_sample_motion_repeats_looping_clips_and_holds_others() -> None:
    from isaacgymenvs.video.viewer import sample_motion

    motion = load_motion("humanoid3d_run")
    assert motion.loop
    displacement = motion.root_translation[-1] - motion.root_translation[0]
    displacement[2] = 0.0
    times = np.array([0.1, 0.37])
    root, local = sample_motion(motion, times, loop=True)
    later_root, later_local = sample_motion(motion, times + 2 * motion.duration, loop=True)
    torch.testing.assert_close(later_root, root + 2 * displacement)
    torch.testing.assert_close(later_local, local)
    held_root, held_local = sample_motion(motion, times + 2 * motion.duration, loop=False)
    torch.testing.assert_close(held_root, motion.root_translation[[-1, -1]])
    torch.testing.assert_close(held_local, motion.local_rotation[[-1, -1]])


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["humanoid3d_walk", "--out", "clip.gif"], "unknown output format '.gif'"),
        (["humanoid3d_walk", "--out", "no/such/folder/clip.mp4"], "does not exist"),
        (["empty.npz", "--out", "clip.mp4"], "at least 2 frames"),
        (["clip.abc", "--out", "clip.mp4"], "unknown motion format"),
        (["humanoid3d_walk", "--out", "clip.mp4", "--seconds", "0"], "--seconds: must be a finite number"),
    ],
)
def test_viewer_bad_input(tmp_path: Path, args: list[str], fragment: str) -> None:
    motion = load_motion("humanoid3d_walk")
    save_motion(motion, tmp_path / "walk.npz")
    with np.load(tmp_path / "walk.npz") as data:
        fields = {name: (data[name][:1] if data[name].ndim >= 2 else data[name]) for name in data.files}
    np.savez(tmp_path / "empty.npz", **fields)  # a recording with one frame
    (tmp_path / "clip.abc").write_text("?")
    result = run_python(["-m", "isaacgymenvs.motion", "view", *args], tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr


def test_plot_writes_curves(tmp_path: Path) -> None:
    result = run_python([str(PROJECT_ROOT / "launch.py"), *SMALL, "max_iterations=3", "experiment=plotted"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    result = run_python(["-m", "isaacgymenvs.plot", "runs/plotted"], tmp_path)
    assert result.returncode == 0, result.stderr
    image = imageio.imread(tmp_path / "runs" / "plotted" / "curves.png")
    assert image.shape[0] > 400 and image.shape[1] > 800
    result = run_python(["-m", "isaacgymenvs.plot", "runs/missing"], tmp_path)
    assert result.returncode == 1 and "no such run folder" in result.stderr
    # Several runs over each other: one picture, named with --out.
    shutil.copytree(tmp_path / "runs" / "plotted", tmp_path / "runs" / "other")
    result = run_python(["-m", "isaacgymenvs.plot", "runs/plotted", "runs/other"], tmp_path)
    assert result.returncode == 1 and "name it with --out" in result.stderr
    result = run_python(["-m", "isaacgymenvs.plot", "runs/plotted", "runs/other", "--out", "both.png"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert imageio.imread(tmp_path / "both.png").shape == image.shape
