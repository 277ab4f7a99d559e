"""``deepstudio analyze``: track every face of a video and summarise the result."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepstudio.cli.main import add_quiet
from deepstudio.cli.progress import ProgressBar


def register(subparsers) -> None:
    p = subparsers.add_parser("analyze", aliases=["analyse"],
                              help="track faces in a video and print a summary")
    p.add_argument("input", type=Path, help="video file")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the full result as JSON")
    add_quiet(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from deepstudio.engine.analyse import analyse_media
    from deepstudio.media.encode import check_writable
    from deepstudio.media.probe import probe
    from deepstudio.persistence.settings import user_cache_dir

    probe(args.input, require_video=True)
    if args.json is not None:
        check_writable(args.json)
    bar = ProgressBar(f"Analysing {args.input.name}", args.quiet)
    analysis = analyse_media(args.input, user_cache_dir() / "analysis", bar)
    bar.done()
    summary = analysis.summary()
    if args.json is not None:
        from deepstudio.persistence.atomic import atomic_write_text

        atomic_write_text(args.json, analysis.to_json())  # already JSON text
    print(format_summary(args.input, summary))
    return 0


def format_summary(path: Path, summary: dict) -> str:
    lines = [f"{path.name}: {summary['frames']} frames, {len(summary['tracks'])} face track(s)"]
    per_frame = summary.get("faces_per_frame", {})
    if per_frame:
        lines.append("faces per frame: " + ", ".join(
            f"{k} face(s) in {v} frame(s)" for k, v in sorted(per_frame.items(),
                                                                key=lambda kv: int(kv[0]))))
    for track in summary["tracks"]:
        lines.append(f"  track #{track['id']}: frames {track['first']}-{track['last']} "
                     f"({track['frames']} frames)")
    if summary.get("cuts"):
        lines.append("shot cuts at frames: " + ", ".join(str(c) for c in summary["cuts"]))
    return "\n".join(lines)

