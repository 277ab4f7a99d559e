"""What the timeline shows where: the video segments and audio parts of a frame range.

Video tracks later in the project's track list lie above earlier ones (V2 over V1, as in
every editor): at each frame the topmost clip is shown; where no clip lies the frame is black.
Sound comes from the clips of audio tracks (a video file's sound is its linked audio clip),
each with its clip gain; a muted clip or track, or a gain at or below :data:`MUTE_DB`, is
silent. Every clip's sound plays from its position in the media at real speed, the same
clock its picture follows (:mod:`deepstudio.core.timebase`), so the two stay in sync.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from deepstudio.core import timebase
from deepstudio.core.project import Clip, Project

MUTE_DB = -60.0


@dataclass(frozen=True)
class Segment:
    """Timeline frames ``[start, start + length)`` showing ``clip`` (None: black)."""

    start: int
    length: int
    clip: Clip | None


@dataclass(frozen=True)
class AudioPart:
    """``duration_s`` of media ``media_id`` from ``in_s`` placed at ``offset_s`` of the range."""

    media_id: str
    offset_s: float
    in_s: float
    duration_s: float
    gain_db: float


def top_clip_at(project: Project, frame: int) -> Clip | None:
    for track in reversed(project.tracks):
        if track.kind != "video":
            continue
        for clip in track.clips:
            if clip.contains(frame):
                return clip
    return None


def video_segments(project: Project, start: int, end: int) -> list[Segment]:
    """The range cut into runs of consecutive frames shown from one clip (or black)."""
    edges = {start, end}
    for track in project.tracks:
        if track.kind == "video":
            for clip in track.clips:
                edges.update(e for e in (clip.start, clip.end) if start < e < end)
    bounds = sorted(edges)
    segments: list[Segment] = []
    for a, b in itertools.pairwise(bounds):
        clip = top_clip_at(project, a)
        last = segments[-1] if segments else None
        if last is not None and last.clip is clip and clip is None:
            segments[-1] = Segment(last.start, last.length + b - a, None)
        else:
            segments.append(Segment(a, b - a, clip))
    return segments


def audio_parts(project: Project, start: int, end: int) -> list[AudioPart]:
    """Every audible piece of audio within timeline frames ``[start, end)``."""
    fps = project.timeline_fps()
    parts: list[AudioPart] = []
    for track in project.tracks:
        if track.kind != "audio" or track.muted:
            continue
        for clip in track.clips:
            if clip.muted or clip.gain_db <= MUTE_DB:
                continue
            a, b = max(start, clip.start), min(end, clip.end)
            if a >= b:
                continue
            parts.append(AudioPart(
                media_id=clip.media_id, offset_s=timebase.seconds(a - start, fps),
                in_s=timebase.seconds(clip.position_at(a), fps),
                duration_s=timebase.seconds(b - a, fps), gain_db=clip.gain_db))
    return parts
