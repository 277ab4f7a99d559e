"""The project document: media, timeline tracks and clips, effects, identities, models.

Plain mutable dataclasses with ``to_dict()``/``from_dict()``. Nothing here changes a project
on its own; :mod:`deepstudio.core.commands` is the only write path.

Time is counted in timeline frames at :meth:`Project.timeline_fps`, for everything: a clip's
``start``, an effect's ``start``/``end``, and a clip's in/out points inside its media
(``in_frame``/``out_frame``, out exclusive: how far into the media, at the timeline rate). A
clip therefore lasts as long as its media on any timeline; :mod:`deepstudio.core.timebase`
turns a position into a frame of the media at the media's own rate (a 30 fps clip on a 25 fps
timeline shows the media frame nearest in time, never a stretched run of frames).

A video file's sound is a separate clip on an audio track, *linked* to its picture (same
``link``): edits that move, trim, split or delete one apply to both until they are unlinked.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any, Literal

from deepstudio.core import keyframes, timebase
from deepstudio.types import FrameIndex, Id

SCHEMA_VERSION = 2
"""Version of the project document layout; bumped together with a persistence migration."""

DEFAULT_FPS = Fraction(25)
"""Timeline rate of a project that holds no video yet."""

TrackKind = Literal["video", "audio"]
Retime = Literal["nearest", "blend"]
RETIME_MODES = ("nearest", "blend")
ModelKind = Literal["faceswap", "lipsync"]
CONSENT_SCOPES = ("train", "swap", "lipsync")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _iso_date(value: str | None, what: str) -> str | None:
    """Check that ``value`` is an ISO date (YYYY-MM-DD) or None; return it unchanged."""
    if value is None:
        return None
    _require(isinstance(value, str), f"{what} must be an ISO date string, got {value!r}")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what} is not an ISO date (YYYY-MM-DD): {value!r}") from None
    return value


@dataclass
class MediaItem:
    """An imported media file; ``path`` is relative to the project folder when possible."""

    id: Id
    path: str
    content_hash: str
    duration_s: float
    frame_count: int
    fps_num: int
    fps_den: int
    width: int
    height: int
    has_video: bool
    has_audio: bool

    @property
    def fps(self) -> Fraction:
        return Fraction(self.fps_num, self.fps_den)

    def length_frames(self, timeline_fps: Fraction) -> int:
        """Timeline frames a clip of this media may span: its frames' duration, or for
        audio-only media its sound's, at the timeline rate."""
        if self.has_video:
            return timebase.positions_for_frames(self.frame_count, self.fps, timeline_fps)
        return timebase.positions_for_seconds(self.duration_s, timeline_fps)

    def frame_at(self, position: int, timeline_fps: Fraction) -> int:
        """The media frame shown ``position`` timeline frames into this media."""
        return timebase.media_frame(position, self.fps, timeline_fps, self.frame_count)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "path": self.path, "content_hash": self.content_hash,
            "duration_s": self.duration_s, "frame_count": self.frame_count,
            "fps_num": self.fps_num, "fps_den": self.fps_den,
            "width": self.width, "height": self.height,
            "has_video": self.has_video, "has_audio": self.has_audio,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MediaItem:
        item = cls(
            id=Id(str(d["id"])), path=str(d["path"]), content_hash=str(d["content_hash"]),
            duration_s=float(d["duration_s"]), frame_count=int(d["frame_count"]),
            fps_num=int(d["fps_num"]), fps_den=int(d["fps_den"]),
            width=int(d["width"]), height=int(d["height"]),
            has_video=bool(d["has_video"]), has_audio=bool(d["has_audio"]),
        )
        _require(item.fps_num > 0 and item.fps_den > 0, f"media {item.id}: fps must be positive")
        _require(item.frame_count >= 0 and item.duration_s >= 0,
                 f"media {item.id}: negative length")
        return item


