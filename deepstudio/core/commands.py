"""Commands: the only way to change a :class:`~deepstudio.core.project.Project`.

Each command checks everything before it touches the project, so a refused command
(:class:`CommandError`) leaves the project unchanged. ``apply`` records what it needs for
``undo``; applying again after an undo (redo) gives the same result, ids included (ids of
new objects are chosen when the command is built).

Every ``apply``/``undo`` returns a :class:`ChangeSet` naming the ids that changed, so views
can refresh only what they show.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from deepstudio.core import keyframes, timebase
from deepstudio.core.effects import UnknownEffectError, effect_spec, validate_params
from deepstudio.core.names import media_name, span_text
from deepstudio.core.project import (
    RETIME_MODES,
    Clip,
    ConsentRecord,
    Effect,
    FaceTrackRef,
    Identity,
    MediaItem,
    ModelRef,
    Project,
    Track,
)
from deepstudio.errors import UserError
from deepstudio.types import FrameIndex, Id, new_id


class CommandError(UserError):
    """A refused edit (overlapping clips, unknown id, bad range …), shown as one line."""


@dataclass(frozen=True)
class ChangeSet:
    """Ids changed by a command, per kind; ``project`` flags project-wide changes (name,
    timeline rate)."""

    media: frozenset[Id] = frozenset()
    tracks: frozenset[Id] = frozenset()
    clips: frozenset[Id] = frozenset()
    effects: frozenset[Id] = frozenset()
    identities: frozenset[Id] = frozenset()
    models: frozenset[Id] = frozenset()
    project: bool = False

    def __or__(self, other: ChangeSet) -> ChangeSet:
        return ChangeSet(self.media | other.media, self.tracks | other.tracks,
                         self.clips | other.clips, self.effects | other.effects,
                         self.identities | other.identities, self.models | other.models,
                         self.project or other.project)

    def __bool__(self) -> bool:
        return bool(self.media or self.tracks or self.clips or self.effects
                    or self.identities or self.models or self.project)


def changed(**kinds: Iterable[Id] | bool) -> ChangeSet:
    """``changed(clips=[a], tracks=[t])`` → a ChangeSet."""
    return ChangeSet(**{k: v if isinstance(v, bool) else frozenset(v) for k, v in kinds.items()})


class Command(ABC):
    """One undoable edit. ``text`` names it for the Undo/Redo menu entries."""

    text: str = ""

    @abstractmethod
    def apply(self, project: Project) -> ChangeSet: ...

    @abstractmethod
    def undo(self, project: Project) -> ChangeSet: ...


# --- lookups that raise CommandError ------------------------------------------------------

def _lookup(mapping: dict[Id, Any], key: Id, what: str) -> Any:
    try:
        return mapping[key]
    except KeyError:
        raise CommandError(f"no {what} {key}") from None


def _track(project: Project, track_id: Id) -> Track:
    try:
        return project.track(track_id)
    except KeyError:
        raise CommandError(f"no track {track_id}") from None


def _clip(project: Project, clip_id: Id) -> tuple[Track, Clip]:
    try:
        return project.track_of_clip(clip_id), project.clip(clip_id)
    except KeyError:
        raise CommandError(f"no clip {clip_id}") from None


def _insert_at(mapping: dict[Id, Any], key: Id, value: Any, index: int) -> None:
    """Put ``key`` back at position ``index`` (dict order is what the views list)."""
    items = list(mapping.items())
    items.insert(index, (key, value))
    mapping.clear()
    mapping.update(items)


# --- clip placement rules -----------------------------------------------------------------

def _check_media_fits_track(project: Project, track: Track, media_id: Id) -> None:
    media = _lookup(project.media, media_id, "media")
    if track.kind == "video" and not media.has_video:
        raise CommandError(f"{media.path}: has no video for video track {track.name!r}")
    if track.kind == "audio" and not media.has_audio:
        raise CommandError(f"{media.path}: has no audio for audio track {track.name!r}")


def _check_free(project: Project, track: Track, start: int, end: int,
                ignore: Iterable[Id] = ()) -> None:
    """CommandError, in the user's words (names and timecodes), unless ``start``..``end`` is
    free on ``track``."""
    if start < 0:
        raise CommandError("a clip cannot start before the start of the timeline")
    ignored = set(ignore)
    for other in track.clips:
        if other.id not in ignored and other.start < end and start < other.end:
            raise CommandError(
                f"{span_text(project, start, end)} would overlap "
                f"{media_name(project, other.media_id)} "
                f"({span_text(project, other.start, other.end)}) on track {track.name}: "
                "choose a free place or another track")


def _check_source_range(project: Project, media_id: Id, in_frame: int, out_frame: int) -> None:
    length = project.media_length(media_id)
    if not 0 <= in_frame < out_frame <= length:
        raise CommandError(f"source range {in_frame}..{out_frame} is outside media "
                           f"{media_id} (0..{length})")


def _insert_sorted(track: Track, clip: Clip) -> None:
    track.clips.append(clip)
    track.clips.sort(key=lambda c: c.start)


# --- media --------------------------------------------------------------------------------

@dataclass
class AddMedia(Command):
    """Add a file to the media bin; the first video sets the timeline rate if none is set."""

    item: MediaItem
    text = "Import media"
    _set_rate: bool = field(default=False, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        if self.item.id in project.media:
            raise CommandError(f"media {self.item.id} already exists")
        project.media[self.item.id] = self.item
        self._set_rate = project.fps is None and self.item.has_video
        if self._set_rate:
            project.fps = self.item.fps
        return changed(media=[self.item.id], project=self._set_rate)

    def undo(self, project: Project) -> ChangeSet:
        del project.media[self.item.id]
        if self._set_rate:
            project.fps = None
        return changed(media=[self.item.id], project=self._set_rate)


@dataclass
class RemoveMedia(Command):
    """Remove media no clip or effect uses (as picture or face source); face tracks of it
    leave their identities."""

    media_id: Id
    text = "Remove media"
    _item: MediaItem | None = field(default=None, init=False, repr=False)
    _index: int = field(default=0, init=False, repr=False)
    _unassigned: list[tuple[Id, int, FaceTrackRef]] = field(default_factory=list, init=False,
                                                           repr=False)

    def apply(self, project: Project) -> ChangeSet:
        item = _lookup(project.media, self.media_id, "media")
        users = [c.id for c in project.clips_using_media(self.media_id)]
        users += [e.id for e in project.effects.values() if e.media_id == self.media_id]
        if users:
            raise CommandError(f"{item.path}: still used by {len(users)} clip(s)/effect(s) "
                               f"on the timeline ({users[0]} …); delete them first")
        self._item, self._index = item, list(project.media).index(self.media_id)
        self._unassigned = []
        for identity in project.identities.values():
            for i, ref in reversed(list(enumerate(identity.face_tracks))):
                if ref.media_id == self.media_id:
                    self._unassigned.append((identity.id, i, ref))
                    del identity.face_tracks[i]
        del project.media[self.media_id]
        return changed(media=[self.media_id], identities={u[0] for u in self._unassigned})

    def undo(self, project: Project) -> ChangeSet:
        assert self._item is not None
        _insert_at(project.media, self.media_id, self._item, self._index)
        for identity_id, i, ref in reversed(self._unassigned):
            project.identities[identity_id].face_tracks.insert(i, ref)
        return changed(media=[self.media_id], identities={u[0] for u in self._unassigned})


# --- tracks -------------------------------------------------------------------------------

@dataclass
class AddTrack(Command):
    """Add an empty track at ``index`` (default: after the others)."""

    track: Track
    index: int | None = None
    text = "Add track"

    def apply(self, project: Project) -> ChangeSet:
        if any(t.id == self.track.id for t in project.tracks):
            raise CommandError(f"track {self.track.id} already exists")
        if self.track.clips:
            raise CommandError("add clips to a new track with AddClip")
        if self.track.kind not in ("video", "audio"):
            raise CommandError(f"unknown track kind {self.track.kind!r}")
        index = len(project.tracks) if self.index is None else self.index
        project.tracks.insert(index, self.track)
        return changed(tracks=[self.track.id])

    def undo(self, project: Project) -> ChangeSet:
        project.tracks.remove(_track(project, self.track.id))
        return changed(tracks=[self.track.id])


@dataclass
class RemoveTrack(Command):
    """Remove a track that holds no clips and no effects."""

    track_id: Id
    text = "Remove track"
    _removed: tuple[int, Track] | None = field(default=None, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        track = _track(project, self.track_id)
        if track.clips or any(e.track_id == self.track_id for e in project.effects.values()):
            raise CommandError(f"track {track.name!r} is not empty")
        self._removed = (project.tracks.index(track), track)
        project.tracks.remove(track)
        return changed(tracks=[self.track_id])

    def undo(self, project: Project) -> ChangeSet:
        assert self._removed is not None
        project.tracks.insert(*self._removed)
        return changed(tracks=[self.track_id])


# --- clips --------------------------------------------------------------------------------

def _group(project: Project, clip_id: Id) -> list[tuple[Track, Clip]]:
    """The clip with the clips linked to it (its own first): what clip edits act on."""
    track, clip = _clip(project, clip_id)
    return [(track, clip), *project.linked(clip)]


def _ids(group: list[tuple[Track, Clip]]) -> dict[str, set[Id]]:
    return {"clips": {c.id for _, c in group}, "tracks": {t.id for t, _ in group}}


@dataclass
class AddClip(Command):
    track_id: Id
    clip: Clip
    text = "Add clip"

    def apply(self, project: Project) -> ChangeSet:
        track = _track(project, self.track_id)
        if any(c.id == self.clip.id for _, c in project.clips()):
            raise CommandError(f"clip {self.clip.id} already exists")
        _check_media_fits_track(project, track, self.clip.media_id)
        _check_source_range(project, self.clip.media_id, self.clip.in_frame, self.clip.out_frame)
        _check_free(project, track, self.clip.start, self.clip.end)
        _insert_sorted(track, self.clip)
        return changed(clips=[self.clip.id], tracks=[track.id])

    def undo(self, project: Project) -> ChangeSet:
        track, clip = _clip(project, self.clip.id)
        track.clips.remove(clip)
        return changed(clips=[clip.id], tracks=[track.id])


@dataclass
class MoveClip(Command):
    """Move a clip to timeline frame ``start`` and/or onto track ``track_id``; clips linked
    to it move by as much on their own tracks."""

    clip_id: Id
    start: FrameIndex | None = None
    track_id: Id | None = None
    text = "Move clip"
    _old: list[tuple[Id, Id, FrameIndex]] = field(default_factory=list, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        group = _group(project, self.clip_id)
        src, clip = group[0]
        dst = src if self.track_id is None else _track(project, self.track_id)
        delta = (clip.start if self.start is None else self.start) - clip.start
        _check_media_fits_track(project, dst, clip.media_id)
        members = {c.id for _, c in group}
        moves = [(dst if c is clip else t, c, c.start + delta) for t, c in group]
        for target, c, start in moves:
            _check_free(project, target, start, start + c.length, ignore=members)
        self._old = [(t.id, c.id, c.start) for t, c in group]
        for (track, c), (target, _, start) in zip(group, moves):
            self._place(track, target, c, start)
        return changed(clips=members, tracks={t.id for t, _ in group} | {dst.id})

    def undo(self, project: Project) -> ChangeSet:
        tracks: set[Id] = set()
        for track_id, clip_id, start in self._old:
            now, clip = _clip(project, clip_id)
            self._place(now, _track(project, track_id), clip, start)
            tracks |= {now.id, track_id}
        return changed(clips=[c for _, c, _ in self._old], tracks=tracks)

    @staticmethod
    def _place(src: Track, dst: Track, clip: Clip, start: int) -> None:
        src.clips.remove(clip)
        clip.start = start
        _insert_sorted(dst, clip)


@dataclass
class TrimClip(Command):
    """Set a clip's in and/or out point (positions in the media, in timeline frames); clips
    linked to it are trimmed alike.

    Moving ``in_frame`` moves ``start`` by the same amount, so the frames that stay keep
    their place on the timeline (a left-edge drag to timeline frame f is
    ``in_frame = clip.in_frame + f - clip.start``). Values are clamped to the media, to
    at least one frame, and to timeline frame 0."""

    clip_id: Id
    in_frame: FrameIndex | None = None
    out_frame: FrameIndex | None = None
    text = "Trim clip"
    _old: list[tuple[Id, int, int, int]] = field(default_factory=list, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        group = _group(project, self.clip_id)
        clip = group[0][1]
        length = project.media_length(clip.media_id)
        new_out = clip.out_frame if self.out_frame is None else self.out_frame
        new_out = max(1, min(new_out, length))
        new_in = clip.in_frame if self.in_frame is None else self.in_frame
        lowest_in = max(0, clip.in_frame - clip.start)  # start may not go below 0
        new_in = max(lowest_in, min(new_in, new_out - 1))
        new_out = max(new_out, new_in + 1)
        delta = new_in - clip.in_frame
        members = {c.id for _, c in group}
        for track, c in group:
            _check_free(project, track, c.start + delta, c.start + delta + new_out - new_in,
                        ignore=members)
        self._old = [(c.id, c.start, c.in_frame, c.out_frame) for _, c in group]
        for _, c in group:
            c.start, c.in_frame, c.out_frame = c.start + delta, new_in, new_out
        return changed(**_ids(group))

    def undo(self, project: Project) -> ChangeSet:
        group = []
        for clip_id, *old in self._old:
            track, clip = _clip(project, clip_id)
            clip.start, clip.in_frame, clip.out_frame = old
            group.append((track, clip))
        return changed(**_ids(group))


@dataclass
class SplitClip(Command):
    """Cut a clip at timeline ``frame``: the original keeps the left part, a new clip
    (id ``new_clip_id``) the right part. Linked clips are cut at the same frame, and the
    right parts are linked to each other."""

    clip_id: Id
    frame: FrameIndex
    new_clip_id: Id = field(default_factory=lambda: new_id("clip"))
    text = "Split clip"
    _right_ids: dict[Id, Id] = field(default_factory=dict, init=False, repr=False)
    _right_link: Id | None = field(default=None, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        group = _group(project, self.clip_id)
        clip = group[0][1]
        if not clip.start < self.frame < clip.end:
            raise CommandError(f"frame {self.frame} is not inside clip {clip.id} "
                               f"({clip.start}..{clip.end})")
        if not self._right_ids:  # chosen once, so a redo gives the same ids
            self._right_ids = {c.id: new_id("clip") for _, c in group[1:]}
            self._right_ids[clip.id] = self.new_clip_id
            self._right_link = new_id("link") if len(group) > 1 else None
        ids: set[Id] = set()
        for track, c in group:
            cut = c.position_at(self.frame)
            right = replace(c, id=self._right_ids[c.id], start=self.frame, in_frame=cut,
                            link=self._right_link)
            c.out_frame = cut
            _insert_sorted(track, right)
            ids |= {c.id, right.id}
        return changed(clips=ids, tracks={t.id for t, _ in group})

    def undo(self, project: Project) -> ChangeSet:
        ids: set[Id] = set()
        tracks: set[Id] = set()
        for left_id, right_id in self._right_ids.items():
            track, right = _clip(project, right_id)
            _, clip = _clip(project, left_id)
            track.clips.remove(right)
            clip.out_frame = right.out_frame
            ids |= {left_id, right_id}
            tracks.add(track.id)
        return changed(clips=ids, tracks=tracks)


@dataclass
class DeleteClip(Command):
    """Delete a clip and the clips linked to it."""

    clip_id: Id
    text = "Delete clip"
    _removed: list[tuple[Id, Clip]] = field(default_factory=list, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        group = _group(project, self.clip_id)
        for track, clip in group:
            track.clips.remove(clip)
        self._removed = [(t.id, c) for t, c in group]
        return changed(**_ids(group))

    def undo(self, project: Project) -> ChangeSet:
        for track_id, clip in self._removed:
            _insert_sorted(_track(project, track_id), clip)
        return changed(clips=[c.id for _, c in self._removed],
                       tracks=[t for t, _ in self._removed])


@dataclass
class UnlinkClip(Command):
    """Unlink a clip's picture and sound, so each can be edited alone."""

    clip_id: Id
    text = "Unlink clips"
    _old: tuple[Id, list[Id]] | None = field(default=None, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        group = _group(project, self.clip_id)
        link = group[0][1].link
        if link is None:
            raise CommandError(f"clip {self.clip_id} is not linked to another clip")
        for _, clip in group:
            clip.link = None
        self._old = (link, [c.id for _, c in group])
        return changed(clips=self._old[1])

    def undo(self, project: Project) -> ChangeSet:
        assert self._old is not None
        link, ids = self._old
        for clip_id in ids:
            _clip(project, clip_id)[1].link = link
        return changed(clips=ids)


@dataclass
class SetClipGain(Command):
    clip_id: Id
    gain_db: float
    text = "Change clip volume"
    _old: float = field(default=0.0, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        _, clip = _clip(project, self.clip_id)
        self._old, clip.gain_db = clip.gain_db, float(self.gain_db)
        return changed(clips=[clip.id])

    def undo(self, project: Project) -> ChangeSet:
        _, clip = _clip(project, self.clip_id)
        clip.gain_db = self._old
        return changed(clips=[clip.id])


@dataclass
class SetClipMuted(Command):
    clip_id: Id
    muted: bool
    text = "Mute clip"
    _old: bool = field(default=False, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        _, clip = _clip(project, self.clip_id)
        self.text = "Mute clip" if self.muted else "Unmute clip"
        self._old, clip.muted = clip.muted, bool(self.muted)
        return changed(clips=[clip.id])

    def undo(self, project: Project) -> ChangeSet:
        _, clip = _clip(project, self.clip_id)
        clip.muted = self._old
        return changed(clips=[clip.id])


@dataclass
class SetTrackMuted(Command):
    track_id: Id
    muted: bool
    text = "Mute track"
    _old: bool = field(default=False, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        track = _track(project, self.track_id)
        if track.kind != "audio":
            raise CommandError(f"track {track.name!r} has no sound to mute")
        self.text = "Mute track" if self.muted else "Unmute track"
        self._old, track.muted = track.muted, bool(self.muted)
        return changed(tracks=[track.id])

    def undo(self, project: Project) -> ChangeSet:
        _track(project, self.track_id).muted = self._old
        return changed(tracks=[self.track_id])


@dataclass
class SetClipRetime(Command):
    """How a clip of another frame rate fills timeline frames: "nearest" or "blend"."""

    clip_id: Id
    retime: str
    text = "Change retime process"
    _old: str = field(default="nearest", init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        _, clip = _clip(project, self.clip_id)
        if self.retime not in RETIME_MODES:
            raise CommandError(f"unknown retime process {self.retime!r} "
                               f"(known: {', '.join(RETIME_MODES)})")
        self._old, clip.retime = clip.retime, self.retime  # type: ignore[assignment]
        return changed(clips=[clip.id])

    def undo(self, project: Project) -> ChangeSet:
        _, clip = _clip(project, self.clip_id)
        clip.retime = self._old  # type: ignore[assignment]
        return changed(clips=[clip.id])


@dataclass
class SetTimelineRate(Command):
    """Change the timeline's frame rate. Every clip, effect and keyframe keeps its time:
    frame numbers are rescaled (edges that met still meet), so nothing moves or stretches."""

    fps: Fraction
    text = "Change timeline frame rate"
    _old: tuple[Fraction | None, dict[str, Any]] | None = field(default=None, init=False,
                                                                 repr=False)

    def apply(self, project: Project) -> ChangeSet:
        fps = Fraction(self.fps)
        if not 1 <= fps <= 240:
            raise CommandError(f"{float(fps):g} fps is not a timeline frame rate (1-240)")
        old = project.timeline_fps()
        self._old = (project.fps, copy.deepcopy(project.to_dict()))
        for track in project.tracks:
            for clip in track.clips:
                end = timebase.rescale(clip.end, old, fps)
                clip.start = timebase.rescale(clip.start, old, fps)
                clip.in_frame = timebase.rescale(clip.in_frame, old, fps)
                clip.out_frame = clip.in_frame + max(1, end - clip.start)
                limit = project.media[clip.media_id].length_frames(fps)
                clip.out_frame = min(clip.out_frame, max(limit, clip.in_frame + 1))
        for effect in project.effects.values():
            end = timebase.rescale(effect.end, old, fps)
            effect.start = timebase.rescale(effect.start, old, fps)
            effect.end = max(end, effect.start + 1)
            effect.params = {k: keyframes.rescaled(v, old, fps) for k, v in effect.params.items()}
        project.fps = fps
        return self._everything(project)

    def undo(self, project: Project) -> ChangeSet:
        assert self._old is not None
        fps, state = self._old
        restored = Project.from_dict(copy.deepcopy(state))
        project.tracks, project.effects = restored.tracks, restored.effects
        project.fps = fps
        return self._everything(project)

    @staticmethod
    def _everything(project: Project) -> ChangeSet:
        return changed(clips=[c.id for _, c in project.clips()],
                       tracks=[t.id for t in project.tracks], effects=list(project.effects),
                       project=True)


# --- effects ------------------------------------------------------------------------------

def _check_effect_target(project: Project, media_id: Id | None, face_track: int | None) -> None:
    if face_track is not None and media_id is None:
        raise CommandError("a face track needs the media it was found in")
    if media_id is not None:
        _lookup(project.media, media_id, "media")


def _check_effect_range(start: int, end: int) -> None:
    if not 0 <= start < end:
        raise CommandError(f"effect range {start}..{end} is empty or before frame 0")


def _is_audio_clip(project: Project, clip_id: Id) -> bool:
    """Whether ``clip_id`` names a timeline clip whose media carries audio."""
    return any(c.id == clip_id and project.media[c.media_id].has_audio
               for _, c in project.clips())


def _checked_params(project: Project, type_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """Complete and check parameters; model and audio parameters must name a model / audio
    media of this project."""
    try:
        full = validate_params(type_id, params)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    for spec in effect_spec(type_id).params:
        ref = full[spec.name]
        if ref is None:
            continue
        if spec.kind == "model" and ref not in project.models:
            raise CommandError(f"effect {type_id!r} parameter {spec.name!r}: no model {ref}")
        if spec.kind == "audio" and not _is_audio_clip(project, ref):
            raise CommandError(f"effect {type_id!r} parameter {spec.name!r}: "
                               f"no clip with audio {ref}")
    return full


def _effects_referencing(project: Project, kinds: tuple[str, ...], ref: Id) -> list[Effect]:
    """Effects whose parameters of the given kinds ("model", "audio") name ``ref`` (effects
    of types this build does not know are skipped: their parameters mean nothing here)."""
    users = []
    for effect in project.effects.values():
        try:
            params = effect_spec(effect.type).params
        except UnknownEffectError:
            continue
        if any(p.kind in kinds and effect.params.get(p.name) == ref for p in params):
            users.append(effect)
    return users


@dataclass
class AddEffect(Command):
    """Add an effect; missing parameters get their defaults."""

    effect: Effect
    text = "Add effect"

    def apply(self, project: Project) -> ChangeSet:
        e = self.effect
        if e.id in project.effects:
            raise CommandError(f"effect {e.id} already exists")
        label = effect_spec(e.type).label
        self.text = f"Add {label}"
        _track(project, e.track_id)
        _check_effect_range(e.start, e.end)
        _check_effect_target(project, e.media_id, e.face_track)
        project.effects[e.id] = replace(e, params=_checked_params(project, e.type, e.params))
        return changed(effects=[e.id])

    def undo(self, project: Project) -> ChangeSet:
        del project.effects[self.effect.id]
        return changed(effects=[self.effect.id])


@dataclass
class RemoveEffect(Command):
    effect_id: Id
    text = "Remove effect"
    _removed: tuple[int, Effect] | None = field(default=None, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        effect = _lookup(project.effects, self.effect_id, "effect")
        self._removed = (list(project.effects).index(self.effect_id), effect)
        del project.effects[self.effect_id]
        return changed(effects=[self.effect_id])

    def undo(self, project: Project) -> ChangeSet:
        assert self._removed is not None
        _insert_at(project.effects, self.effect_id, self._removed[1], self._removed[0])
        return changed(effects=[self.effect_id])


@dataclass
class SetEffectParams(Command):
    """Update some parameters (``replace=True``: set all, missing ones to defaults)."""

    effect_id: Id
    params: dict[str, Any]
    replace: bool = False
    text = "Change effect settings"
    _old: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        effect = _lookup(project.effects, self.effect_id, "effect")
        merged = {} if self.replace else dict(effect.params)
        merged.update(copy.deepcopy(self.params))
        new = _checked_params(project, effect.type, merged)
        self._old, effect.params = effect.params, new
        return changed(effects=[effect.id])

    def undo(self, project: Project) -> ChangeSet:
        effect = _lookup(project.effects, self.effect_id, "effect")
        effect.params = self._old
        return changed(effects=[effect.id])


@dataclass
class SetEffectRange(Command):
    """Set an effect's timeline range ``[start, end)`` and optionally its track."""

    effect_id: Id
    start: FrameIndex
    end: FrameIndex
    track_id: Id | None = None
    text = "Change effect range"
    _old: tuple[int, int, Id] | None = field(default=None, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        effect = _lookup(project.effects, self.effect_id, "effect")
        _check_effect_range(self.start, self.end)
        track_id = effect.track_id if self.track_id is None else _track(project, self.track_id).id
        self._old = (effect.start, effect.end, effect.track_id)
        effect.start, effect.end, effect.track_id = self.start, self.end, track_id
        return changed(effects=[effect.id])

    def undo(self, project: Project) -> ChangeSet:
        assert self._old is not None
        effect = _lookup(project.effects, self.effect_id, "effect")
        effect.start, effect.end, effect.track_id = self._old
        return changed(effects=[effect.id])


@dataclass
class SetEffectTarget(Command):
    """Aim an effect at face track ``face_track`` of ``media_id`` (None: no face)."""

    effect_id: Id
    media_id: Id | None
    face_track: int | None
    text = "Change effect target"
    _old: tuple[Id | None, int | None] = field(default=(None, None), init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        effect = _lookup(project.effects, self.effect_id, "effect")
        _check_effect_target(project, self.media_id, self.face_track)
        self._old = (effect.media_id, effect.face_track)
        effect.media_id, effect.face_track = self.media_id, self.face_track
        return changed(effects=[effect.id])

    def undo(self, project: Project) -> ChangeSet:
        effect = _lookup(project.effects, self.effect_id, "effect")
        effect.media_id, effect.face_track = self._old
        return changed(effects=[effect.id])


# --- identities and consent ---------------------------------------------------------------

def _check_identity_name(project: Project, name: str, ignore: Id | None = None) -> None:
    if not name.strip():
        raise CommandError("an identity needs a name")
    for other in project.identities.values():
        if other.id != ignore and other.name.casefold() == name.strip().casefold():
            raise CommandError(f"an identity named {other.name!r} already exists")


@dataclass
class AddIdentity(Command):
    identity: Identity
    text = "Add identity"

    def apply(self, project: Project) -> ChangeSet:
        if self.identity.id in project.identities:
            raise CommandError(f"identity {self.identity.id} already exists")
        _check_identity_name(project, self.identity.name)
        for ref in self.identity.face_tracks:
            if project.identity_of_face_track(ref) is not None:
                raise CommandError(f"face track {ref.track_id} of {ref.media_id} "
                                   "already belongs to an identity")
        project.identities[self.identity.id] = self.identity
        return changed(identities=[self.identity.id])

    def undo(self, project: Project) -> ChangeSet:
        del project.identities[self.identity.id]
        return changed(identities=[self.identity.id])


@dataclass
class RemoveIdentity(Command):
    """Forget an identity (with its consent records); refused while a model is trained for
    it, since the model's consent trail points at it."""

    identity_id: Id
    text = "Remove identity"
    _removed: tuple[int, Identity] | None = field(default=None, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        identity = _lookup(project.identities, self.identity_id, "identity")
        models = [m.name for m in project.models.values() if self.identity_id in m.identities]
        if models:
            raise CommandError(f"identity {identity.name!r} is used by model {models[0]!r}")
        self._removed = (list(project.identities).index(self.identity_id), identity)
        del project.identities[self.identity_id]
        return changed(identities=[self.identity_id])

    def undo(self, project: Project) -> ChangeSet:
        assert self._removed is not None
        _insert_at(project.identities, self.identity_id, self._removed[1], self._removed[0])
        return changed(identities=[self.identity_id])


@dataclass
class RenameIdentity(Command):
    identity_id: Id
    name: str
    text = "Rename identity"
    _old: str = field(default="", init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        identity = _lookup(project.identities, self.identity_id, "identity")
        _check_identity_name(project, self.name, ignore=identity.id)
        self._old, identity.name = identity.name, self.name.strip()
        return changed(identities=[identity.id])

    def undo(self, project: Project) -> ChangeSet:
        project.identities[self.identity_id].name = self._old
        return changed(identities=[self.identity_id])


@dataclass
class AssignFaceTrack(Command):
    """Say that face track ``ref`` shows ``identity_id`` (taking it from another identity
    if it was assigned elsewhere)."""

    identity_id: Id
    ref: FaceTrackRef
    text = "Assign face"
    _previous: tuple[Id, int] | None = field(default=None, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        identity = _lookup(project.identities, self.identity_id, "identity")
        _lookup(project.media, self.ref.media_id, "media")
        owner = project.identity_of_face_track(self.ref)
        if owner is identity:
            raise CommandError(f"face track {self.ref.track_id} already shows {identity.name!r}")
        self._previous = None
        ids = {identity.id}
        if owner is not None:
            self._previous = (owner.id, owner.face_tracks.index(self.ref))
            owner.face_tracks.remove(self.ref)
            ids.add(owner.id)
        identity.face_tracks.append(self.ref)
        return changed(identities=ids)

    def undo(self, project: Project) -> ChangeSet:
        project.identities[self.identity_id].face_tracks.remove(self.ref)
        ids = {self.identity_id}
        if self._previous is not None:
            owner_id, index = self._previous
            project.identities[owner_id].face_tracks.insert(index, self.ref)
            ids.add(owner_id)
        return changed(identities=ids)


@dataclass
class UnassignFaceTrack(Command):
    identity_id: Id
    ref: FaceTrackRef
    text = "Unassign face"
    _index: int = field(default=0, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        identity = _lookup(project.identities, self.identity_id, "identity")
        if self.ref not in identity.face_tracks:
            raise CommandError(f"face track {self.ref.track_id} of {self.ref.media_id} "
                               f"is not assigned to {identity.name!r}")
        self._index = identity.face_tracks.index(self.ref)
        identity.face_tracks.remove(self.ref)
        return changed(identities=[identity.id])

    def undo(self, project: Project) -> ChangeSet:
        project.identities[self.identity_id].face_tracks.insert(self._index, self.ref)
        return changed(identities=[self.identity_id])


@dataclass
class AddConsent(Command):
    identity_id: Id
    record: ConsentRecord
    text = "Record consent"

    def apply(self, project: Project) -> ChangeSet:
        identity = _lookup(project.identities, self.identity_id, "identity")
        if any(c.id == self.record.id for c in identity.consents):
            raise CommandError(f"consent {self.record.id} already exists")
        try:  # the same checks as loading a project: known scopes, ISO dates
            ConsentRecord.from_dict(self.record.to_dict())
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if not self.record.scope:
            raise CommandError("a consent record needs at least one scope")
        identity.consents.append(self.record)
        return changed(identities=[identity.id])

    def undo(self, project: Project) -> ChangeSet:
        identity = project.identities[self.identity_id]
        identity.consents.remove(identity.consent(self.record.id))
        return changed(identities=[identity.id])


@dataclass
class RevokeConsent(Command):
    """Mark a consent record revoked as of ``on_date`` (ISO); it stays in the record."""

    identity_id: Id
    consent_id: Id
    on_date: str
    text = "Revoke consent"
    _old: tuple[bool, str | None] = field(default=(False, None), init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        identity = _lookup(project.identities, self.identity_id, "identity")
        try:
            record = identity.consent(self.consent_id)
            checked = replace(record, revoked=True, revoked_date=self.on_date)
            ConsentRecord.from_dict(checked.to_dict())
        except (KeyError, ValueError) as exc:
            raise CommandError(str(exc.args[0])) from None
        if record.revoked:
            raise CommandError(f"consent {record.id} was already revoked on "
                               f"{record.revoked_date}")
        self._old = (record.revoked, record.revoked_date)
        record.revoked, record.revoked_date = True, self.on_date
        return changed(identities=[identity.id])

    def undo(self, project: Project) -> ChangeSet:
        record = project.identities[self.identity_id].consent(self.consent_id)
        record.revoked, record.revoked_date = self._old
        return changed(identities=[self.identity_id])


# --- models -------------------------------------------------------------------------------

@dataclass
class AddModel(Command):
    model: ModelRef
    text = "Add model"

    def apply(self, project: Project) -> ChangeSet:
        if self.model.id in project.models:
            raise CommandError(f"model {self.model.id} already exists")
        if self.model.kind not in ("faceswap", "lipsync"):
            raise CommandError(f"unknown model kind {self.model.kind!r}")
        project.models[self.model.id] = self.model
        return changed(models=[self.model.id])

    def undo(self, project: Project) -> ChangeSet:
        del project.models[self.model.id]
        return changed(models=[self.model.id])


@dataclass
class RemoveModel(Command):
    """Forget a model (its files stay on disk); refused while an effect uses it."""

    model_id: Id
    text = "Remove model"
    _removed: tuple[int, ModelRef] | None = field(default=None, init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        model = _lookup(project.models, self.model_id, "model")
        users = _effects_referencing(project, ("model",), self.model_id)
        if users:
            raise CommandError(f"model {model.name!r} is used by {len(users)} effect(s)")
        self._removed = (list(project.models).index(self.model_id), model)
        del project.models[self.model_id]
        return changed(models=[self.model_id])

    def undo(self, project: Project) -> ChangeSet:
        assert self._removed is not None
        _insert_at(project.models, self.model_id, self._removed[1], self._removed[0])
        return changed(models=[self.model_id])


# --- project ------------------------------------------------------------------------------

@dataclass
class RenameProject(Command):
    name: str
    text = "Rename project"
    _old: str = field(default="", init=False, repr=False)

    def apply(self, project: Project) -> ChangeSet:
        if not self.name.strip():
            raise CommandError("a project needs a name")
        self._old, project.name = project.name, self.name.strip()
        return changed(project=True)

    def undo(self, project: Project) -> ChangeSet:
        project.name = self._old
        return changed(project=True)


class Macro(Command):
    """Several commands as one undo step; if one is refused, those before it are undone."""

    def __init__(self, text: str, commands: Sequence[Command]) -> None:
        self.text = text
        self.commands = list(commands)

    def __repr__(self) -> str:
        return f"Macro({self.text!r}, {self.commands!r})"

    def apply(self, project: Project) -> ChangeSet:
        result = ChangeSet()
        done: list[Command] = []
        try:
            for command in self.commands:
                result |= command.apply(project)
                done.append(command)
        except Exception:
            for command in reversed(done):
                command.undo(project)
            raise
        return result

    def undo(self, project: Project) -> ChangeSet:
        result = ChangeSet()
        for command in reversed(self.commands):
            result |= command.undo(project)
        return result


# --- snapping -----------------------------------------------------------------------------

def snap_frame(frame: FrameIndex, targets: Iterable[FrameIndex], tolerance: int) -> FrameIndex:
    """The target nearest to ``frame`` if it lies within ``tolerance`` frames, else ``frame``."""
    best = frame
    best_distance = tolerance + 1
    for target in targets:
        distance = abs(target - frame)
        if distance < best_distance:
            best, best_distance = target, distance
    return best


def snap_targets(project: Project, playhead: FrameIndex | None = None,
                 exclude_clip: Id | None = None) -> list[FrameIndex]:
    """Frames worth snapping to: clip edges (except ``exclude_clip``'s) and the playhead."""
    targets = {0}
    for _, clip in project.clips():
        if clip.id != exclude_clip:
            targets.update((clip.start, clip.end))
    if playhead is not None:
        targets.add(playhead)
    return sorted(targets)
