"""Pictures of a clip at timeline frames: its media's frames picked (or blended) by time.

The render streams a run of timeline frames from one clip; the preview fetches one. Both ask
:mod:`deepstudio.core.timebase` which media frame(s) each timeline frame shows, so a clip of
any frame rate looks the same in both and stays on its sound's clock.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from deepstudio.core import timebase
from deepstudio.core.project import Clip, Project
from deepstudio.media.decode import DecodedFrame, VideoReader


def clip_frames(reader: VideoReader, project: Project, clip: Clip, first: int, stop: int
                ) -> Iterator[tuple[int, int, DecodedFrame | np.ndarray]]:
    """``(timeline frame, media frame, picture)`` for timeline frames ``[first, stop)`` of
    ``clip``, decoding the media once, in order. The picture is the decoded frame itself
    (nearest) or a fresh RGB array (a blend of two frames)."""
    media = project.media[clip.media_id]
    fps = project.timeline_fps()
    frames = range(first, stop)
    if clip.retime == "blend" and media.fps != fps:
        yield from _blended(reader, project, clip, frames)
        return
    wanted = [project.media_frame(clip, f) for f in frames]
    if not wanted:
        return
    decoded = reader.decoded_frames(wanted[0], wanted[-1] + 1)
    index, picture = next(decoded)
    for frame, k in zip(frames, wanted):
        while index < k:
            index, picture = next(decoded)
        yield frame, k, picture


def clip_frame(reader: VideoReader, project: Project, clip: Clip, frame: int
               ) -> tuple[int, np.ndarray]:
    """``(media frame, RGB picture)`` shown at timeline ``frame`` (random access: preview)."""
    media = project.media[clip.media_id]
    fps = project.timeline_fps()
    if clip.retime == "blend" and media.fps != fps:
        a, b, weight = timebase.blended_frames(clip.position_at(frame), media.fps, fps,
                                               media.frame_count)
        return (b if weight >= 0.5 else a), blend(reader.read(a), reader.read(b), weight)
    k = project.media_frame(clip, frame)
    return k, reader.read(k)


def blend(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    """``first`` mixed with ``weight`` of ``second`` (a fresh uint8 array)."""
    if weight <= 0 or first is second:
        return first.copy()
    mixed = first.astype(np.float32) * (1 - weight) + second.astype(np.float32) * weight
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def _blended(reader: VideoReader, project: Project, clip: Clip, frames: range
             ) -> Iterator[tuple[int, int, np.ndarray]]:
    media = project.media[clip.media_id]
    fps = project.timeline_fps()
    picks = [timebase.blended_frames(clip.position_at(f), media.fps, fps, media.frame_count)
             for f in frames]
    if not picks:
        return
    stream = reader.frames(picks[0][0], max(b for _, b, _ in picks) + 1)
    held: dict[int, np.ndarray] = {}
    for frame, (a, b, weight) in zip(frames, picks):
        while b not in held:
            index, picture = next(stream)
            held[index] = picture
        for old in [k for k in held if k < a]:
            del held[old]
        yield frame, (b if weight >= 0.5 else a), blend(held[a], held[b], weight)
