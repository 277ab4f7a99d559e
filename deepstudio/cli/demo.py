"""``deepstudio demo``: build a small demo project, analyse it and render a result."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepstudio.cli.main import add_quiet
from deepstudio.cli.progress import ProgressBar
from deepstudio.errors import ProjectError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo", help="make a demo project from generated media, analyse it, render it")
    p.add_argument("folder", type=Path, nargs="?", default=Path("DeepStudio Demo.dstudio"),
                   help="project folder to create (default: ./DeepStudio Demo.dstudio)")
    add_quiet(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from deepstudio.core.commands import AddEffect
    from deepstudio.core.effects import default_params
    from deepstudio.core.project import Effect
    from deepstudio.engine.demo_media import write_demo_clip
    from deepstudio.engine.render import RenderSettings
    from deepstudio.session import Session
    from deepstudio.types import new_id

    if (args.folder / "project.json").exists():
        raise ProjectError("already holds a project (remove it or name another folder)",
                           args.folder)
    session = Session.create(args.folder, "DeepStudio Demo", program="deepstudio demo")
    try:
        media_dir = args.folder / "media"
        media_dir.mkdir(exist_ok=True)
        clip_path = write_demo_clip(media_dir / "astronaut.mp4")
        media_id = session.import_media(clip_path)
        clip_id = session.add_clip_for_media(media_id)
        bar = ProgressBar("Analysing", args.quiet)
        analysis = session.analyze_now(media_id, bar)
        bar.done()
        clip = session.project.clip(clip_id)
        track = session.project.track_of_clip(clip_id)
        session.do(AddEffect(Effect(id=new_id("effect"), type="debug", track_id=track.id,
                                    face_track=None, media_id=media_id, start=clip.start,
                                    end=clip.end, params=default_params("debug"))))
        session.save()
        output = session.paths.renders / "demo_debug.mp4"
        bar = ProgressBar("Rendering", args.quiet)
        result = session.render_now(output, RenderSettings(), bar)
        bar.done()
    finally:
        session.close()
    tracks = analysis.summary()["tracks"]
    print(f"Demo project: {args.folder}")
    print(f"  media:   {clip_path} ({clip.length} frames, {len(tracks)} face track(s))")
    print(f"  render:  {result.output} ({result.frames} frames, {result.fps:.1f} fps)")
    print(f"Open it in the editor with: deepstudio open \"{args.folder}\"")
    return 0
