"""Evaluating a policy's motion against the reference clip(s), with baselines that give every number a scale.

For each "subject" -- the trained policy, the reference itself (resampled kinematically), a zero-action policy and a
uniform-random policy -- the task runs (or the clip is sampled) until ``episodes`` episodes have ended, recording every
control step of each: the 105 AMP features, hand and foot positions (relative to the root, heading frame; and in the
world), every body's local rotation and the corners of the foot boxes. The reference is sampled at its own frame
times (no interpolation between frames, which would add jerk of its own). Then:

* fall rate and mean episode length (of the 299-step cap);
* DTW-aligned hand/foot position error (m), joint-rotation error (rad) and hand/foot velocity error (m/s) against the
  reference clip (each episode aligned to the best stretch of the clip, repeated when it loops; the best clip of a
  list);
* Fréchet distance between Gaussians of the per-frame AMP features of the subject and of the reference;
* held-out accuracy of a two-sample classifier, subject frames vs reference frames (0.5: indistinguishable);
* normalised jerk of the hands and feet over quarter-second windows, and foot skate (horizontal speed of the slowest
  touching point of a foot);
* the gait: forward speed along the root's heading and the median stride, measured as ``motion info`` measures clips
  (:func:`clip_gait` gives the clips' own figures).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from isaacgymenvs.eval import metrics
from isaacgymenvs.eval.feature_gaps import largest_gaps
from isaacgymenvs.motion.analysis import FOOT_BOX_CENTER, FOOT_BOX_HALF_SIZE, repeat_loop
from isaacgymenvs.motion.motion import Motion
from isaacgymenvs.motion.skeleton import (
    AMP_HUMANOID,
    AMP_KEY_BODY_NAMES,
    forward_kinematics,
    global_to_local_rotation,
)
from isaacgymenvs.tasks.amp.humanoid_amp_base import compute_humanoid_observations
from isaacgymenvs.tasks.humanoid_amp import HumanoidAMP
from isaacgymenvs.utils import rotations as rot
from isaacgymenvs.video.viewer import sample_motion

KEY_SLICE = slice(93, 105)  # hands and feet, root-relative, heading frame, in the 105 features
FEET = [AMP_HUMANOID.index("right_foot"), AMP_HUMANOID.index("left_foot")]
KEYS = [AMP_HUMANOID.index(name) for name in AMP_KEY_BODY_NAMES]
FEET_IN_KEYS = [KEYS.index(foot) for foot in FEET]  # the feet's rows of the hand/foot records
# DTW costs grow with both lengths; longer episodes are compared over their first part.
MAX_ALIGNED_FRAMES = 150
JERK_WINDOW = 0.25  # s: a few hundred ms, so that even episodes of falling baselines hold a window
Policy = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Episode:
    """One episode's per-step records (T frames)."""

    features: np.ndarray  # [T, 105]
    key_world: np.ndarray  # [T, 4, 3]
    local_rotation: np.ndarray  # [T, 15, 4]
    foot_corners: np.ndarray  # [T, 2, 8, 3], world
    root: np.ndarray  # [T, 7]: position (m) and rotation (x, y, z, w), world
    fell: bool
    dt: float  # s between frames

    @property
    def length(self) -> int:
        return len(self.features)