@dataclass
class Clip:
    """The part ``[in_frame, out_frame)`` of a media file (positions in timeline frames from
    the media's start) placed at timeline frame ``start``.

    ``link`` groups a video clip with the audio clip of the same file (None: unlinked);
    ``retime`` picks how a media of another frame rate fills timeline frames (see
    :mod:`deepstudio.core.timebase`); ``gain_db`` and ``muted`` apply to sound."""

    id: Id
    media_id: Id
    start: FrameIndex
    in_frame: FrameIndex
    out_frame: FrameIndex
    gain_db: float = 0.0
    muted: bool = False
    link: Id | None = None
    retime: Retime = "nearest"

    @property
    def length(self) -> int:
        return self.out_frame - self.in_frame

    @property
    def end(self) -> FrameIndex:
        """Timeline frame just after the clip's last frame."""
        return self.start + self.length

    def contains(self, frame: FrameIndex) -> bool:
        return self.start <= frame < self.end

    def position_at(self, frame: FrameIndex) -> FrameIndex:
        """How far into the media (in timeline frames) timeline ``frame`` lies."""
        return self.in_frame + (frame - self.start)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "media_id": self.media_id, "start": self.start,
                "in_frame": self.in_frame, "out_frame": self.out_frame, "gain_db": self.gain_db,
                "muted": self.muted, "link": self.link, "retime": self.retime}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Clip:
        link = d.get("link")
        clip = cls(id=Id(str(d["id"])), media_id=Id(str(d["media_id"])), start=int(d["start"]),
                   in_frame=int(d["in_frame"]), out_frame=int(d["out_frame"]),
                   gain_db=float(d.get("gain_db", 0.0)), muted=bool(d.get("muted", False)),
                   link=None if link is None else Id(str(link)),
                   retime=d.get("retime", "nearest"))
        _require(clip.start >= 0 and clip.in_frame >= 0 and clip.out_frame > clip.in_frame,
                 f"clip {clip.id}: invalid range start={clip.start} "
                 f"in={clip.in_frame} out={clip.out_frame}")
        _require(clip.retime in RETIME_MODES,
                 f"clip {clip.id}: unknown retime {clip.retime!r} (known: {list(RETIME_MODES)})")
        return clip


@dataclass
class Track:
    """A timeline lane; its clips are kept sorted by start and never overlap."""

    id: Id
    kind: TrackKind
    name: str
    clips: list[Clip] = field(default_factory=list)
    muted: bool = False
    """Audio tracks only: the track is left out of playback and render."""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "name": self.name, "muted": self.muted,
                "clips": [c.to_dict() for c in self.clips]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Track:
        kind = d["kind"]
        _require(kind in ("video", "audio"), f"track {d.get('id')}: unknown kind {kind!r}")
        clips = sorted((Clip.from_dict(c) for c in d.get("clips", [])), key=lambda c: c.start)
        for a, b in itertools.pairwise(clips):
            _require(a.end <= b.start, f"track {d['id']}: clips {a.id} and {b.id} overlap")
        return cls(id=Id(str(d["id"])), kind=kind, name=str(d.get("name", "")), clips=clips,
                   muted=bool(d.get("muted", False)))


@dataclass
class Effect:
    """An effect on timeline frames ``[start, end)`` of a track, optionally aimed at one face
    track (from the analysis of ``media_id``). Parameter values may be keyframed; keyframe
    frames count from the effect's ``start``."""

    id: Id
    type: str
    track_id: Id
    face_track: int | None
    media_id: Id | None
    start: FrameIndex
    end: FrameIndex
    params: dict[str, Any] = field(default_factory=dict)

    def contains(self, frame: FrameIndex) -> bool:
        return self.start <= frame < self.end

    def param_at(self, name: str, frame: FrameIndex) -> Any:
        """Value of parameter ``name`` at timeline ``frame`` (keyframes interpolated)."""
        return keyframes.value_at(self.params[name], frame - self.start)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "track_id": self.track_id,
                "face_track": self.face_track, "media_id": self.media_id,
                "start": self.start, "end": self.end, "params": self.params}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Effect:
        face_track = d.get("face_track")
        media_id = d.get("media_id")
        params = d.get("params", {})
        _require(isinstance(params, dict), f"effect {d.get('id')}: params must be an object")
        effect = cls(id=Id(str(d["id"])), type=str(d["type"]), track_id=Id(str(d["track_id"])),
                     face_track=None if face_track is None else int(face_track),
                     media_id=None if media_id is None else Id(str(media_id)),
                     start=int(d["start"]), end=int(d["end"]), params=dict(params))
        _require(0 <= effect.start < effect.end,
                 f"effect {effect.id}: invalid range {effect.start}..{effect.end}")
        return effect


@dataclass(frozen=True)
class FaceTrackRef:
    """One face track of the analysis of one media file."""

    media_id: Id
    track_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"media_id": self.media_id, "track_id": self.track_id}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FaceTrackRef:
        return cls(media_id=Id(str(d["media_id"])), track_id=int(d["track_id"]))


