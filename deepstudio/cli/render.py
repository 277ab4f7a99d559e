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
    p.set_defaults(run=run, prepare=prepare)


def add_encode_options(p: argparse.ArgumentParser) -> None:
    """Encoding and the options every render command shares (range is the command's)."""
    from deepstudio.cli.farm import add_farm_options

    p.add_argument("--codec", choices=["h264", "h265", "prores", "png"], default="h264")
    p.add_argument("--crf", type=int, default=18, help="quality for h264/h265 (lower = better)")
    p.add_argument("--preset", default="medium", help="x264/x265 speed preset")
    p.add_argument("--audio-codec", choices=["aac", "copy", "none"], default="aac",
                   help="re-encode the audio (aac), copy the source stream, or drop it")
    p.add_argument("--encoder-threads", type=int, metavar="N",
                   help="threads of the video encoder (default: every core)")
    p.add_argument("--label", nargs="?", const="", metavar="TEXT",
                   help="also burn in a visible label (default text: AI-modified)")
    p.add_argument("--label-corner", default="bottom-right",
                   choices=["bottom-right", "bottom-left", "top-right", "top-left"])
    add_farm_options(p)


def encode_settings(args: argparse.Namespace):
    from deepstudio.media.encode import EncodeSettings

    return EncodeSettings(codec=args.codec, quality=args.crf, preset=args.preset,
                          audio=args.audio_codec, threads=args.encoder_threads)


def run(args: argparse.Namespace) -> int:
    from deepstudio.cli.farm import deliver

    bar = ProgressBar(f"Rendering {args.output.name}", args.quiet)
    return deliver(args, prepare(args, bar), bar)


def prepare(args: argparse.Namespace, report=None):
    """The session and settings ``render`` renders (see :func:`deepstudio.cli.farm.deliver`)."""
    from deepstudio.cli.farm import PreparedRender
    from deepstudio.session import Session

    if (args.input / "project.json").is_file():
        session = Session.open(args.input, read_only=True)
    else:
        session = session_for_video(args.input, args.effect)
    try:
        return PreparedRender(session, args.output, range_settings(session, args))
    except BaseException:
        session.close()
        raise


def range_settings(session, args: argparse.Namespace):
    """RenderSettings for ``--start/--end`` (seconds) and the encode options of ``args``."""
    from deepstudio.engine.disclosure import LabelSettings
    from deepstudio.engine.render import CHUNK_SECONDS, RenderSettings

    fps = session.project.timeline_fps()
    total = session.project.duration_frames()
    start = round(args.start * fps)
    end = total if args.end is None else min(total, round(args.end * fps))
    if not 0 <= start < end:
        raise UserError(f"empty range: --start {args.start} --end {args.end} "
                        f"(the timeline lasts {float(total / fps):.2f} s)", args.input)
    if args.chunk_seconds is not None and not args.chunk_seconds > 0:
        raise UserError(f"--chunk-seconds must be positive, not {args.chunk_seconds}")
    label = None
    if args.label is not None:
        label = LabelSettings(args.label or LabelSettings().text, args.label_corner)
    return RenderSettings(start, end, encode_settings(args), label,
                          args.chunk_seconds or CHUNK_SECONDS)


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
