"""What the watermark costs a render: VMAF and file size against a plain transcode.

Used by ``bench_watermark.py --quality`` and the quality tests. The render is the real one
(``Session.render_now`` with the default settings: H.264 CRF 18, preset medium, AAC 192k); the
plain transcode is the same encoder settings applied by ffmpeg to the source. VMAF is the
imageio-ffmpeg binary's ``libvmaf`` filter (model vmaf_v0.6.1) against the source, frame by
frame (both streams re-timed by frame index, so a time-base difference cannot pair the wrong
frames, and ending with the shorter one).
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ffmpeg_util import FFMPEG

from deepstudio.media.encode import EncodeSettings

DEFAULT_ENCODE = EncodeSettings()
VMAF_FILTER = "libvmaf=n_threads=2:shortest=1"


@dataclass(frozen=True)
class Cost:
    """A render against a plain transcode of the same source."""

    vmaf_render: float
    vmaf_plain: float
    bytes_render: int
    bytes_plain: int
    render_s: float
    """Wall time of the render (decode, mark, encode)."""
    frames: int

    @property
    def vmaf_drop(self) -> float:
        return self.vmaf_plain - self.vmaf_render

    @property
    def size_growth(self) -> float:
        """Relative growth of the file over the plain transcode (0.1 = +10 %)."""
        return self.bytes_render / self.bytes_plain - 1.0


def vmaf(distorted: Path, reference: Path) -> float:
    """Mean VMAF of ``distorted`` against ``reference`` over the frames both have."""
    graph = ("[0:v]settb=1/1000,setpts=N*40[a];[1:v]settb=1/1000,setpts=N*40[b];"
             f"[a][b]{VMAF_FILTER}")
    err = subprocess.run([FFMPEG, "-i", str(distorted), "-i", str(reference), "-lavfi", graph,
                          "-f", "null", "-"], capture_output=True, text=True).stderr
    found = re.search(r"VMAF score: ([\d.]+)", err)
    if found is None:
        raise RuntimeError(f"no VMAF score for {distorted.name}: {err[-500:]}")
    return float(found.group(1))


def plain_transcode(source: Path, output: Path, frames: int | None = None) -> None:
    """The source (its first ``frames`` frames, or all) through ffmpeg with the render's
    default encoder and audio settings."""
    s = DEFAULT_ENCODE
    limit = [] if frames is None else ["-frames:v", str(frames), "-shortest"]
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(source), *limit, "-map", "0:v:0",
                    "-map", "0:a:0?", "-c:v", "libx264", "-preset", s.preset,
                    "-crf", str(s.quality), "-pix_fmt", "yuv420p", "-c:a", "aac",
                    "-b:a", s.audio_bitrate, str(output)], check=True, capture_output=True)


def render_default(source: Path, output: Path, frames: int | None = None
                   ) -> tuple[float, int]:
    """Render the clip (its first ``frames`` frames, or all) with the default settings, as
    ``deepstudio render`` does (no effect: the render's own work is decoding, the disclosure
    and encoding). Returns (wall seconds, frames rendered)."""
    from deepstudio.cli.render import session_for_video
    from deepstudio.engine.render import RenderSettings

    session = session_for_video(source, "none")
    try:
        started = time.perf_counter()
        result = session.render_now(output, RenderSettings(0, frames, DEFAULT_ENCODE))
        return time.perf_counter() - started, result.frames
    finally:
        session.close()


def measure_cost(source: Path, work: Path, frames: int | None = None) -> Cost:
    """The cost of the mark on the clip's first ``frames`` frames (or all of it)."""
    render, plain = work / f"{source.stem}-render.mp4", work / f"{source.stem}-plain.mp4"
    render_s, frames = render_default(source, render, frames)
    plain_transcode(source, plain, frames)
    return Cost(vmaf(render, source), vmaf(plain, source), render.stat().st_size,
                plain.stat().st_size, render_s, frames)

