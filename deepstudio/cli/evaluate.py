"""``deepstudio evaluate swap|lipsync``: measure the quality of a result (JSON + PNG plot)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from deepstudio.cli.main import add_quiet
from deepstudio.cli.progress import ProgressBar


def register(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="measure swap or lip-sync quality")
    sub = p.add_subparsers(dest="what", metavar="KIND", required=True)
    s = sub.add_parser("swap", help="identity, expression fidelity and flicker of a swap")
    s.add_argument("original", type=Path, help="the video before the swap")
    s.add_argument("swapped", type=Path, help="the swapped video")
    s.add_argument("--source", type=Path, required=True,
                   help="the source person: a faceset folder, a video or a photo")
    _outputs(s)
    s.set_defaults(run=run_swap)
    s = sub.add_parser("lipsync", help="A/V offset and mouth/speech correlation of a video")
    s.add_argument("video", type=Path, help="the lip-synced (or any talking) video")
    s.add_argument("--audio", type=Path,
                   help="the driving audio (default: the video's own soundtrack)")
    s.add_argument("--original", type=Path,
                   help="the untouched clip, to compare mouths when driven by its own audio")
    _outputs(s)
    s.set_defaults(run=run_lipsync)


def _outputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", type=Path, metavar="OUT", help="write all figures as JSON")
    p.add_argument("--plot", type=Path, metavar="PNG", help="write a plot")
    add_quiet(p)


def _cache() -> Path:
    from deepstudio.persistence.settings import user_cache_dir

    return user_cache_dir() / "analysis"


def _check_outputs(args: argparse.Namespace) -> None:
    from deepstudio.media.encode import check_writable

    for path in (args.json, args.plot):
        if path is not None:
            check_writable(path)


def run_swap(args: argparse.Namespace) -> int:
    from deepstudio.engine.evaluate import evaluate_swap

    _check_outputs(args)
    bar = ProgressBar("Evaluating swap", args.quiet)
    result = evaluate_swap(args.original, args.swapped, args.source, _cache(), bar)
    bar.done()
    result.write(args.json, args.plot)
    _print(result.summary)
    return 0


def run_lipsync(args: argparse.Namespace) -> int:
    from deepstudio.engine.evaluate import evaluate_lipsync

    _check_outputs(args)
    bar = ProgressBar("Evaluating lip-sync", args.quiet)
    result = evaluate_lipsync(args.video, _cache(), args.audio, args.original, progress=bar)
    bar.done()
    result.write(args.json, args.plot)
    _print(result.summary)
    return 0


def _print(summary: dict, indent: str = "") -> None:
    for key, value in summary.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print(value, indent + "  ")
        elif isinstance(value, float):
            print(f"{indent}{key:34s} {'n/a' if math.isnan(value) else f'{value:.3f}'}")
        else:
            print(f"{indent}{key:34s} {value}")
