"""Tiny synthetic media made with the ffmpeg binary directly (independent of our encoder)."""

from __future__ import annotations

from pathlib import Path

INDEX_BITS = 12
INDEX_SIZE = (96, 128)  # height, width: a 3x4 grid of 32x32 blocks, one bit each


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(*args: str, stdin: bytes | None = None) -> None:
    import subprocess

    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
                   input=stdin, check=True)


def index_frame(index: int):
    """A frame whose 3x4 black/white blocks spell ``index`` in binary (robust to H.264)."""
    import numpy as np

    h, w = INDEX_SIZE
    frame = np.zeros((h, w, 3), np.uint8)
    for bit in range(INDEX_BITS):
        if index >> bit & 1:
            r, c = divmod(bit, 4)
            frame[r * 32:(r + 1) * 32, c * 32:(c + 1) * 32] = 255
    return frame


def decode_index(frame) -> int:
    """Read back the index of a frame made by :func:`index_frame`."""
    value = 0
    for bit in range(INDEX_BITS):
        r, c = divmod(bit, 4)
        if frame[r * 32 + 8:(r + 1) * 32 - 8, c * 32 + 8:(c + 1) * 32 - 8].mean() > 127:
            value |= 1 << bit
    return value


def make_index_video(path: Path, frames: int = 120, fps: str = "25", gop: int = 12) -> Path:
    """An H.264 clip (with B-frames) whose frame k shows k, plus a tone track."""
    import numpy as np

    raw = np.stack([index_frame(k) for k in range(frames)]).tobytes()
    h, w = INDEX_SIZE
    run_ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", fps, "-i", "pipe:0",
               "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-shortest",
               "-c:v", "libx264", "-g", str(gop), "-bf", "2", "-pix_fmt", "yuv420p",
               "-c:a", "aac", str(path), stdin=raw)
    return path
