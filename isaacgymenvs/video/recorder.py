"""Recording what a task does: videos (``capture_video``) and motion files of the simulated humanoid.

:class:`RecordingTask` wraps a task (everything else is passed through) and watches environment 0:

* **video**: every ``capture_video_freq`` steps it records ``capture_video_len`` steps of MuJoCo state and hands them to
  a :class:`RenderWorker`, a child process that renders offscreen and writes ``videos/<prefix>-step<N>.mp4``. Rendering
  never runs in the training loop; if no OpenGL platform works, the worker says so once and video is switched off.
* **motion export**: the humanoid's body states per control step, written as BVH, Isaac Lab ``.npz`` and poselib
  ``.npy`` into ``motions/``: in test runs one set of files per episode of environment 0 (up to
  ``export_motion_max``), in training ``export_motion_len`` steps every ``export_motion_freq`` steps.
"""

from __future__ import annotations

import multiprocessing
import queue
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from isaacgymenvs.motion.files import save_motion
from isaacgymenvs.motion.motion import Motion
from isaacgymenvs.motion.skeleton import AMP_HUMANOID, global_to_local_rotation

# How long (s) the worker may take to open its renderer before video is given up.
WORKER_START_TIMEOUT = 120.0


@dataclass(kw_only=True)
class RecordingSettings:
    """What to record and where (the launcher's ``capture_video*`` and ``export_motion*`` keys)."""

    output_dir: Path
    """The run folder; ``videos/`` and ``motions/`` are made inside it."""
    prefix: str = "train"
    capture_video: bool = False
    capture_video_freq: int = 1464
    """Environment steps between the starts of two videos."""
    capture_video_len: int = 100
    """Frames per video."""
    camera_follow: bool = True
    export_motion: bool = False
    per_episode: bool = False
    """Export whole episodes of environment 0 (test runs) instead of ``export_motion_len`` steps every
    ``export_motion_freq`` steps (training)."""
    export_motion_freq: int = 1464
    export_motion_len: int = 300
    export_motion_max: int = 10
    """At most this many motions are exported."""
    model_file: str = ""


def _worker_main(jobs: Any, results: Any, model_file: str, follow: bool) -> None:
    """The render process: open a renderer, then turn ``(qpos [T, nq], path, fps)`` jobs into mp4 files."""
    try:
        from isaacgymenvs.video.rendering import HumanoidRenderer, write_video

        renderer = HumanoidRenderer(model_file, follow=follow)
        results.put(("ready", ""))
    except Exception as error:  # whatever stops rendering here only disables video
        results.put(("unavailable", str(error).strip().splitlines()[0] if str(error).strip() else repr(error)))
        return
    while True:
        job = jobs.get()
        if job is None:
            break
        qpos, path, fps = job
        try:
            write_video(renderer.render_sequence(qpos), path, fps)
            results.put(("written", str(path)))
        except Exception as error:  # one failed video does not stop the others
            results.put(("failed", f"{path}: {error}"))
    renderer.close()


class RenderWorker:
    """A child process that renders MuJoCo states to mp4 (see :func:`_worker_main`)."""

    def __init__(self, model_file: str, follow: bool = True) -> None:
        from isaacgymenvs.video.rendering import RenderingUnavailableError, configure_gl

        self._pending = 0
        try:
            # Chosen here so that the child inherits it: the child imports MuJoCo (through this program's modules)
            # before it runs its target, and MuJoCo reads MUJOCO_GL when first imported.
            configure_gl()
        except RenderingUnavailableError as error:
            self.available, self.reason = False, str(error)
            self._process = None
            return
        context = multiprocessing.get_context("spawn")
        self._jobs = context.Queue()
        self._results = context.Queue()
        self._process = context.Process(
            target=_worker_main, args=(self._jobs, self._results, model_file, follow), daemon=True
        )
        self._process.start()
        try:
            status, message = self._results.get(timeout=WORKER_START_TIMEOUT)
        except queue.Empty:
            status, message = "unavailable", f"the renderer did not start within {WORKER_START_TIMEOUT:.0f} s"
        self.available = status == "ready"
        self.reason = message
        if not self.available:
            self._process.join(timeout=5)

    def submit(self, qpos: np.ndarray, path: Path, fps: float) -> None:
        self._jobs.put((qpos, str(path), fps))
        self._pending += 1
        self._drain(block=False)

    def _drain(self, block: bool) -> None:
        while self._pending > 0:
            try:
                status, message = self._results.get(timeout=600 if block else 0.0)
            except queue.Empty:
                return
            self._pending -= 1
            if status == "written":
                print(f"video: {message}", flush=True)
            else:
                warnings.warn(f"video not written: {message}", stacklevel=2)

    def close(self) -> None:
        """Finish the queued videos and stop the process."""
        if self._process is None:
            return
        if self.available and self._process.is_alive():
            self._drain(block=True)
            self._jobs.put(None)
        self._process.join(timeout=30)


