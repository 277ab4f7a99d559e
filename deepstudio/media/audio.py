"""Reading audio as float samples (any format ffmpeg reads, resampled and downmixed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepstudio.errors import MediaError
from deepstudio.media.ffmpeg import LOCAL_PROTOCOLS, run_ffmpeg
from deepstudio.media.probe import probe


def read_audio(path: str | Path, sample_rate: int = 16000, mono: bool = True,
               start_s: float = 0.0, duration_s: float | None = None) -> np.ndarray:
    """Samples in [-1, 1] as float32: shape (n,) when mono, else (n, channels)."""
    info = probe(path)
    if not info.has_audio:
        raise MediaError("has no audio stream", path)
    args = [*LOCAL_PROTOCOLS]
    if start_s > 0:
        args += ["-ss", f"{start_s:.6f}"]
    if duration_s is not None:
        args += ["-t", f"{duration_s:.6f}"]
    args += ["-i", str(info.path), "-map", "0:a:0", "-vn", "-ar", str(sample_rate)]
    if mono:
        args += ["-ac", "1"]
    args += ["-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"]
    samples = np.frombuffer(run_ffmpeg(args, path), dtype=np.float32).copy()
    if not mono:
        samples = samples.reshape(-1, info.audio[0].channels or 1)
    return samples
