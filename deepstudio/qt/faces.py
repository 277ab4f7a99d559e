"""Where each tracked face appears, from a face analysis (for the timeline's face lane)."""

from __future__ import annotations

import numpy as np


def face_spans(analysis) -> dict[int, list[tuple[int, int]]]:
    """Face-track id → runs ``[first, last + 1)`` of consecutive media frames it is seen in."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for track_id, track in analysis.tracks.items():
        frames = np.sort(np.asarray(track.frames, dtype=np.int64))
        if frames.size == 0:
            continue
        breaks = np.flatnonzero(np.diff(frames) > 1)
        starts = np.concatenate(([frames[0]], frames[breaks + 1]))
        ends = np.concatenate((frames[breaks], [frames[-1]])) + 1
        spans[int(track_id)] = [(int(a), int(b)) for a, b in zip(starts, ends)]
    return spans


def faces_text(count: int) -> str:
    return f"{count} face{'s' * (count != 1)}"
