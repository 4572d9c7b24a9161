"""``python -m isaacgymenvs.bench NAME [options]``: run one benchmark (``--help`` lists them; ``NAME --help`` tells
its options)."""

from __future__ import annotations

import importlib
import sys

# name: (module, one-line description). Kept here rather than read from the modules, so that listing them imports
# nothing heavy.
BENCHMARKS = {
    "motion": ("isaacgymenvs.bench.motion", "MotionLib.get_motion_state against the original's per-clip loop"),
    "fidelity": ("isaacgymenvs.bench.fidelity", "a clip played back through the PD servos: how long, how close"),
    "env": ("isaacgymenvs.bench.env", "environment steps/s: the task against raw MuJoCo and pybullet's humanoid"),
    "train": ("isaacgymenvs.bench.train", "end-to-end training samples/s of the launcher, per configuration"),
    "targets": ("isaacgymenvs.bench.targets", "the CPU path's speed targets, repeated: quartiles and rounds met"),
    "limit": ("isaacgymenvs.bench.limit", "the end-to-end ceiling here: raw physics plus the bare networks"),
    "precision": ("isaacgymenvs.bench.precision", "how far bfloat16 networks (mixed_precision) move their outputs"),
    "learners": ("isaacgymenvs.bench.learners", "our AMP agent against skrl's on one task, seed and budget"),
    "skill": ("isaacgymenvs.bench.skill", "samples and training minutes until the policy stands, and imitates"),
    "study": ("isaacgymenvs.bench.skill_study", "the time-to-skill study: variants against the default, compared"),
    "memory": ("isaacgymenvs.bench.memory", "resident memory: peak per environment count, growth over a long run"),
    "terminations": ("isaacgymenvs.bench.terminations", "why episodes end: falls to the ground or self-contact"),
}


def usage() -> str:
    width = max(map(len, BENCHMARKS))
    lines = ["usage: python -m isaacgymenvs.bench NAME [options]   (NAME --help: its options)", "", "benchmarks:"]
    lines += [f"  {name:<{width}}  {description}" for name, (_, description) in BENCHMARKS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if not argv:
        print(usage(), file=sys.stderr)
        return 2
    if argv[0] not in BENCHMARKS:
        print(f"error: unknown benchmark {argv[0]!r}; choices: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    status = importlib.import_module(BENCHMARKS[argv[0]][0]).main(argv[1:])
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