class RecordingTask:
    """A task with video capture and motion export (see the module docstring); all else goes to the task."""

    def __init__(self, task: Any, settings: RecordingSettings) -> None:
        self._task = task
        self._settings = settings
        self._steps = 0
        self._video_frames: list[np.ndarray] | None = None
        self._video_start = 0
        self._worker: RenderWorker | None = None
        self._motion_frames: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        self._motion_start = 0
        self._motions_written = 0
        self.written: list[Path] = []
        if settings.capture_video:
            self._worker = RenderWorker(settings.model_file or task.backend.model_file, settings.camera_follow)
            if not self._worker.available:
                warnings.warn(f"capture_video disabled: {self._worker.reason}", stacklevel=2)
                self._worker = None
            else:
                (settings.output_dir / "videos").mkdir(parents=True, exist_ok=True)
        if settings.export_motion:
            (settings.output_dir / "motions").mkdir(parents=True, exist_ok=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task, name)

    @property
    def task(self) -> Any:
        return self._task

    # --- the task's interface -------------------------------------------------------------------------------------

    def reset_done(self) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        obs, done_env_ids = self._task.reset_done()
        if bool((done_env_ids == 0).any()):  # environment 0 starts a new episode: its motion restarts too
            if self._motion_frames is not None:
                self._finish_motion()
            if (
                self._settings.export_motion
                and self._settings.per_episode
                and self._motions_written < self._settings.export_motion_max
            ):
                self._motion_frames = [self._body_state()]
        return obs, done_env_ids

    def step(self, actions: torch.Tensor) -> tuple[Any, ...]:
        result = self._task.step(actions)
        settings = self._settings
        if self._worker is not None:
            if self._video_frames is None and self._steps % settings.capture_video_freq == 0:
                self._video_frames, self._video_start = [], self._steps
            if self._video_frames is not None:
                self._video_frames.append(self._task.backend.engine_qpos(0))
                if len(self._video_frames) >= settings.capture_video_len:
                    self._finish_video()
        if settings.export_motion and not settings.per_episode:
            if (
                self._motion_frames is None
                and self._steps % settings.export_motion_freq == 0
                and self._motions_written < settings.export_motion_max
            ):
                self._motion_frames, self._motion_start = [self._body_state()], self._steps
            elif self._motion_frames is not None:
                self._motion_frames.append(self._body_state())
                if len(self._motion_frames) > settings.export_motion_len:
                    self._finish_motion()
        elif self._motion_frames is not None:
            self._motion_frames.append(self._body_state())
        self._steps += 1
        return result

    def close(self) -> None:
        """Write what is being recorded and wait for the videos."""
        if self._video_frames:
            self._finish_video()
        if self._motion_frames:
            self._finish_motion()
        if self._worker is not None:
            self._worker.close()
        self._task.close()

    # --- recording ------------------------------------------------------------------------------------------------

    def _body_state(self) -> tuple[torch.Tensor, torch.Tensor]:
        backend = self._task.backend
        return backend.root_states[0, 0:3].clone(), backend.rigid_body_rot[0].clone()

    def _finish_video(self) -> None:
        frames, self._video_frames = self._video_frames, None
        if not frames or self._worker is None:
            return
        path = self._settings.output_dir / "videos" / f"{self._settings.prefix}-step{self._video_start}.mp4"
        self._worker.submit(np.stack(frames), path, 1.0 / self._task.dt)
        self.written.append(path)

    def _finish_motion(self) -> None:
        frames, self._motion_frames = self._motion_frames, None
        if not frames or len(frames) < 2:
            return
        root = torch.stack([frame[0] for frame in frames]).double().cpu()
        global_rotation = torch.stack([frame[1] for frame in frames]).double().cpu()
        motion = Motion(
            AMP_HUMANOID,
            global_to_local_rotation(global_rotation, AMP_HUMANOID),
            root,
            fps=1.0 / self._task.dt,
            name=f"{self._settings.prefix} rollout",
        )
        stem = self._settings.output_dir / "motions" / f"{self._settings.prefix}-{self._motions_written:03d}"
        for extension in (".npy", ".npz", ".bvh"):
            save_motion(motion, stem.with_suffix(extension))
            self.written.append(stem.with_suffix(extension))
        self._motions_written += 1
        print(f"motion: {stem}.{{npy,npz,bvh}} ({motion.num_frames} frames)", flush=True)
