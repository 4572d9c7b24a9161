"""``python -m isaacgymenvs.bench NAME [options]``: run one benchmark (``motion``, ``fidelity``, ...)."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "motion": "isaacgymenvs.bench.motion",
    "fidelity": "isaacgymenvs.bench.fidelity",
    "env": "isaacgymenvs.bench.env",
    "train": "isaacgymenvs.bench.train",
    "learners": "isaacgymenvs.bench.learners",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in BENCHMARKS:
        print(f"usage: python -m isaacgymenvs.bench {{{','.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        return 2
    importlib.import_module(BENCHMARKS[argv[0]]).main(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
