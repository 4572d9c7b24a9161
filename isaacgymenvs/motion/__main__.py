"""Command line for motion files: ``python -m isaacgymenvs.motion {info,convert,list} ...``.

    python -m isaacgymenvs.motion info FILE [--json]      skeleton, frames, fps, duration, speed, feet, smoothness
    python -m isaacgymenvs.motion compare FILE FILE...    the same figures side by side (markdown table)
    python -m isaacgymenvs.motion convert IN OUT          between .npy, .npz, .bvh (and from .txt / built-in names)
    python -m isaacgymenvs.motion view FILE [FILE2] [--out clip.mp4|sheet.png]   kinematic playback, side by side
    python -m isaacgymenvs.motion list                    the built-in clips

Bad input prints one line naming the file (or option) and the problem and exits with status 1; output piped into a
command that stops reading (``| head``) ends quietly with status 141, as other command-line tools do.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from pathlib import Path

from isaacgymenvs.motion.analysis import summarize_motion
from isaacgymenvs.motion.builtin import builtin_clip_names
from isaacgymenvs.motion.files import WRITERS, load_motion, load_motion_set, save_motion
from isaacgymenvs.motion.motion import MotionFileError
from isaacgymenvs.motion.skeleton import AMP_HUMANOID, AMP_JOINT_LAYOUT

# Largest width or height of a rendered frame (pixels).
MAX_VIEW_PIXELS = 8192


def _json_value(value: object) -> object:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _info(target: str, as_json: bool) -> None:
    entries = load_motion_set(target, search_folders=())
    report = []
    for entry in entries:
        summary = summarize_motion(entry.motion).as_dict()
        report.append({"source": entry.source, "weight": entry.weight, **summary})
    if as_json:
        # A figure that does not exist (no complete stride: NaN) is null, so that the output is valid JSON.
        report = [{key: _json_value(value) for key, value in item.items()} for item in report]
        print(json.dumps(report if len(report) > 1 else report[0], indent=2, allow_nan=False))
        return
    total = sum(entry.weight for entry in entries)
    for item in report:
        loops = ", loops" if item["loop"] else ""
        rows = [
            ("file", item["source"]),
            ("skeleton", f"AMP humanoid: {AMP_HUMANOID.num_bodies} bodies, {AMP_JOINT_LAYOUT.num_dofs} DOFs"),
            ("frames", f"{item['frames']} at {item['fps']:g} fps ({item['duration']:.3f} s)" + loops),
            ("root height", f"{item['root_height_min']:.3f} .. {item['root_height_max']:.3f} m"),
            ("speed", f"{item['mean_horizontal_speed']:.2f} m/s mean horizontal, {item['net_speed']:.2f} m/s net"),
            (
                "feet",
                f"ground level {item['ground_level']:+.3f} m, lowest {item['lowest_foot_height']:+.3f} m, "
                f"clearance {item['foot_clearance']:.3f} m",
            ),
            (
                "stride",
                "no complete swing"
                if math.isnan(item["stride_length"])
                else f"{item['stride_length']:.2f} m (median of {item['strides']})",
            ),
            (
                "hands/feet",
                f"max speed {item['max_key_body_speed']:.2f} m/s, "
                f"max acceleration {item['max_key_body_acceleration']:.1f} m/s^2",
            ),
        ]
        if len(report) > 1:
            rows.insert(1, ("weight", f"{item['weight']:g} ({item['weight'] / total:.1%})"))
        width = max(len(label) for label, _ in rows)
        print("\n".join(f"{label:<{width}}  {value}" for label, value in rows))
        print()


_COMPARED = (
    ("frames", "frames", "{:d}"),
    ("fps", "fps", "{:g}"),
    ("duration", "duration (s)", "{:.3f}"),
    ("mean_horizontal_speed", "mean horizontal speed (m/s)", "{:.2f}"),
    ("net_speed", "net speed (m/s)", "{:.2f}"),
    ("root_height_min", "root height min (m)", "{:.3f}"),
    ("root_height_max", "root height max (m)", "{:.3f}"),
    ("ground_level", "foot ground level (m)", "{:+.3f}"),
    ("lowest_foot_height", "lowest foot point (m)", "{:+.3f}"),
    ("foot_clearance", "foot clearance (m)", "{:.3f}"),
    ("stride_length", "stride length (m)", "{:.2f}"),
    ("max_key_body_speed", "max hand/foot speed (m/s)", "{:.2f}"),
    ("max_key_body_acceleration", "max hand/foot acceleration (m/s^2)", "{:.0f}"),
)


def _compare(targets: list[str]) -> None:
    summaries = [summarize_motion(load_motion(target)).as_dict() for target in targets]
    names = [Path(target).name for target in targets]
    print("| figure | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for key, label, template in _COMPARED:
        print(f"| {label} | " + " | ".join(template.format(summary[key]) for summary in summaries) + " |")


def _convert(source: str, target: str) -> None:
    if Path(target).suffix.lower() not in WRITERS:
        raise MotionFileError(
            target,
            f"cannot write format {Path(target).suffix or '(no extension)'!r}; writable: {', '.join(sorted(WRITERS))}",
        )
    motion = load_motion(source)
    save_motion(motion, target)
    print(f"wrote {target}: {motion.num_frames} frames at {motion.fps:g} fps ({motion.duration:.3f} s)")


def _view(files: list[str], output: str | None, width: int, height: int, start: float, seconds: float | None) -> None:
    from isaacgymenvs.video.viewer import render_motions

    if len(files) > 2:
        raise MotionFileError(files[2], "view shows one motion, or two side by side")
    motions = [load_motion(file) for file in files]
    output = output or f"{Path(files[0]).stem}.mp4"
    path = render_motions(motions, output, width=width, height=height, start=start, seconds=seconds)
    print(f"wrote {path}")


def _check_view_options(width: int, height: int, start: float, seconds: float | None) -> None:
    """Options of ``view`` in range (a frame of at most 8192 x 8192 pixels, a finite window)."""
    for option, value in (("--width", width), ("--height", height)):
        if not 16 <= value <= MAX_VIEW_PIXELS:
            raise MotionFileError(option, f"must be from 16 to {MAX_VIEW_PIXELS} pixels, got {value}")
    if not 0 <= start < math.inf:
        raise MotionFileError("--start", f"must be a finite number of seconds >= 0, got {start}")
    if seconds is not None and not 0 < seconds < math.inf:
        raise MotionFileError("--seconds", f"must be a finite number of seconds > 0, got {seconds}")


def _quiet_broken_pipe() -> int:
    """The reader of our output went away (``... | head``): stop quietly, as command-line tools do."""
    # Later writes (and the interpreter's final flush) go nowhere instead of raising again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m isaacgymenvs.motion", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="describe a motion file, motion list or built-in clip")
    info.add_argument("file")
    info.add_argument("--json", action="store_true", help="print the figures as JSON")
    compare = commands.add_parser("compare", help="figures of several motions side by side")
    compare.add_argument("files", nargs="+")
    convert = commands.add_parser("convert", help="convert between formats (chosen by extension)")
    convert.add_argument("input")
    convert.add_argument("output")
    view = commands.add_parser("view", help="render one motion, or two side by side, to .mp4 or a .png contact sheet")
    view.add_argument("files", nargs="+", help="motion files or built-in clip names (one or two)")
    view.add_argument("--out", help="output .mp4 (playback) or .png (poses over time); default <first>.mp4")
    view.add_argument("--width", type=int, default=640)
    view.add_argument("--height", type=int, default=480)
    view.add_argument("--start", type=float, default=0.0, help="start of the window to show (s)")
    view.add_argument("--seconds", type=float, help="length of the window (s); default to the end of the longest")
    commands.add_parser("list", help="list the built-in clips")
    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            _info(args.file, args.json)
        elif args.command == "compare":
            _compare(args.files)
        elif args.command == "convert":
            _convert(args.input, args.output)
        elif args.command == "view":
            _check_view_options(args.width, args.height, args.start, args.seconds)
            _view(args.files, args.out, args.width, args.height, args.start, args.seconds)
        else:
            names = builtin_clip_names()
            print("\n".join(names) if names else "no built-in clips: install pybullet")
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers, rather than at exit
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except MotionFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # outside the files the readers and writers check: a name too long, a full disk
        print(f"error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return 1
    except Exception as error:
        from isaacgymenvs.video.rendering import RenderingUnavailableError

        if isinstance(error, RenderingUnavailableError):
            print(f"error: cannot render: {error}", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
