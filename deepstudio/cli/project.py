"""``deepstudio new`` and ``deepstudio import``: make a project and bring media in."""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

from deepstudio.cli.main import add_quiet
from deepstudio.cli.progress import ProgressBar
from deepstudio.core.timebase import parse_rate

LOCK_WAIT_S = 30.0
"""How long a command that changes a project waits while another command has it open (an
editor that has it open is reported at once: it does not close by itself)."""


def register(subparsers) -> None:
    p = subparsers.add_parser("new", help="create an empty project folder (Name.dstudio)")
    p.add_argument("folder", type=Path)
    p.add_argument("--name", help="project name (default: the folder name)")
    p.add_argument("--fps", type=_rate, metavar="RATE",
                   help="timeline frame rate, e.g. 24, 25, 29.97 or 24000/1001 (default: that "
                        "of the first video imported); clips of other rates keep their speed")
    p.set_defaults(run=new)
    p = subparsers.add_parser("import", help="add media to a project (placed on the timeline "
                                             "and analysed)")
    p.add_argument("project", type=Path)
    p.add_argument("media", type=Path, nargs="+")
    p.add_argument("--no-analyse", action="store_true", help="skip the face analysis")
    add_quiet(p)
    p.set_defaults(run=import_media)


def _rate(text: str) -> Fraction:
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def open_session(folder: Path, command: str | None = None):
    """The project in ``folder`` opened for the CLI ``command`` that changes it (holding its
    lock: two commands never overwrite each other's changes), or read-only without one."""
    from deepstudio.session import Session

    if command is None:
        return Session.open(folder, read_only=True)
    return Session.open(folder, program=f"deepstudio {command}", wait_s=LOCK_WAIT_S)


def new(args: argparse.Namespace) -> int:
    from deepstudio.core.commands import SetTimelineRate
    from deepstudio.session import Session

    name = args.name or args.folder.name.removesuffix(".dstudio")
    session = Session.create(args.folder, name, program="deepstudio new")
    try:
        if args.fps is not None:
            session.do(SetTimelineRate(args.fps))
            session.save()
    finally:
        session.close()
    print(f"created {args.folder}")
    return 0


def import_media(args: argparse.Namespace) -> int:
    session = open_session(args.project, "import")
    try:
        for path in args.media:
            media_id = session.import_media(path)
            session.add_clip_for_media(media_id)
            media = session.project.media[media_id]
            line = f"{path.name}: {media.duration_s:.2f} s"
            if media.has_video:
                line += (f", {media.frame_count} frames at {float(media.fps):.3f} fps, "
                         f"{media.width}x{media.height}")
            line += ", with sound" if media.has_audio else ""
            if media.has_video and not args.no_analyse:
                bar = ProgressBar(f"Analysing {path.name}", args.quiet)
                tracks = session.analyze_now(media_id, bar).summary()["tracks"]
                bar.done()
                line += "; face tracks: " + (", ".join(
                    f"#{t['id']} (frames {t['first']}-{t['last']})" for t in tracks) or "none")
            print(line)
        session.save()
    finally:
        session.close()
    return 0
