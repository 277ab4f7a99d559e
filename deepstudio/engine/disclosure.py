"""Disclosure on every render: consent checks, a visible label, the invisible watermark and
the signed content credentials.

There is deliberately no setting that turns the watermark or the credentials off: every file a
render writes carries both. The visible label is optional (it changes the picture).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from pathlib import Path

import numpy as np

from deepstudio.core.consent import valid_consent
from deepstudio.core.effects import effect_spec
from deepstudio.core.names import effect_name, effect_span, face_track_name
from deepstudio.core.project import Effect, FaceTrackRef, Identity, Project
from deepstudio.engine.effects import FrameItem
from deepstudio.errors import ConsentError
from deepstudio.media.decode import rgb_to_i420
from deepstudio.provenance.credentials import (
    RenderProvenance,
    SourceMedia,
    sha256_file,
)
from deepstudio.provenance.label import DEFAULT_TEXT, VisibleLabel
from deepstudio.provenance.payload import payload_from_render_id
from deepstudio.provenance.watermark import WatermarkEmbedder


@dataclass(frozen=True)
class LabelSettings:
    """An optional visible label burnt into the picture."""

    text: str = DEFAULT_TEXT
    corner: str = "bottom-right"
    opacity: float = 0.8


SCOPE_WORDS = {"train": "training", "swap": "face swap", "lipsync": "lip-sync"}


@dataclass(frozen=True)
class Problem:
    """Something that keeps an effect from being exported as placed, in the user's words
    (names and timecodes, never ids or command syntax)."""

    effect_id: str
    badge: str
    """A few words for the effect's bar and the preview: "no consent for lip-sync"."""
    where: str
    """The effect and where it lies: "Lip-sync on Anna (00:00:01:05–00:00:04:00)"."""
    what: str
    """What is wrong and what to do, as a sentence."""
    person: str | None = None
    """Whose consent would fix it (the consent dialog opens on them)."""
    scope: str | None = None
    """The consent scope to record."""
    face: FaceTrackRef | None = None
    """A face track to assign to a person first."""

    @property
    def text(self) -> str:
        """The whole problem as one line."""
        return f"{self.where}: {self.what}"


def consent_problems(project: Project, on: date | None = None) -> list[Problem]:
    """Every identity-altering effect whose people lack the consent it needs on day ``on``
    (default today): unbound effects, faces assigned to nobody, missing, expired or revoked
    consent of the person altered and of the person a swap renders."""
    return _check_consents(project, on)[1]


def required_consents(project: Project, on: date | None = None) -> tuple[str, ...]:
    """Ids of the consent records that allow every identity-altering effect; raises
    ConsentError with the first problem (and how many more there are) otherwise."""
    ids, problems = _check_consents(project, on)
    if problems:
        more = len(problems) - 1
        raise ConsentError(problems[0].text + (f" (and {more} more problem{'s' * (more > 1)})"
                                               if more else ""))
    return ids


def _check_consents(project: Project, on: date | None) -> tuple[tuple[str, ...], list[Problem]]:
    ids: list[str] = []
    problems: list[Problem] = []
    for effect in sorted(project.effects.values(), key=lambda e: (e.start, e.end)):
        scope = effect_spec(effect.type).consent_scope
        if scope is not None:
            _check_effect(project, effect, scope, on, ids, problems)
    return tuple(dict.fromkeys(ids)), problems


def _check_effect(project: Project, effect: Effect, scope: str, on: date | None,
                  ids: list[str], problems: list[Problem]) -> None:
    """Add the consent ids that allow ``effect`` to ``ids``, or its problems to
    ``problems``: the person altered, and the person a swap model renders."""
    where = f"{effect_name(project, effect)} ({effect_span(project, effect)})"
    words = SCOPE_WORDS[scope]

    def problem(badge: str, text: str, **fix) -> None:
        problems.append(Problem(effect.id, badge, where, text, **fix))

    def consent_of(identity: Identity, rendered: bool = False) -> None:
        record = valid_consent(identity, scope, on)
        if record is not None:
            ids.append(record.id)
        else:
            problem(f"no consent{' from ' + identity.name if rendered else ''} for {words}",
                    _consent_gap(identity, scope, on, rendered), person=identity.name,
                    scope=scope)

    if effect.face_track is None or effect.media_id is None:
        problem("no face chosen", "it is not aimed at a face; choose the face track of a "
                f"person with consent for {words} in the inspector.")
    else:
        ref = FaceTrackRef(effect.media_id, effect.face_track)
        identity = project.identity_of_face_track(ref)
        if identity is None:
            problem("no person assigned", f"{face_track_name(project, ref)} is not assigned "
                    f"to a person; assign the face in Identities and record their consent "
                    f"for {words}.", face=ref, scope=scope)
        else:
            consent_of(identity)
    if "identity" in effect.params:  # the person a swap model renders into the shot
        name = effect.params.get("identity") or ""
        person = next((i for i in project.identities.values() if i.name == name), None)
        if not name:
            problem("no 'Render as' person", "choose whom the model renders ('Render as' in "
                    "the inspector).")
        elif person is None:
            problem(f"{name} is not a person here", f"it renders {name}, who is not a person "
                    f"of this project; record {name}'s consent for {words}.", person=name,
                    scope=scope)
        else:
            consent_of(person, rendered=True)


