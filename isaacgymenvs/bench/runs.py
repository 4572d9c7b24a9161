"""Training runs as the benchmarks start them: a fresh process (the launcher, torchrun or the skrl example) whose
progress lines are echoed while it runs and parsed afterwards."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# The launcher's progress line (``CommonAgent._print_progress``); the episode length appears once an episode has ended.
LAUNCHER_PROGRESS = re.compile(
    r"^epoch (?P<epoch>\d+)/\d+ \| frames (?P<frames>\d+) \| (?P<total>\d+) samples/s \(env (?P<env>\d+)/s\)"
    r"(?: \| episode length (?P<length>[\d.]+))?"
)
_ITERATION = re.compile(r"^(?:epoch|update) (\d+)/")


def run_streaming(
    command: list[str], cwd: str | Path, label: str, every: int = 1, environment: dict[str, str] | None = None
) -> list[str]:
    """Run ``command`` in ``cwd`` with this checkout importable (and ``environment`` added), echoing every
    ``every``-th progress line (``epoch N/`` or ``update N/``) prefixed with ``label``; its stdout lines. A failure
    raises ``RuntimeError`` with the exit status and the last line of its error output."""
    lines = []
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(environment or {})}
    # stderr goes to a file: a pipe read only at the end could fill up and stall the child
    with tempfile.TemporaryFile(mode="w+") as errors:
        with subprocess.Popen(
            command, cwd=cwd, stdout=subprocess.PIPE, stderr=errors, text=True, env=environment
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line.rstrip("\n"))
                match = _ITERATION.match(line)
                if match and int(match.group(1)) % every == 0:
                    print(f"  {label}: {line.rstrip()}", flush=True)
        if process.returncode != 0:
            errors.seek(0)
            last = errors.read().strip().splitlines()[-1:] or ["(no error output)"]
            raise RuntimeError(f"{label} failed with exit status {process.returncode}: {last[0]}")
    return lines