@dataclass
class ConsentRecord:
    """A person's recorded consent to be trained on / swapped / lip-synced.

    ``date``, ``expiry`` and ``revoked_date`` are ISO dates; ``evidence`` is a path to a
    signed form or recording, if any."""

    id: Id
    person: str
    recorded_by: str
    date: str
    scope: list[str]
    expiry: str | None = None
    evidence: str | None = None
    revoked: bool = False
    revoked_date: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "person": self.person, "recorded_by": self.recorded_by,
                "date": self.date, "scope": list(self.scope), "expiry": self.expiry,
                "evidence": self.evidence, "revoked": self.revoked,
                "revoked_date": self.revoked_date}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConsentRecord:
        rid = str(d["id"])
        scope = [str(s) for s in d["scope"]]
        bad = [s for s in scope if s not in CONSENT_SCOPES]
        _require(not bad, f"consent {rid}: unknown scope {bad} (known: {list(CONSENT_SCOPES)})")
        return cls(id=Id(rid), person=str(d["person"]), recorded_by=str(d["recorded_by"]),
                   date=_iso_date(d["date"], f"consent {rid} date"),  # type: ignore[arg-type]
                   scope=scope, expiry=_iso_date(d.get("expiry"), f"consent {rid} expiry"),
                   evidence=None if d.get("evidence") is None else str(d["evidence"]),
                   revoked=bool(d.get("revoked", False)),
                   revoked_date=_iso_date(d.get("revoked_date"), f"consent {rid} revoked_date"))


@dataclass
class Identity:
    """A person: the face tracks that show them and their consent records."""

    id: Id
    name: str
    face_tracks: list[FaceTrackRef] = field(default_factory=list)
    consents: list[ConsentRecord] = field(default_factory=list)

    def consent(self, consent_id: Id) -> ConsentRecord:
        for record in self.consents:
            if record.id == consent_id:
                return record
        raise KeyError(f"identity {self.name!r} has no consent record {consent_id}")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name,
                "face_tracks": [f.to_dict() for f in self.face_tracks],
                "consents": [c.to_dict() for c in self.consents]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Identity:
        return cls(id=Id(str(d["id"])), name=str(d["name"]),
                   face_tracks=[FaceTrackRef.from_dict(f) for f in d.get("face_tracks", [])],
                   consents=[ConsentRecord.from_dict(c) for c in d.get("consents", [])])


@dataclass
class ModelRef:
    """A trained or imported model file (``path`` relative to the project when possible)
    and the sha256 of its model card, trained for the listed identities."""

    id: Id
    name: str
    kind: ModelKind
    path: str
    card_sha256: str
    identities: list[Id] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kind": self.kind, "path": self.path,
                "card_sha256": self.card_sha256, "identities": list(self.identities)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelRef:
        kind = d["kind"]
        _require(kind in ("faceswap", "lipsync"), f"model {d.get('id')}: unknown kind {kind!r}")
        return cls(id=Id(str(d["id"])), name=str(d["name"]), kind=kind, path=str(d["path"]),
                   card_sha256=str(d["card_sha256"]),
                   identities=[Id(str(i)) for i in d.get("identities", [])])


def _rate(value: Any) -> Fraction | None:
    """A ``[numerator, denominator]`` frame rate from a project file (None stays None)."""
    if value is None:
        return None
    _require(isinstance(value, list) and len(value) == 2,
             f"timeline_fps must be [numerator, denominator], got {value!r}")
    num, den = int(value[0]), int(value[1])
    _require(num > 0 and den > 0 and 1 <= num / den <= 240,
             f"timeline_fps {num}/{den} is not a frame rate")
    return Fraction(num, den)


def _by_id(items: list[Any], what: str) -> dict[Id, Any]:
    out: dict[Id, Any] = {}
    for item in items:
        _require(item.id not in out, f"duplicate {what} id {item.id}")
        out[item.id] = item
    return out


