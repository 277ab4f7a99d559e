"""Timecode text for frame numbers (non-drop-frame, the rate rounded to whole frames)."""

from __future__ import annotations

from fractions import Fraction


def frames_per_second(fps: Fraction) -> int:
    return max(1, round(fps))


def format_timecode(frame: int, fps: Fraction) -> str:
    """``HH:MM:SS:FF`` of timeline ``frame``."""
    base = frames_per_second(fps)
    frame = max(0, int(frame))
    seconds, ff = divmod(frame, base)
    minutes, ss = divmod(seconds, 60)
    hh, mm = divmod(minutes, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}"


def parse_timecode(text: str, fps: Fraction) -> int | None:
    """The frame a person typed: ``HH:MM:SS:FF`` (leading fields may be left out, so
    ``1:05`` is one second and five frames) or a plain frame count; None if it is neither."""
    parts = text.strip().split(":")
    if not all(p.strip().isdigit() for p in parts) or len(parts) > 4:
        return None
    numbers = [int(p) for p in parts]
    if len(numbers) == 1:
        return numbers[0]
    ff = numbers.pop()
    seconds = 0
    for value in numbers:
        seconds = seconds * 60 + value
    return seconds * frames_per_second(fps) + ff


def format_short(frame: int, fps: Fraction) -> str:
    """A compact ruler label: ``M:SS`` on whole seconds, else ``M:SS:FF``."""
    base = frames_per_second(fps)
    seconds, ff = divmod(max(0, int(frame)), base)
    minutes, ss = divmod(seconds, 60)
    return f"{minutes}:{ss:02d}" if ff == 0 else f"{minutes}:{ss:02d}:{ff:02d}"


def ruler_step(pixels_per_frame: float, fps: Fraction, min_pixels: float = 90) -> int:
    """The smallest 'nice' labelled interval (in frames) at least ``min_pixels`` wide."""
    base = frames_per_second(fps)
    steps = [1, 2, 5, 10] + [base * s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800,
                                                3600)]
    for step in sorted(set(steps)):
        if step * pixels_per_frame >= min_pixels:
            return step
    return steps[-1]
