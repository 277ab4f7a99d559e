"""Demo media made on the spot: scikit-image's astronaut portrait, animated, with a tone.

No third-party clip ships with DeepStudio; the demo project and the benchmark use this clip
instead. The camera slowly pushes in and sways, so tracking and smoothing have work to do.
The numbers (length, size, camera motion, tone) are the recipe ``resources/demo/recipe.json``.
"""

from __future__ import annotations

import json
import wave
from fractions import Fraction
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from deepstudio.media.encode import AudioSource, EncodeSettings, VideoWriter
from deepstudio.resources import resource


@cache
def recipe() -> dict:
    return json.loads(resource("demo/recipe.json").read_text("utf-8"))


def demo_frames(seconds: float, fps: float | Fraction | None = None,
                size: tuple[int, int] | None = None):
    """Frames of the animated portrait (RGB uint8); the face fills the same share of the
    frame's height at any size (about half), so the face detector finds it in 1080p too."""
    from skimage import data

    portrait = data.astronaut()  # 512x512 RGB, face in the upper middle
    cam = recipe()["camera"]
    fps = fps or recipe()["fps"]
    width, height = size or recipe()["size"]
    base_height = recipe()["size"][1]  # the camera's zoom is for this height
    count = int(round(seconds * fps))
    for k in range(count):
        t = k / fps
        zoom = (cam["zoom"] + cam["zoom_swing"] * np.sin(2 * np.pi * t / cam["zoom_period_s"])
                ) * height / base_height
        angle = cam["sway_degrees"] * np.sin(2 * np.pi * t / cam["sway_period_s"])
        (fx, fy), (dx, dy), (px, py) = cam["face_centre"], cam["drift_px"], cam["drift_period_s"]
        centre = (fx + dx * np.sin(2 * np.pi * t / px), fy + dy * np.cos(2 * np.pi * t / py))
        m = cv2.getRotationMatrix2D(centre, angle, zoom)
        m[:, 2] += (width / 2 - centre[0], height / 2 - centre[1])
        yield cv2.warpAffine(portrait, m, (width, height), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT)


def write_tone(path: Path, seconds: float) -> Path:
    """A soft two-note tone with a gentle pulse, as 16-bit mono WAV."""
    tone = recipe()["tone"]
    rate = tone["sample_rate"]
    t = np.arange(int(seconds * rate)) / rate
    signal = sum(level * np.sin(2 * np.pi * hz * t)
                 for hz, level in zip(tone["notes_hz"], tone["levels"]))
    signal *= 0.6 + 0.4 * np.sin(2 * np.pi * tone["pulse_hz"] * t) ** 2
    return _write_wav(path, signal, rate)


def write_dialogue(path: Path, seconds: float, rate: int = 16000, seed: int = 7) -> Path:
    """A voice-like stand-in for a dialogue recording, as 16-bit mono WAV: a buzz at a
    speaking pitch with a few harmonics, cut into syllables (3-6 a second) and phrases
    with pauses, so a lip-sync effect has loud and quiet stretches to open and close the
    mouth on. It is not speech; it lets the first-hour walkthrough dub without third-party
    audio."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    pitch = 120 + 15 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    buzz = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = np.zeros_like(t)
    start = 0.2
    while start < seconds:
        length = rng.uniform(0.15, 0.3)
        inside = (t >= start) & (t < start + length)
        envelope[inside] = np.sin(np.pi * (t[inside] - start) / length) * rng.uniform(0.5, 1)
        start += length + (rng.uniform(0.4, 0.8) if rng.random() < 0.2 else 0.05)
    return _write_wav(path, 0.3 * buzz * envelope, rate)


def _write_wav(path: Path, signal: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(signal, -1, 1) * 32767).astype(np.int16).tobytes())
    return path


def write_demo_clip(path: Path, seconds: float | None = None,
                    fps: int | Fraction | None = None,
                    size: tuple[int, int] | None = None, preset: str | None = None,
                    crf: int = 18) -> Path:
    """Write the demo clip (H.264 + AAC) to ``path``; what is not given comes from the recipe."""
    seconds = seconds or recipe()["seconds"]
    fps = fps or recipe()["fps"]
    width, height = size or recipe()["size"]
    settings = EncodeSettings(quality=crf, preset=preset or recipe()["x264_preset"])
    tone = write_tone(path.with_name(path.stem + "_tone.wav"), seconds)
    try:
        with VideoWriter(path, width, height, Fraction(fps), settings,
                         AudioSource(tone)) as writer:
            for frame in demo_frames(seconds, fps, (width, height)):
                writer.write(frame)
    finally:
        tone.unlink(missing_ok=True)
    return path
