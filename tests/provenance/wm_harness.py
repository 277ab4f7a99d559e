"""Shared by the watermark tests and bench: embed a clip, encode it, attack it, detect."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ffmpeg_util import ATTACKS, encode_frames, read_frames, read_timed_frames, transform, video_fps

from deepstudio.provenance.payload import PAYLOAD_BITS
from deepstudio.provenance.watermark import WatermarkEmbedder
from deepstudio.provenance.wm_detect import detect_in_clip


@dataclass
class ClipResult:
    size: str
    """Frame size of the clip, ``WxH``."""
    psnr_db: float
    embed_ms: float
    bit_accuracy: dict[str, float]
    """Attack name -> fraction of the 48 payload bits recovered (0.5 if nothing decoded)."""
    detected: dict[str, bool]
    untouched_detected: bool
    """Whether a mark was (falsely) reported in the unmarked source frames."""
    untouched_z: float


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def payload_bit_accuracy(found: int | None, payload: int) -> float:
    if found is None:
        return 0.5
    return 1.0 - bin(found ^ payload).count("1") / PAYLOAD_BITS


def run_clip(src: Path, work: Path, payload: int, max_frames: int,
             attacks: tuple[str, ...] = tuple(ATTACKS)) -> ClipResult:
    frames = list(read_frames(src, max_frames))
    fps = video_fps(src)
    times = [i / fps for i in range(len(frames))]
    h, w = frames[0].shape[:2]
    embedder = WatermarkEmbedder(payload, w, h)
    start = time.process_time()  # CPU time: the machine's cores are shared
    marked = [embedder.embed(f, t) for f, t in zip(frames, times)]
    embed_ms = (time.process_time() - start) * 1000 / len(frames)
    quality = float(np.mean([psnr(m, f) for m, f in zip(marked, frames)]))
    encoded = work / f"{src.stem}-marked.mp4"
    encode_frames(marked, encoded, fps)
    accuracy, detected = {}, {}
    for attack in ("none", *attacks):
        path = encoded
        if attack != "none":
            path = work / f"{src.stem}-{attack}.mp4"
            transform(encoded, path, attack)
        result = detect_in_clip(lambda n, p=path: read_timed_frames(p, n), len(frames))
        accuracy[attack] = payload_bit_accuracy(result.payload, payload)
        detected[attack] = result.detected
    untouched = detect_in_clip(lambda n: zip(times[:n], frames[:n]), len(frames))
    return ClipResult(f"{w}x{h}", quality, embed_ms, accuracy, detected, untouched.detected,
                      untouched.sync_z)
