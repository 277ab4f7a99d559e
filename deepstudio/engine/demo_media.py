"""Demo media made on the spot: scikit-image's astronaut portrait, animated, with a tone.

No third-party clip ships with DeepStudio; the demo project and the benchmark use this clip
instead. The camera slowly pushes in and sways, so tracking and smoothing have work to do.
"""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from deepstudio.media.encode import AudioSource, EncodeSettings, VideoWriter

SAMPLE_RATE = 44100


def demo_frames(seconds: float, fps: int = 25, size: tuple[int, int] = (640, 480)):
    """Frames of the animated portrait (RGB uint8); the face fills the same share of the
    frame's height at any size (about half), so the face detector finds it in 1080p too."""
    from skimage import data

    portrait = data.astronaut()  # 512x512 RGB, face in the upper middle
    width, height = size
    count = int(round(seconds * fps))
    for k in range(count):
        t = k / fps
        zoom = (1.6 + 0.15 * np.sin(2 * np.pi * t / 8)) * height / 480
        angle = 4.0 * np.sin(2 * np.pi * t / 5)
        centre = (250 + 10 * np.sin(2 * np.pi * t / 6), 170 + 6 * np.cos(2 * np.pi * t / 7))
        m = cv2.getRotationMatrix2D(centre, angle, zoom)
        m[:, 2] += (width / 2 - centre[0], height / 2 - centre[1])
        yield cv2.warpAffine(portrait, m, (width, height), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT)


def write_tone(path: Path, seconds: float) -> Path:
    """A soft two-note tone with a gentle pulse, as 16-bit mono WAV."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    signal = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 330 * t)
    signal *= 0.6 + 0.4 * np.sin(2 * np.pi * 2 * t) ** 2
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((signal * 32767).astype(np.int16).tobytes())
    return path


def write_demo_clip(path: Path, seconds: float = 6.0, fps: int = 25,
                    size: tuple[int, int] = (640, 480), preset: str = "veryfast",
                    crf: int = 18) -> Path:
    """Write the demo clip (H.264 + AAC) to ``path``."""
    tone = write_tone(path.with_name(path.stem + "_tone.wav"), seconds)
    try:
        settings = EncodeSettings(quality=crf, preset=preset)
        with VideoWriter(path, size[0], size[1], Fraction(fps), settings,
                         AudioSource(tone)) as writer:
            for frame in demo_frames(seconds, fps, size):
                writer.write(frame)
    finally:
        tone.unlink(missing_ok=True)
    return path
