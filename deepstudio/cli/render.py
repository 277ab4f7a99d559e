"""``deepstudio render``: render a video (with an effect) or a whole project to a file."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepstudio.cli.main import add_quiet
from deepstudio.cli.progress import ProgressBar
from deepstudio.errors import UserError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "render", help="render a video with an effect, or a project's timeline, to a file")
    p.add_argument("input", type=Path, help="video file, or a project folder (Name.dstudio)")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output file (.mp4/.mov), or a folder for --codec png")
    p.add_argument("--effect", choices=["debug", "none"], default="none",
                   help="effect applied to every face of a video input (default: none)")
    p.add_argument("--start", type=float, default=0.0, metavar="S", help="start time (s)")
    p.add_argument("--end", type=float, default=None, metavar="S", help="end time (s)")
    add_encode_options(p)
    add_quiet(p)
    p.set_defaults(run=run)


def add_encode_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--codec", choices=["h264", "h265", "prores", "png"], default="h264")
    p.add_argument("--crf", type=int, default=18, help="quality for h264/h265 (lower = better)")
    p.add_argument("--preset", default="medium", help="x264/x265 speed preset")
    p.add_argument("--audio-codec", choices=["aac", "copy", "none"], default="aac",
                   help="re-encode the audio (aac), copy the source stream, or drop it")
    p.add_argument("--chunk-seconds", type=float, metavar="S",
                   help="encode in resumable chunks of S seconds (default 30): a render that "
                        "was stopped or killed continues where it was when run again with the "
                        "same arguments, redoing at most one chunk")


def encode_settings(args: argparse.Namespace):
    from deepstudio.media.encode import EncodeSettings

    return EncodeSettings(codec=args.codec, quality=args.crf, preset=args.preset,
                          audio=args.audio_codec)


def run(args: argparse.Namespace) -> int:
    from deepstudio.session import Session

    if (args.input / "project.json").is_file():
        session = Session.open(args.input, read_only=True)
    else:
        session = session_for_video(args.input, args.effect)
    try:
        settings = range_settings(session, args)
        bar = ProgressBar(f"Rendering {args.output.name}", args.quiet)
        result = session.render_now(args.output, settings, bar)
        bar.done()
    finally:
        session.close()
    if not args.quiet:
        print(result.summary())
    return 0


def range_settings(session, args: argparse.Namespace):
    """RenderSettings for ``--start/--end`` (seconds) and the encode options of ``args``."""
    from dataclasses import replace

    from deepstudio.engine.render import RenderSettings

    fps = session.project.timeline_fps()
    total = session.project.duration_frames()
    start = round(args.start * fps)
    end = total if args.end is None else min(total, round(args.end * fps))
    if not 0 <= start < end:
        raise UserError(f"empty range: --start {args.start} --end {args.end} "
                        f"(the timeline lasts {float(total / fps):.2f} s)", args.input)
    settings = RenderSettings(start, end, encode_settings(args))
    if args.chunk_seconds is not None:
        if not args.chunk_seconds > 0:
            raise UserError(f"--chunk-seconds must be positive, not {args.chunk_seconds}")
        settings = replace(settings, chunk_seconds=args.chunk_seconds)
    return settings


def session_for_video(path: Path, effect: str):
    """An in-memory project holding one video clip and, optionally, an effect over it all."""
    from deepstudio.core.commands import AddEffect
    from deepstudio.core.effects import default_params
    from deepstudio.core.project import Effect
    from deepstudio.media.probe import probe
    from deepstudio.session import Session
    from deepstudio.types import new_id

    probe(path, require_video=True)
    session = Session.in_memory(path.stem)
    media_id = session.import_media(path)
    clip_id = session.add_clip_for_media(media_id)
    if effect != "none":
        clip = session.project.clip(clip_id)
        track = session.project.track_of_clip(clip_id)
        session.do(AddEffect(Effect(id=new_id("effect"), type=effect, track_id=track.id,
                                    face_track=None, media_id=media_id, start=clip.start,
                                    end=clip.end, params=default_params(effect))))
    return session
