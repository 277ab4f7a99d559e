"""Test-only video helpers: encode frames through an ffmpeg pipe, transform files, decode.

Video I/O belongs to deepstudio.media; provenance works on frames, so its tests bring their
own small harness around the imageio-ffmpeg binary and cv2.VideoCapture.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()

ATTACKS: dict[str, tuple[str | None, int]] = {
    # name: (video filter or None, CRF of the re-encode)
    "crf28": (None, 28),
    "scale50": ("scale=trunc(iw/4)*2:trunc(ih/4)*2", 18),
    "crop10": ("crop=trunc(iw*0.45)*2:trunc(ih*0.45)*2:trunc(iw*0.07):trunc(ih*0.03)", 18),
    "all": ("crop=trunc(iw*0.45)*2:trunc(ih*0.45)*2:trunc(iw*0.07):trunc(ih*0.03),"
            "scale=trunc(iw/4)*2:trunc(ih/4)*2", 28),
}
"""The ordinary handling the watermark must survive (10 % crop = 10 % off width and height)."""


def read_frames(path: Path, max_frames: int) -> Iterator[np.ndarray]:
    """Up to ``max_frames`` RGB uint8 frames of a video or image file."""
    cap = cv2.VideoCapture(str(path))
    try:
        for _ in range(max_frames):
            ok, bgr = cap.read()
            if not ok:
                return
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def read_timed_frames(path: Path, max_frames: int) -> Iterator[tuple[float, np.ndarray]]:
    """Up to ``max_frames`` frames of a video with their times in seconds (from its frame rate),
    as the watermark detector takes them."""
    fps = video_fps(path)
    for index, frame in enumerate(read_frames(path, max_frames)):
        yield index / fps, frame


def video_fps(path: Path) -> float:
    cap = cv2.VideoCapture(str(path))
    try:
        return float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
    finally:
        cap.release()


def encode_frames(frames: Iterable[np.ndarray], path: Path, fps: float, crf: int = 18) -> None:
    """Encode RGB frames (all one size) to H.264 yuv420p, streamed through a pipe."""
    it = iter(frames)
    first = next(it)
    h, w = first.shape[:2]
    cmd = [FFMPEG, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", f"{fps:.3f}", "-i", "-", "-c:v", "libx264",
           "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p", str(path)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    for frame in (first, *it):
        proc.stdin.write(np.ascontiguousarray(frame).tobytes())
    proc.stdin.close()
    err = proc.stderr.read() if proc.stderr else b""
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg encode failed: {err.decode(errors='replace')}")


def encode_planes(planes: Iterable[np.ndarray], path: Path, fps: float, crf: int = 18) -> None:
    """Encode 4:2:0 planes (Y, U, V stacked, all one size) to H.264, as a render hands them to
    ffmpeg (no RGB round trip, which would clip chroma near black)."""
    it = iter(planes)
    first = next(it)
    h, w = first.shape[0] * 2 // 3, first.shape[1]
    cmd = [FFMPEG, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p",
           "-s", f"{w}x{h}", "-r", f"{fps:.3f}", "-i", "-", "-c:v", "libx264",
           "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p", str(path)]
    data = b"".join(np.ascontiguousarray(p).tobytes() for p in (first, *it))
    subprocess.run(cmd, input=data, check=True, capture_output=True)


def transform(src: Path, dst: Path, attack: str) -> None:
    """Apply one of :data:`ATTACKS` to ``src`` and re-encode it as ``dst``."""
    vf, crf = ATTACKS[attack]
    cmd = [FFMPEG, "-v", "error", "-y", "-i", str(src)]
    if vf:
        cmd += ["-vf", vf]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-an", str(dst)]
    subprocess.run(cmd, check=True, capture_output=True)


def synthetic_video(path: Path, width: int = 320, height: int = 240, seconds: float = 1.0,
                  fps: int = 25) -> None:
    """A tiny synthetic H.264 MP4 (ffmpeg testsrc2) with a sine audio track."""
    cmd = [FFMPEG, "-v", "error", "-y",
           "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}",
           "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
           "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-shortest", str(path)]
    subprocess.run(cmd, check=True, capture_output=True)
