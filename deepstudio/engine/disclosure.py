"""Disclosure on every render: consent checks, a visible label, the invisible watermark and
the signed content credentials.

There is deliberately no setting that turns the watermark or the credentials off: every file a
render writes carries both. The visible label is optional (it changes the picture).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from pathlib import Path

import numpy as np

from deepstudio.core.consent import require_consent
from deepstudio.core.effects import effect_spec
from deepstudio.core.project import FaceTrackRef, Project
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


def required_consents(project: Project, on: date | None = None) -> tuple[str, ...]:
    """Ids of the consent records that allow every identity-altering effect; raises
    ConsentError naming the effect when one is missing."""
    ids: list[str] = []
    for effect in project.effects.values():
        spec = effect_spec(effect.type)
        if spec.consent_scope is None:
            continue
        if effect.face_track is None or effect.media_id is None:
            raise ConsentError(f"{spec.label} effect {effect.id} is not bound to a face track "
                               "(bind it to the face of a person with a recorded consent)")
        identity = project.identity_of_face_track(FaceTrackRef(effect.media_id,
                                                               effect.face_track))
        if identity is None:
            raise ConsentError(
                f"face track #{effect.face_track} of {spec.label} effect {effect.id} belongs to "
                "no identity: name the person and record their consent first")
        ids.append(require_consent(identity, spec.consent_scope, on).id)
        if "identity" in effect.params:  # the person a swap model renders into the shot
            ids.append(_rendered_person_consent(project, effect, spec, on))
    return tuple(dict.fromkeys(ids))


def _rendered_person_consent(project: Project, effect, spec, on: date | None) -> str:
    name = effect.params.get("identity") or ""
    if not name:
        raise ConsentError(f"{spec.label} effect {effect.id}: choose the person the model "
                           "renders (its 'Render as' identity)")
    person = next((i for i in project.identities.values() if i.name == name), None)
    if person is None:
        raise ConsentError(f"{spec.label} effect {effect.id} renders {name!r}, who is not an "
                           "identity of this project: add them and record their consent")
    return require_consent(person, spec.consent_scope, on).id


class Disclosure:
    """The marks of one render. ``render_id`` is kept in the render's work folder, so a
    resumed render carries the same watermark payload in every chunk. ``fps`` times the
    watermark's rhythm from timeline frame ``start``; None marks every frame as a still (an
    image sequence, whose files are checked one by one)."""

    def __init__(self, work_dir: Path, size: tuple[int, int], label: LabelSettings | None,
                 fps: Fraction | None, start: int) -> None:
        state = work_dir / "render.json"
        if state.exists():
            self.render_id = json.loads(state.read_text())["render_id"]
        else:
            self.render_id = f"render-{uuid.uuid4().hex[:16]}"
            state.write_text(json.dumps({"render_id": self.render_id}))
        self.payload = payload_from_render_id(self.render_id)
        self._watermark = WatermarkEmbedder(self.payload, *size)
        self._fps = fps
        self._start = start
        self._label = VisibleLabel(*size, text=label.text, corner=label.corner,
                                   opacity=label.opacity) if label is not None else None

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