@dataclass
class Project:
    """The whole editable document."""

    name: str
    media: dict[Id, MediaItem] = field(default_factory=dict)
    tracks: list[Track] = field(default_factory=list)
    effects: dict[Id, Effect] = field(default_factory=dict)
    identities: dict[Id, Identity] = field(default_factory=dict)
    models: dict[Id, ModelRef] = field(default_factory=dict)
    fps: Fraction | None = None
    """The timeline rate; None until chosen (the first video imported sets it)."""
    schema_version: int = SCHEMA_VERSION

    # --- time -----------------------------------------------------------------------------

    def timeline_fps(self) -> Fraction:
        """The timeline rate, or :data:`DEFAULT_FPS` while none is chosen."""
        return self.fps if self.fps is not None else DEFAULT_FPS

    def duration_frames(self) -> int:
        """Timeline frame just after the last clip or effect (0 for an empty timeline)."""
        ends = [c.end for t in self.tracks for c in t.clips]
        ends += [e.end for e in self.effects.values()]
        return max(ends, default=0)

    def media_length(self, media_id: Id) -> int:
        """Frames a clip of ``media_id`` may span (see :meth:`MediaItem.length_frames`)."""
        return self.media[media_id].length_frames(self.timeline_fps())

    def media_frame(self, clip: Clip, frame: FrameIndex) -> int:
        """The frame of ``clip``'s media shown at timeline ``frame`` (nearest in time)."""
        return self.media[clip.media_id].frame_at(clip.position_at(frame), self.timeline_fps())

    def clip_frames_span(self, clip: Clip, first: int, stop: int) -> tuple[int, int] | None:
        """The timeline frames ``[a, b)`` of ``clip`` that show media frames ``[first, stop)``
        (None where the clip shows none of them): how face lanes place a track's frames."""
        media = self.media[clip.media_id]
        fps = self.timeline_fps()
        a = clip.start + timebase.first_position(first, media.fps, fps) - clip.in_frame
        b = clip.start + timebase.first_position(stop, media.fps, fps) - clip.in_frame
        a, b = max(a, clip.start), min(b, clip.end)
        return (a, b) if a < b else None

    # --- lookups --------------------------------------------------------------------------

    def track(self, track_id: Id) -> Track:
        for track in self.tracks:
            if track.id == track_id:
                return track
        raise KeyError(f"no track {track_id}")

    def track_of_clip(self, clip_id: Id) -> Track:
        for track in self.tracks:
            if any(c.id == clip_id for c in track.clips):
                return track
        raise KeyError(f"no clip {clip_id}")

    def clip(self, clip_id: Id) -> Clip:
        for track in self.tracks:
            for clip in track.clips:
                if clip.id == clip_id:
                    return clip
        raise KeyError(f"no clip {clip_id}")

    def clips(self) -> list[tuple[Track, Clip]]:
        """Every clip with its track, in track order then time order."""
        return [(t, c) for t in self.tracks for c in t.clips]

    def clips_at(self, frame: FrameIndex,
                 kind: TrackKind | None = None) -> list[tuple[Track, Clip]]:
        """Clips under timeline ``frame`` (at most one per track), in track order."""
        return [(t, c) for t, c in self.clips()
                if c.contains(frame) and (kind is None or t.kind == kind)]

    def clips_using_media(self, media_id: Id) -> list[Clip]:
        return [c for _, c in self.clips() if c.media_id == media_id]

    def linked(self, clip: Clip) -> list[tuple[Track, Clip]]:
        """The other clips linked to ``clip`` (its picture's sound or its sound's picture)."""
        if clip.link is None:
            return []
        return [(t, c) for t, c in self.clips() if c.link == clip.link and c.id != clip.id]

    def effects_at(self, frame: FrameIndex, track_id: Id | None = None) -> list[Effect]:
        return [e for e in self.effects.values()
                if e.contains(frame) and (track_id is None or e.track_id == track_id)]

    def identity_of_face_track(self, ref: FaceTrackRef) -> Identity | None:
        for identity in self.identities.values():
            if ref in identity.face_tracks:
                return identity
        return None

    # --- (de)serialisation ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "media": [m.to_dict() for m in self.media.values()],
            "tracks": [t.to_dict() for t in self.tracks],
            "effects": [e.to_dict() for e in self.effects.values()],
            "identities": [i.to_dict() for i in self.identities.values()],
            "models": [m.to_dict() for m in self.models.values()],
            "timeline_fps": None if self.fps is None else [self.fps.numerator,
                                                            self.fps.denominator],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Project:
        """Build a project from :meth:`to_dict` output of the current schema.

        Raises ValueError, KeyError or TypeError on malformed data (the persistence layer
        turns them into a one-line :class:`deepstudio.errors.ProjectError`)."""
        _require(isinstance(d, dict), "project must be a JSON object")
        version = d.get("schema_version")
        _require(version == SCHEMA_VERSION,
                 f"schema_version {version!r} is not {SCHEMA_VERSION} (migrate first)")
        tracks = [Track.from_dict(t) for t in d.get("tracks", [])]
        _by_id(tracks, "track")
        _by_id([c for t in tracks for c in t.clips], "clip")
        project = cls(
            name=str(d["name"]),
            media=_by_id([MediaItem.from_dict(m) for m in d.get("media", [])], "media"),
            tracks=tracks,
            effects=_by_id([Effect.from_dict(e) for e in d.get("effects", [])], "effect"),
            identities=_by_id([Identity.from_dict(i) for i in d.get("identities", [])],
                              "identity"),
            models=_by_id([ModelRef.from_dict(m) for m in d.get("models", [])], "model"),
            fps=_rate(d.get("timeline_fps")),
        )
        for _, clip in project.clips():
            _require(clip.media_id in project.media,
                     f"clip {clip.id} uses unknown media {clip.media_id}")
        track_ids = {t.id for t in tracks}
        for effect in project.effects.values():
            _require(effect.track_id in track_ids,
                     f"effect {effect.id} sits on unknown track {effect.track_id}")
        return project
