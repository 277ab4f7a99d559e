"""The names people read for things the project knows by id: a media file, a face track, an
effect and a place on the timeline.

Views, the export checks and error messages all name things through these functions, so a
face is "multi_a · face 2" everywhere until a person is assigned to it, and then that
person's name; internal ids never reach the user.
"""

from __future__ import annotations

from pathlib import PurePath

from deepstudio.core.effects import effect_spec
from deepstudio.core.project import Effect, FaceTrackRef, Project
from deepstudio.core.timecode import format_timecode
from deepstudio.errors import UserError


def media_name(project: Project, media_id: str | None) -> str:
    """The file name without its extension ("multi_a"), or "missing media"."""
    media = project.media.get(media_id) if media_id is not None else None
    return PurePath(media.path).stem if media is not None else "missing media"


def face_track_name(project: Project, ref: FaceTrackRef) -> str:
    """The assigned person's name, else "multi_a · face 2"."""
    identity = project.identity_of_face_track(ref)
    if identity is not None:
        return identity.name
    return f"{media_name(project, ref.media_id)} · face {ref.track_id}"


def effect_type_label(effect: Effect) -> str:
    """"Face swap", "Lip-sync" (the type id for a type no code registered)."""
    try:
        return effect_spec(effect.type).label
    except UserError:
        return effect.type


def effect_target(project: Project, effect: Effect) -> str:
    """Whom the effect changes: a face track's name, or "all faces"."""
    if effect.face_track is None or effect.media_id is None:
        return "all faces"
    return face_track_name(project, FaceTrackRef(effect.media_id, effect.face_track))


def effect_name(project: Project, effect: Effect) -> str:
    """"Lip-sync on Anna", "Face swap on multi_a · face 2", "Debug overlay on all faces"."""
    return f"{effect_type_label(effect)} on {effect_target(project, effect)}"


def effect_span(project: Project, effect: Effect) -> str:
    """Where the effect lies on the timeline: "00:00:01:05–00:00:04:00"."""
    return span_text(project, effect.start, effect.end)


def span_text(project: Project, start: int, end: int) -> str:
    """Timeline frames ``start``..``end`` as timecodes: "00:00:01:05–00:00:04:00"."""
    fps = project.timeline_fps()
    return f"{format_timecode(start, fps)}–{format_timecode(end, fps)}"
