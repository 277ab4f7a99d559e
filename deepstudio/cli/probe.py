"""``deepstudio probe``: what DeepStudio sees in a media file, before anything is decoded."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("probe", help="describe a media file (streams, size, frames)")
    p.add_argument("file", type=Path, help="any video, audio or image file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from deepstudio.media.probe import probe

    info = probe(args.file)
    parts = [info.container]
    if info.has_video:
        rate = f"{float(info.fps):.3f} fps" + (" (variable)" if info.is_vfr else "")
        parts.append(f"video {info.codec} {info.width}x{info.height}, {info.frame_count} "
                     f"frames, {rate}")
        if info.rotation:
            parts.append(f"rotated {info.rotation}°")
    parts += [f"audio {a.codec} {a.sample_rate} Hz, {a.channels} channel(s)" for a in info.audio]
    parts.append(f"{info.duration_s:.2f} s")
    print(f"{info.path.name}: " + " · ".join(parts))
    return 0
