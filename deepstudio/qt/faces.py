"""Where each tracked face appears, in its media and on the timeline (for the face lanes,
the inspector and effects placed on a face)."""

from __future__ import annotations

import numpy as np

Spans = list[tuple[int, int]]


def face_spans(analysis) -> dict[int, Spans]:
    """Face-track id → runs ``[first, last + 1)`` of consecutive media frames it is seen in."""
    spans = {int(track_id): face_spans_of(track.frames)
             for track_id, track in analysis.tracks.items()}
    return {track_id: runs for track_id, runs in spans.items() if runs}


def face_spans_of(frames) -> Spans:
    """Runs ``[first, last + 1)`` of consecutive frames among ``frames``."""
    frames = np.sort(np.asarray(frames, dtype=np.int64))
    if frames.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(frames) > 1)
    starts = np.concatenate(([frames[0]], frames[breaks + 1]))
    ends = np.concatenate((frames[breaks], [frames[-1]])) + 1
    return [(int(a), int(b)) for a, b in zip(starts, ends)]


def clip_face_spans(project, clip, spans: Spans) -> Spans:
    """The timeline ranges ``[start, end)`` where ``clip`` shows media frames ``spans``
    (through the clip's time mapping: any media rate on any timeline rate)."""
    return [span for first, stop in spans
            if (span := project.clip_frames_span(clip, first, stop)) is not None]


def faces_text(count: int) -> str:
    return f"{count} face{'s' * (count != 1)}"
