"""What the timeline shows where: the video segments and audio parts of a frame range.

Video tracks later in the project's track list lie above earlier ones (V2 over V1, as in
every editor): at each frame the topmost clip is shown; where no clip lies the frame is black.
Audio comes from audio-track clips and from the audio of video clips that carry it, each with
its clip gain; a gain at or below :data:`MUTE_DB` mutes a clip.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from deepstudio.core.project import Clip, Project

MUTE_DB = -60.0


@dataclass(frozen=True)
class Segment:
    """Timeline frames ``[start, start + length)`` showing ``clip`` (None: black)."""

    start: int
    length: int
    clip: Clip | None

    def source_frame(self, timeline_frame: int) -> int:
        assert self.clip is not None
        return self.clip.source_frame(timeline_frame)


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
        for clip in track.clips:
            media = project.media[clip.media_id]
            if not media.has_audio or clip.gain_db <= MUTE_DB:
                continue
            a, b = max(start, clip.start), min(end, clip.end)
            if a >= b:
                continue
            parts.append(AudioPart(
                media_id=clip.media_id, offset_s=float((a - start) / fps),
                in_s=float(clip.source_frame(a) / fps), duration_s=float((b - a) / fps),
                gain_db=clip.gain_db))
    return parts
