"""Shared by the watermark tests and bench: embed a clip, encode it, attack it, detect.

The clip is marked on the path a video render takes: its frames' 4:2:0 planes, encoded from
those planes (the RGB path, used for PNG stills, has its own tests)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ffmpeg_util import ATTACKS, encode_planes, read_frames, read_timed_frames, transform, video_fps

from deepstudio.media.decode import rgb_to_i420
from deepstudio.provenance.payload import PAYLOAD_BITS
from deepstudio.provenance.watermark import WatermarkEmbedder
from deepstudio.provenance.wm_detect import detect_in_clip


@dataclass
class ClipResult:
    size: str
    """Frame size of the clip, ``WxH``."""
    psnr_db: float
    """PSNR of the marked frames' luma against the source's (all that VMAF looks at)."""
    cb_rms: float
    """RMS change of the U (Cb) plane, video-range levels (the mark of large frames)."""
    embed_ms: float
    bit_accuracy: dict[str, float]
    """Attack name -> fraction of the 48 payload bits recovered (0.5 if nothing decoded)."""
    detected: dict[str, bool]
    sync_z: dict[str, float]
    """Attack name -> the sync z-score of the reading."""
    untouched_detected: bool
    """Whether a mark was (falsely) reported in the unmarked source frames."""
    untouched_z: float


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def luma_psnr_and_cb_rms(marked: np.ndarray, planes: np.ndarray) -> tuple[float, float]:
    """(luma PSNR in dB, RMS change of the U plane in video-range levels) of marked 4:2:0
    planes against the source's."""
    h, w = planes.shape[0] * 2 // 3, planes.shape[1]
    quarter = (h // 2) * (w // 2)
    cb_change = (marked.reshape(-1)[h * w:h * w + quarter].astype(float)
                 - planes.reshape(-1)[h * w:h * w + quarter])
    return psnr(marked[:h], planes[:h]), float(np.sqrt(np.mean(cb_change ** 2)))


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
    planes = [rgb_to_i420(f) for f in frames]
    start = time.process_time()  # CPU time: the machine's cores are shared
    marked = [embedder.embed_i420(p.copy(), t) for p, t in zip(planes, times)]
    embed_ms = (time.process_time() - start) * 1000 / len(frames)
    quality, cb_rms = np.mean([luma_psnr_and_cb_rms(m, p) for m, p in zip(marked, planes)],
                              axis=0)
    encoded = work / f"{src.stem}-marked.mp4"
    encode_planes(marked, encoded, fps)
    accuracy, detected, sync_z = {}, {}, {}
    for attack in ("none", *attacks):
        path = encoded
        if attack != "none":
            path = work / f"{src.stem}-{attack}.mp4"
            transform(encoded, path, attack)
        result = detect_in_clip(lambda n, p=path: read_timed_frames(p, n))
        accuracy[attack] = payload_bit_accuracy(result.payload, payload)
        detected[attack] = result.detected
        sync_z[attack] = result.sync_z
    untouched = detect_in_clip(lambda n: zip(times[:n], frames[:n]))
    return ClipResult(f"{w}x{h}", float(quality), float(cb_rms), embed_ms, accuracy, detected,
                      sync_z, untouched.detected, untouched.sync_z)
