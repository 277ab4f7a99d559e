"""Keyframed parameter values.

A parameter value is either a plain JSON value or ``{"keyframes": [[frame, value], ...]}``
with keys sorted by frame. Numbers interpolate linearly between keys; other values (bools,
strings) hold the previous key's value. Before the first key and after the last, the nearest
key's value holds. All helpers are pure: they return new values and never mutate their input.
"""

from __future__ import annotations

import bisect
from fractions import Fraction
from typing import Any

from deepstudio.core import timebase

KEYFRAMES = "keyframes"


def is_animated(value: Any) -> bool:
    return isinstance(value, dict) and KEYFRAMES in value


def keys(value: Any) -> list[tuple[int, Any]]:
    """The (frame, value) keys of an animated value; a plain value has none."""
    if not is_animated(value):
        return []
    return [(int(f), v) for f, v in value[KEYFRAMES]]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def value_at(value: Any, frame: float) -> Any:
    """The value at ``frame`` (interpolated linearly between numeric keys, held outside)."""
    if not is_animated(value):
        return value
    ks = keys(value)
    if not ks:
        raise ValueError("keyframed value has no keys")
    frames = [f for f, _ in ks]
    i = bisect.bisect_right(frames, frame)
    if i == 0:
        return ks[0][1]
    if i == len(ks):
        return ks[-1][1]
    (f0, v0), (f1, v1) = ks[i - 1], ks[i]
    if not (_is_number(v0) and _is_number(v1)):
        return v0
    t = (frame - f0) / (f1 - f0)
    result = v0 + (v1 - v0) * t
    if isinstance(v0, int) and isinstance(v1, int):
        return round(result)
    return result


def set_key(value: Any, frame: int, key_value: Any) -> dict[str, Any]:
    """``value`` with a key ``key_value`` at ``frame`` (replacing a key at that frame).

    A plain value becomes animated with that single key; its old constant is dropped, since
    one key already holds for every frame."""
    ks = [k for k in keys(value) if k[0] != frame]
    ks.append((int(frame), key_value))
    ks.sort(key=lambda k: k[0])
    return {KEYFRAMES: [[f, v] for f, v in ks]}


def remove_key(value: Any, frame: int) -> Any:
    """``value`` without its key at ``frame``; the last key removed leaves a plain value."""
    ks = keys(value)
    remaining = [k for k in ks if k[0] != frame]
    if len(remaining) == len(ks):
        raise KeyError(f"no keyframe at frame {frame}")
    if len(remaining) == 1:
        return remaining[0][1]
    return {KEYFRAMES: [[f, v] for f, v in remaining]}


def rescaled(value: Any, old_fps: Fraction, new_fps: Fraction) -> Any:
    """``value`` with its keys moved to the same times at another frame rate (keys that land
    on one frame keep the later one)."""
    if not is_animated(value):
        return value
    moved = {timebase.rescale(f, old_fps, new_fps): v for f, v in keys(value)}
    return {KEYFRAMES: [[f, moved[f]] for f in sorted(moved)]}


def check(value: Any) -> None:
    """Raise ValueError unless an animated value is well formed (non-empty, int frames,
    strictly increasing)."""
    if not is_animated(value):
        return
    raw = value[KEYFRAMES]
    if not isinstance(raw, list) or not raw:
        raise ValueError("'keyframes' must be a non-empty list of [frame, value]")
    previous = None
    for key in raw:
        if not (isinstance(key, (list, tuple)) and len(key) == 2 and isinstance(key[0], int)
                and not isinstance(key[0], bool)):
            raise ValueError(f"keyframe {key!r} is not [frame, value]")
        if previous is not None and key[0] <= previous:
            raise ValueError(f"keyframe frames must increase, got {previous} then {key[0]}")
        previous = key[0]
