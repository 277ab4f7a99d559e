"""Print how much CPU x264 spends on a clip's frames as they are, watermarked, with the debug
overlay, and with both (the same encoder settings as ``deepstudio bench``).

Run from the repository root: python tests/engine/bench_encode_cost.py CLIP [FRAMES]
The frames are decoded once and held in memory; each variant is piped into its own ffmpeg and
its user + system CPU read with getrusage, so the machine's other load matters less than in a
wall-time figure.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from deepstudio.engine.analyse import analyse_media
from deepstudio.engine.overlays import Overlays, draw_faces
from deepstudio.engine.render import faces_on_frame
from deepstudio.media.decode import VideoReader
from deepstudio.media.ffmpeg import ffmpeg_exe
from deepstudio.provenance.watermark import WatermarkEmbedder


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def encode(frames, size: tuple[int, int], fps: float, out: Path) -> tuple[float, float]:
    """(CPU seconds, MB) of x264 medium CRF 18 on ``frames``."""
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{size[0]}x{size[1]}", "-r", f"{fps:.3f}", "-i", "-", "-c:v", "libx264",
           "-preset", "medium", "-crf", "18", "-pix_fmt", "yuv420p", str(out)]
    before = children_cpu_s()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for frame in frames:
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    proc.wait()
    return children_cpu_s() - before, out.stat().st_size / 1e6


def main() -> None:
    clip = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    with VideoReader(clip) as reader:
        info = reader.info
        frames = [frame for _, frame in reader.frames(0, count)]
    with tempfile.TemporaryDirectory() as work:
        analysis = analyse_media(clip, Path(work) / "cache")
        embedder = WatermarkEmbedder(0x1234_5678_9ABC, info.width, info.height)
        fps = float(info.fps)

        def debug(index: int, frame):
            return draw_faces(frame.copy(), faces_on_frame(analysis, index), Overlays())

        variants = {
            "plain": lambda: frames,
            "watermark": lambda: (embedder.embed(f, i / fps) for i, f in enumerate(frames)),
            "debug overlay": lambda: (debug(i, f) for i, f in enumerate(frames)),
            "both": lambda: (embedder.embed(debug(i, f), i / fps) for i, f in enumerate(frames)),
        }
        print(f"{clip.name}: {len(frames)} frames {info.width}x{info.height}, "
              "x264 medium CRF 18")
        for name, make in variants.items():
            cpu, mb = encode(make(), (info.width, info.height), float(info.fps),
                             Path(work) / "out.mp4")
            print(f"  {name:14s} x264 CPU {cpu:6.2f} s   file {mb:5.2f} MB", flush=True)


if __name__ == "__main__":
    main()
