"""Which AMP features tell a policy's frames from the clip's: each of the 105 per-step features named, and ranked by
how far the policy's mean lies from the reference's in pooled standard deviations.

A discriminator that keeps telling agent from clip (``disc acc agent 1.00``) has something to go on; this says what,
in terms a user can act on ("the pelvis runs 6 cm low", "the neck moves where the clip's never does"). It is a
per-feature, first-moment view: a gap in how features move together (a cadence, say) does not show here.
"""

from __future__ import annotations

import numpy as np

from isaacgymenvs.motion.skeleton import AMP_JOINT_LAYOUT, AMP_KEY_BODY_NAMES, JointLayout

# A feature constant in the reference (the DeepMimic clips' neck) gets its gap against this floor instead of zero.
STD_FLOOR = 1e-3


def amp_feature_names(
    joint_layout: JointLayout = AMP_JOINT_LAYOUT, key_bodies: tuple[str, ...] = AMP_KEY_BODY_NAMES
) -> list[str]:
    """Names of the per-step observation's features, in the order ``compute_humanoid_observations`` writes them.

    Root height; the root rotation's tangent and normal (heading removed where the observation removes it); root linear
    and angular velocity in the heading frame; per joint group the tangent and normal of its rotation (3-DOF) or its
    angle (hinge); every DOF's velocity; hand and foot positions relative to the root, heading frame.
    """
    axes = ("x", "y", "z")
    names = ["root height"]
    names += [f"root rotation {part} {axis}" for part in ("tangent", "normal") for axis in axes]
    names += [f"root velocity {axis}" for axis in axes] + [f"root angular velocity {axis}" for axis in axes]
    for group in joint_layout.groups:
        if group.hinge_axis is None:
            names += [f"{group.body} rotation {part} {axis}" for part in ("tangent", "normal") for axis in axes]
        else:
            names.append(f"{group.body} angle")
    names += [f"{name} velocity" for name in joint_layout.dof_names]
    names += [f"{body} position {axis}" for body in key_bodies for axis in axes]
    return names


def standardized_gaps(features: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per feature of ``[N, F]`` subject and ``[M, F]`` reference frames: the difference of the means in pooled
    standard deviations, ``(mean_s - mean_r) / sqrt((var_s + var_r) / 2)`` (the pooled deviation floored at
    ``STD_FLOOR``), and the ratio of the subject's standard deviation to the reference's (floored likewise)."""
    mean_s, mean_r = features.mean(axis=0), reference.mean(axis=0)
    var_s, var_r = features.var(axis=0), reference.var(axis=0)
    pooled = np.maximum(np.sqrt((var_s + var_r) / 2), STD_FLOOR)
    ratio = np.sqrt(var_s) / np.maximum(np.sqrt(var_r), STD_FLOOR)
    return (mean_s - mean_r) / pooled, ratio


def largest_gaps(features: np.ndarray, reference: np.ndarray, count: int = 10) -> list[dict[str, float | str]]:
    """The ``count`` features with the largest absolute standardised gap, largest first, each as a record: name,
    subject and reference mean, gap, and standard-deviation ratio."""
    names = amp_feature_names()
    if features.shape[1] != len(names) or reference.shape[1] != len(names):
        raise ValueError(f"expected {len(names)} features per frame, got {features.shape[1]} and {reference.shape[1]}")
    gaps, ratios = standardized_gaps(features, reference)
    order = np.argsort(-np.abs(gaps), kind="stable")[:count]
    return [
        {
            "feature": names[i],
            "mean": float(features[:, i].mean()),
            "reference_mean": float(reference[:, i].mean()),
            "gap_std": float(gaps[i]),
            "std_ratio": float(ratios[i]),
        }
        for i in order
    ]


def gaps_table(records: list[dict[str, float | str]]) -> str:
    """The records of :func:`largest_gaps` as a markdown table."""
    lines = [
        "| feature | policy mean | clip mean | gap (pooled std) | std policy / clip |",
        "|---|---:|---:|---:|---:|",
    ]
    for record in records:
        lines.append(
            f"| {record['feature']} | {record['mean']:.3f} | {record['reference_mean']:.3f} "
            f"| {record['gap_std']:+.2f} | {record['std_ratio']:.2f} |"
        )
    return "\n".join(lines)