def foot_box_corners(foot_positions: torch.Tensor, foot_rotations: torch.Tensor) -> torch.Tensor:
    """World positions ``[..., 2, 8, 3]`` of each foot box's corners from foot origins ``[..., 2, 3]`` and rotations
    ``[..., 2, 4]``."""
    signs = torch.tensor([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=foot_positions.dtype)
    corners = torch.tensor(FOOT_BOX_CENTER, dtype=foot_positions.dtype) + signs * torch.tensor(
        FOOT_BOX_HALF_SIZE, dtype=foot_positions.dtype
    )
    rotations = foot_rotations.unsqueeze(-2).expand(*foot_rotations.shape[:-1], 8, 4)
    return rot.quat_rotate(rotations, corners.expand(*rotations.shape[:-1], 3)) + foot_positions.unsqueeze(-2)


def rollout(task: HumanoidAMP, policy: Policy, episodes: int, whole_rounds: bool = False) -> list[Episode]:
    """Run ``task`` with ``policy`` until ``episodes`` episodes have ended; each episode holds its first state and the
    state after every step (the last one included).

    By default the first ``episodes`` episodes to end are kept. Where some episodes are much shorter than others (a
    policy that falls now and then), short ones are over-represented: an environment can end several of them while
    another runs its full length. With ``whole_rounds`` each environment contributes only its first episode of a
    round, a round lasts until those episodes have ended (every environment, or the first ones the remaining count
    needs) and then every environment starts afresh: a fair sample of the policy's episodes.
    """
    collected: list[Episode] = []
    records: list[list[tuple]] = [[] for _ in range(task.num_envs)]
    round_episodes: list[Episode | None] = [None] * task.num_envs
    task.reset_buf[:] = 1  # every environment starts a fresh episode
    while len(collected) < episodes:
        obs_dict, done_ids = task.reset_done()
        states = _states(task, obs_dict["obs"])
        for env in done_ids.tolist():  # a new episode starts from the reset state
            records[env] = [_row(states, env)]
        _, _, resets, extras = task.step(policy(obs_dict["obs"]))
        states = _states(task, task.obs_buf)
        for env in range(task.num_envs):
            records[env].append(_row(states, env))
        terminated = extras["terminate"].bool().cpu()
        for env in resets.nonzero().flatten().tolist():
            if not whole_rounds and len(collected) < episodes:
                collected.append(_episode(records[env], bool(terminated[env]), task.dt))
            elif whole_rounds and round_episodes[env] is None:
                round_episodes[env] = _episode(records[env], bool(terminated[env]), task.dt)
        needed = min(task.num_envs, episodes - len(collected))
        if whole_rounds and all(episode is not None for episode in round_episodes[:needed]):
            collected.extend(round_episodes[:needed])  # by environment, not by end time
            round_episodes = [None] * task.num_envs
            task.reset_buf[:] = 1
    return collected


def _episode(rows: list[tuple], fell: bool, dt: float) -> Episode:
    columns = list(zip(*rows, strict=True))
    return Episode(
        features=np.stack(columns[0]),
        key_world=np.stack(columns[1]),
        local_rotation=np.stack(columns[2]),
        foot_corners=np.stack(columns[3]),
        root=np.stack(columns[4]),
        fell=fell,
        dt=dt,
    )


def _states(task: HumanoidAMP, obs: torch.Tensor) -> tuple[np.ndarray, ...]:
    """Every environment's recorded quantities now: features, hand/foot world positions, local rotations, foot box
    corners, root position and rotation."""
    backend = task.backend
    rotations = backend.rigid_body_rot
    local = global_to_local_rotation(rotations.double(), AMP_HUMANOID).float()
    corners = foot_box_corners(backend.rigid_body_pos[:, FEET], rotations[:, FEET])
    return (
        obs.cpu().numpy().copy(),
        backend.rigid_body_pos[:, KEYS].numpy().copy(),
        local.numpy(),
        corners.numpy(),
        backend.root_states[:, :7].numpy().copy(),
    )


def _row(states: tuple[np.ndarray, ...], env: int) -> tuple[np.ndarray, ...]:
    return tuple(state[env] for state in states)


def reference_frames(task: HumanoidAMP, motion: Motion, first_frame: int, frames: int) -> Episode:
    """``frames`` frames of the reference clip from ``first_frame`` on, as an :class:`Episode` at the clip's frame
    rate (features built by the task's own function, velocities by finite differences)."""
    dt = 1.0 / motion.fps
    root, local = sample_motion(motion, (first_frame + np.arange(frames)) * dt)
    global_rotation, global_position = forward_kinematics(local, root, motion.skeleton)
    root_velocity = torch.from_numpy(np.gradient(root.numpy(), dt, axis=0))
    increments = rot.quat_mul(global_rotation[1:, 0], rot.quat_conjugate(global_rotation[:-1, 0]))
    angular = torch.cat([rot.quat_to_exp_map(increments) / dt, torch.zeros(1, 3, dtype=root.dtype)])
    from isaacgymenvs.motion.skeleton import local_rotation_to_dof_pos

    dof_pos = local_rotation_to_dof_pos(local)
    dof_vel = torch.from_numpy(np.gradient(dof_pos.numpy(), dt, axis=0))
    root_states = torch.cat([root, global_rotation[:, 0], root_velocity, angular], dim=-1)
    features = compute_humanoid_observations(
        root_states.float(),
        dof_pos.float(),
        dof_vel.float(),
        global_position[:, KEYS].float(),
        task.config.local_root_obs,
    )
    corners = foot_box_corners(global_position[:, FEET], global_rotation[:, FEET])
    return Episode(
        features=features.numpy(),
        key_world=global_position[:, KEYS].numpy(),
        local_rotation=local.float().numpy(),
        foot_corners=corners.numpy(),
        root=torch.cat([root, global_rotation[:, 0]], dim=-1).float().numpy(),
        fell=False,
        dt=dt,
    )


def reference_episodes(task: HumanoidAMP, episodes: int, duration: float, seed: int) -> list[Episode]:
    """``episodes`` stretches of ``duration`` seconds of the reference from random frames, clips drawn by their
    weights (a looping clip repeated, a one-shot clip held at its last frame)."""
    library = task.motion_lib
    generator = np.random.default_rng(seed)
    result = []
    for _ in range(episodes):
        clip = library.get_motion(int(generator.choice(library.num_motions(), p=library.motion_weights.cpu().numpy())))
        frames = max(2, round(duration * clip.fps))
        motion = repeat_loop(clip, copies=2 + math.ceil(duration / clip.duration)) if clip.loop else clip
        result.append(reference_frames(task, motion, int(generator.integers(clip.num_frames)), frames))
    return result


def _reference_sequences(task: HumanoidAMP, episode_steps: int) -> list[Episode]:
    """Each clip at its frame rate (repeated to cover an aligned episode when it loops)."""
    library = task.motion_lib
    sequences = []
    for index in range(library.num_motions()):
        clip = library.get_motion(index)
        if clip.loop:
            copies = 2 + math.ceil(min(episode_steps, MAX_ALIGNED_FRAMES) * task.dt / clip.duration)
            motion = repeat_loop(clip, copies=copies)
        else:
            motion = clip
        sequences.append(reference_frames(task, motion, 0, motion.num_frames))
    return sequences


def gait(episodes: list[Episode]) -> dict[str, float]:
    """Forward speed (m/s, mean over every frame of ``episodes``) and median stride (m, over every complete swing;
    nan without one) of a subject, by :func:`metrics.forward_speeds` and :func:`metrics.stride_lengths`."""
    speeds = np.concatenate(
        [metrics.forward_speeds(e.root[:, :3], e.root[:, 3:], e.dt) for e in episodes if e.length > 1] or [[np.nan]]
    )
    strides = [
        stride
        for e in episodes
        for stride in metrics.stride_lengths(e.key_world[:, FEET_IN_KEYS], e.foot_corners[..., 2].min(axis=-1), e.dt)
    ]
    return {
        "forward_speed_mps": float(np.mean(speeds)),
        "stride_length_m": float(np.median(strides)) if strides else float("nan"),
    }


def clip_gait(task: HumanoidAMP) -> dict[str, float]:
    """:func:`gait` of the task's clips themselves (a looping clip played three times, as ``motion info`` does), the
    figures averaged by the clips' weights (a clip without a complete swing left out of the stride)."""
    library = task.motion_lib
    weights = library.motion_weights.cpu().numpy().astype(np.float64)
    figures = []
    for index in range(library.num_motions()):
        clip = library.get_motion(index)
        motion = repeat_loop(clip) if clip.loop else clip
        figures.append(gait([reference_frames(task, motion, 0, motion.num_frames)]))
    speed = float(np.average([f["forward_speed_mps"] for f in figures], weights=weights))
    strides = np.array([f["stride_length_m"] for f in figures])
    known = np.isfinite(strides)
    stride = float(np.average(strides[known], weights=weights[known])) if known.any() else float("nan")
    return {"forward_speed_mps": speed, "stride_length_m": stride}


def _aligned_errors(episode: Episode, reference: Episode) -> tuple[float, float, float]:
    """Hand/foot position, joint-rotation and hand/foot velocity errors along the DTW alignment."""
    frames = min(episode.length, MAX_ALIGNED_FRAMES)
    query = episode.features[:frames, KEY_SLICE].reshape(frames, 4, 3)
    target = reference.features[:, KEY_SLICE].reshape(-1, 4, 3)
    _, path = metrics.subsequence_dtw(query.reshape(frames, -1), target.reshape(len(target), -1))
    position = np.linalg.norm(query[path[:, 0]] - target[path[:, 1]], axis=-1).mean()
    q0 = torch.from_numpy(episode.local_rotation[path[:, 0], 1:]).double()
    q1 = torch.from_numpy(reference.local_rotation[path[:, 1], 1:]).double()
    rotation = float(rot.quat_angle_between(q0, q1).mean())
    query_velocity = np.gradient(query, episode.dt, axis=0) if frames > 1 else np.zeros_like(query)
    target_velocity = np.gradient(target, reference.dt, axis=0)
    velocity = np.linalg.norm(query_velocity[path[:, 0]] - target_velocity[path[:, 1]], axis=-1).mean()
    return float(position), rotation, float(velocity)


def summarize(
    task: HumanoidAMP,
    episodes: list[Episode],
    references: list[Episode],
    reference_features: np.ndarray,
    seed: int,
    *,
    feature_gaps: bool = False,
) -> dict[str, Any]:
    """Every metric of a subject's ``episodes`` against the clips ``references`` and reference AMP features
    ``[N, 105]`` (see the module docstring); with ``feature_gaps``, also the AMP features farthest from the
    reference's under that key (:mod:`~isaacgymenvs.eval.feature_gaps`)."""
    errors = []
    for episode in episodes:
        candidates = [_aligned_errors(episode, reference) for reference in references]
        errors.append(min(candidates, key=lambda candidate: candidate[0]))
    errors = np.array(errors)
    features = np.concatenate([episode.features for episode in episodes])
    jerk = [
        value
        for episode in episodes
        for key in range(len(KEYS))
        for value in metrics.windowed_normalized_jerk(episode.key_world[:, key], episode.dt, JERK_WINDOW)
    ]
    skate = [metrics.foot_skate(episode.foot_corners, episode.dt) for episode in episodes]
    gaps = {"feature_gaps": largest_gaps(features, reference_features)} if feature_gaps else {}
    return {
        "episodes": len(episodes),
        "fall_rate": float(np.mean([episode.fell for episode in episodes])),
        "mean_episode_length": float(np.mean([(episode.length - 1) * episode.dt / task.dt for episode in episodes])),
        "key_body_error_m": float(errors[:, 0].mean()),
        "joint_rotation_error_rad": float(errors[:, 1].mean()),
        "key_body_velocity_error_mps": float(errors[:, 2].mean()),
        "frechet_distance": metrics.frechet_distance(features, reference_features),
        "classifier_accuracy": metrics.classifier_accuracy(features, reference_features, seed=seed),
        "normalized_jerk": float(np.nanmedian(jerk)) if np.isfinite(jerk).any() else float("nan"),
        "foot_skate_mps": float(np.nanmean(skate)) if np.isfinite(skate).any() else float("nan"),
        **gait(episodes),
        **gaps,
    }


def reference_set(task: HumanoidAMP, episodes: int, seed: int) -> tuple[list[Episode], np.ndarray]:
    """What subjects are scored against: each clip whole (for the DTW alignments, repeated when it loops) and the AMP
    features ``[N, 105]`` of ``episodes`` random stretches of the clips (for the distribution metrics)."""
    episode_steps = task.max_episode_length - 1
    references = _reference_sequences(task, episode_steps)
    duration = min(episode_steps, 100) * task.dt
    stretches = reference_episodes(task, episodes, duration, seed + 1)
    return references, np.concatenate([episode.features for episode in stretches])


def evaluate(task: HumanoidAMP, policies: dict[str, Policy], episodes: int, seed: int = 0) -> dict[str, dict]:
    """Metrics of every policy in ``policies`` and of the reference itself, against the reference; each policy's
    also hold ``feature_gaps``, the AMP features farthest from the reference's
    (:mod:`~isaacgymenvs.eval.feature_gaps`)."""
    torch.manual_seed(seed)
    references, reference_features = reference_set(task, episodes, seed)
    # A second, independent draw of reference stretches is scored like a policy: the floor every metric reaches for
    # motion that is the reference.
    duration = min(task.max_episode_length - 1, 100) * task.dt
    results = {}
    resampled = reference_episodes(task, episodes, duration, seed + 2)
    results["reference (resampled)"] = summarize(task, resampled, references, reference_features, seed)
    results["reference (resampled)"]["mean_episode_length"] = float("nan")  # stretches of a clip, not episodes
    for name, policy in policies.items():
        recorded = rollout(task, policy, episodes)
        results[name] = summarize(task, recorded, references, reference_features, seed, feature_gaps=True)
    return results


METRIC_LABELS = (
    ("fall_rate", "fall rate", "{:.2f}"),
    ("mean_episode_length", "mean episode length (steps, cap 299)", "{:.1f}"),
    ("key_body_error_m", "DTW hand/foot position error (m)", "{:.3f}"),
    ("joint_rotation_error_rad", "DTW joint rotation error (rad)", "{:.3f}"),
    ("key_body_velocity_error_mps", "DTW hand/foot velocity error (m/s)", "{:.2f}"),
    ("frechet_distance", "Fréchet distance (AMP features)", "{:.1f}"),
    ("classifier_accuracy", "classifier accuracy (0.5 = indistinguishable)", "{:.2f}"),
    ("normalized_jerk", "normalised jerk of hands/feet (median)", "{:.0f}"),
    ("foot_skate_mps", "foot skate (m/s)", "{:.3f}"),
)


def markdown_table(results: dict[str, dict]) -> str:
    """The results as a markdown table, one column per subject."""
    names = list(results)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for key, label, template in METRIC_LABELS:
        cells = []
        for name in names:
            value = results[name].get(key, float("nan"))
            cells.append(
                "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else template.format(value)
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
