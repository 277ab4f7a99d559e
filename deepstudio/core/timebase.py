"""The one mapping between timeline time and media frames.

A clip measures everything in *timeline frames*: its ``start`` on the timeline and its in/out
points inside the media (a *position*: how far into the media, counted at the timeline rate).
So a clip keeps its real duration on any timeline, and picture, sound, face tracks and effects
of one clip all share one clock. Only where a picture is fetched does a position become a frame
of the media, at the media's own rate, here:

* **nearest** — the media frame on screen at the middle of the timeline frame (Resolve's
  "nearest" retime process). Whatever the two rates, a change in the picture (a flash, a
  cut, a clap) then lands within half a *timeline* frame of the sound that goes with it;
* **blend** — the two media frames whose middles lie around the timeline frame's middle and
  how much of the later one to mix in (Resolve's "frame blend").

Preview, render, analysis lookups, face lanes and audio all call these functions; nothing
else converts between the two clocks.
"""

from __future__ import annotations

import math
from fractions import Fraction

Rate = Fraction | int


def media_frame(position: int, media_fps: Rate, timeline_fps: Rate, frame_count: int) -> int:
    """The media frame shown ``position`` timeline frames into the media: the one on screen
    at the middle of that timeline frame (clamped to the media's frames)."""
    middle = (position + Fraction(1, 2)) * Fraction(media_fps) / Fraction(timeline_fps)
    return _clamp(math.floor(middle), frame_count)


def blended_frames(position: int, media_fps: Rate, timeline_fps: Rate,
                   frame_count: int) -> tuple[int, int, float]:
    """``(first, second, weight)``: the frame blend for ``position`` is ``first`` mixed with
    ``weight`` of ``second``, the media frames whose middles lie just before and after the
    middle of the timeline frame."""
    middle = (position + Fraction(1, 2)) * Fraction(media_fps) / Fraction(timeline_fps)
    exact = middle - Fraction(1, 2)  # in media frames, counted between their middles
    first = math.floor(exact)
    weight = float(exact - first)
    return _clamp(first, frame_count), _clamp(first + 1, frame_count), weight


def first_position(frame: int, media_fps: Rate, timeline_fps: Rate) -> int:
    """The first position that :func:`media_frame` maps to ``frame`` or a later frame: media
    frames ``[a, b)`` show at positions ``[first_position(a), first_position(b))``."""
    # media_frame(p) >= frame  <=>  (p + 1/2) * S / T >= frame  <=>  p >= frame * T / S - 1/2
    bound = Fraction(frame) * Fraction(timeline_fps) / Fraction(media_fps) - Fraction(1, 2)
    return max(0, math.ceil(bound))


def positions_for_frames(frame_count: int, media_fps: Rate, timeline_fps: Rate) -> int:
    """How many timeline frames a video of ``frame_count`` frames lasts (at least one)."""
    exact = Fraction(frame_count) * Fraction(timeline_fps) / Fraction(media_fps)
    return max(1, math.floor(exact + Fraction(1, 2)))


def positions_for_seconds(seconds: float, timeline_fps: Rate) -> int:
    """How many whole timeline frames ``seconds`` of sound fill."""
    return math.floor(seconds * Fraction(timeline_fps) + Fraction(1, 1000))


def seconds(position: int, timeline_fps: Rate) -> float:
    """The media time of a position, in seconds."""
    return float(Fraction(position) / Fraction(timeline_fps))


def rescale(frame: int, old_fps: Rate, new_fps: Rate) -> int:
    """The timeline frame at ``new_fps`` that starts nearest to ``frame``'s time at
    ``old_fps`` (monotonic, so edges that meet keep meeting)."""
    exact = Fraction(frame) * Fraction(new_fps) / Fraction(old_fps)
    return math.floor(exact + Fraction(1, 2))


def parse_rate(text: str) -> Fraction:
    """A frame rate as people write it: "25", "24000/1001", or "23.976" / "29.97" / "59.94"
    (the NTSC rates, which are exactly n × 1000/1001). Raises ValueError."""
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{text!r} is not a frame rate (e.g. 25, 29.97, 24000/1001)") from None
    ntsc = Fraction(round(value * Fraction(1001, 1000)) * 1000, 1001)
    if value.denominator != 1 and abs(value - ntsc) < Fraction(1, 200):
        value = ntsc
    if not 1 <= value <= 240:
        raise ValueError(f"{text!r} is not a frame rate between 1 and 240")
    return value


def _clamp(frame: int, frame_count: int) -> int:
    return min(max(frame, 0), max(frame_count - 1, 0))