def _consent_gap(identity: Identity, scope: str, on: date | None,
                 rendered: bool = False) -> str:
    """Why ``identity`` has no valid consent for ``scope``, as a sentence ("Anna's consent
    for lip-sync expired on 2025-01-31."), or, for the person a swap renders, as the rest of
    "it renders …"."""
    day = on or date.today()
    words = SCOPE_WORDS[scope]
    covering = [r for r in identity.consents if scope in r.scope]
    last = max(covering, key=lambda r: r.date, default=None)
    if last is None:
        has, whose = f"has no recorded consent for {words}", None
    elif last.revoked and (last.revoked_date is None
                           or date.fromisoformat(last.revoked_date) <= day):
        has, whose = None, f"consent for {words} was revoked" + (
            f" on {last.revoked_date}" if last.revoked_date else "")
    elif last.expiry is not None and date.fromisoformat(last.expiry) < day:
        has, whose = None, f"consent for {words} expired on {last.expiry}"
    else:
        has, whose = None, f"consent for {words} only starts on {last.date}"
    name = identity.name
    if rendered:
        return f"it renders {name}, " + (f"who {has}." if has else f"whose {whose}.")
    return f"{name} {has}." if has else f"{name}'s {whose}."


class Disclosure:
    """The marks of one render. Every chunk of a render is marked with the same ``render_id``
    (the render plan keeps it), and ``fps`` times the watermark's rhythm from timeline frame
    ``start``, the render's first: chunks encoded apart, even on other machines, mark exactly
    as one encoder would. ``fps`` None marks every frame as a still (an image sequence, whose
    files are checked one by one)."""

    def __init__(self, render_id: str, size: tuple[int, int], label: LabelSettings | None,
                 fps: Fraction | None, start: int) -> None:
        self.render_id = render_id
        self.payload = payload_from_render_id(self.render_id)
        self._watermark = WatermarkEmbedder(self.payload, *size)
        self._fps = fps
        self._start = start
        self._label = VisibleLabel(*size, text=label.text, corner=label.corner,
                                   opacity=label.opacity) if label is not None else None

    def begin_range(self) -> None:
        """Called before the frames of a chunk are marked (in order): the watermark forgets
        the frames before, so a chunk is marked the same whoever encodes it and in what order."""
        self._watermark.restart()

    def mark(self, item: FrameItem) -> np.ndarray:
        """The item's picture with the visible label (if any) and the invisible watermark."""
        frame = item.image
        if self._label is not None:
            frame = self._label.apply(frame)
        return self._watermark.embed(frame, self._time(item))

    def mark_i420(self, item: FrameItem) -> np.ndarray:
        """The item as marked 4:2:0 planes (even frame sizes only): its decoded planes when no
        effect converted it and there is no label to draw, else its RGB picture converted."""
        planes = item.untouched_i420() if self._label is None else None
        if planes is None:
            frame = item.image if self._label is None else self._label.apply(item.image)
            planes = rgb_to_i420(frame)
        return self._watermark.embed_i420(planes, self._time(item))

    def _time(self, item: FrameItem) -> float | None:
        """Seconds from the render's first frame to the item's (None for stills)."""
        return None if self._fps is None else float((item.index - self._start) / self._fps)

    def provenance(self, project: Project, media_paths: dict[str, Path],
                   model_paths: dict[str, Path], consent_ids: tuple[str, ...]
                   ) -> RenderProvenance:
        used = {c.media_id for _, c in project.clips()}
        sources = tuple(SourceMedia(media_paths[m], sha256_file(media_paths[m]))
                        for m in sorted(used))
        models = {}
        for effect in project.effects.values():
            for name, value in effect.params.items():
                if effect_spec(effect.type).param(name).kind == "model" and value in model_paths:
                    card = model_paths[value] / "card.json"
                    models[value] = sha256_file(card) if card.is_file() else ""
        effects = tuple(sorted({e.type for e in project.effects.values()}))
        return RenderProvenance(self.render_id, self.payload, sources, models, consent_ids,
                                effects)
