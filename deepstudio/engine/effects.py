"""Effect processors: the code that applies each registered effect type to frames.

The effect *types* (parameters, labels) live in :mod:`deepstudio.core.effects`; this module
maps a type id to a processor factory. Processors receive frames in batches so model-based
effects can run one batched inference per batch. Factories of model-based effects import
their models lazily, so nothing here pulls torch in at start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepstudio.core.project import Clip, Effect, Project
from deepstudio.engine.overlays import Overlays, draw_faces
from deepstudio.engine.stage_times import StageTimes
from deepstudio.media.decode import DecodedFrame
from deepstudio.types import BBox


@dataclass
class Face:
    """A tracked face on an output frame (coordinates of the output frame)."""

    track_id: int
    landmarks: np.ndarray
    bbox: BBox


@dataclass
class FrameItem:
    """One timeline frame travelling through the render or preview pipeline.

    ``picture`` is an RGB array, or a decoded frame not converted yet: effects read and draw
    on :attr:`image`, which converts it on first use, so a frame no effect touches can go to
    the encoder as it was decoded.
    """

    index: int
    picture: np.ndarray | DecodedFrame
    clip: Clip | None = None
    source_frame: int | None = None
    faces: list[Face] = field(default_factory=list)

    @property
    def image(self) -> np.ndarray:
        """The RGB picture; effects may draw on it in place or assign a new one."""
        if isinstance(self.picture, DecodedFrame):
            self.picture = self.picture.rgb()
        return self.picture

    @image.setter
    def image(self, value: np.ndarray) -> None:
        self.picture = value

    def untouched_i420(self) -> np.ndarray | None:
        """The decoded 4:2:0 planes when no effect has asked for the RGB picture (and the
        frame has such planes), else None."""
        return self.picture.i420() if isinstance(self.picture, DecodedFrame) else None

    def faces_of(self, effect: Effect) -> list[Face]:
        """The faces an effect applies to: its face track, or every face when unbound."""
        if effect.face_track is None:
            return self.faces
        return [f for f in self.faces if f.track_id == effect.face_track]


@dataclass(frozen=True)
class EffectContext:
    """What processors may need besides their effect: the project and where it lives."""

    project: Project
    project_folder: Path | None = None
    device: str = "auto"
    times: StageTimes = field(default_factory=StageTimes, compare=False)
    """Where processors add the seconds of their model inference (stage ``model``)."""

    def resolve(self, path: str) -> Path:
        p = Path(path)
        if not p.is_absolute() and self.project_folder is not None:
            return self.project_folder / p
        return p


class EffectProcessor:
    """Applies one effect instance; subclasses override :meth:`apply`."""

    def __init__(self, effect: Effect, context: EffectContext) -> None:
        self.effect = effect
        self.context = context

    def process(self, items: list[FrameItem]) -> None:
        """Apply to the items inside the effect's range and on its media (in place)."""
        mine = [it for it in items if self.effect.contains(it.index) and (
            self.effect.media_id is None
            or (it.clip is not None and it.clip.media_id == self.effect.media_id))]
        if mine:
            self.apply(mine)

    def apply(self, items: list[FrameItem]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release models or files."""


ProcessorFactory = Callable[[Effect, EffectContext], EffectProcessor]
_FACTORIES: dict[str, ProcessorFactory] = {}
BUILTIN_PROCESSOR_MODULES = ("deepstudio.engine.swap_effect", "deepstudio.engine.lipsync_effect")
"""Modules registering the model-based processors (imported on first use; they import torch
only when a processor is built)."""


def register_processor(type_id: str) -> Callable[[ProcessorFactory], ProcessorFactory]:
    def decorate(factory: ProcessorFactory) -> ProcessorFactory:
        _FACTORIES[type_id] = factory
        return factory

    return decorate


def build_processors(project: Project, context: EffectContext,
                     effects: list[Effect] | None = None) -> list[EffectProcessor]:
    """Processors for the project's effects, in the order they were added."""
    for module in BUILTIN_PROCESSOR_MODULES:
        importlib.import_module(module)
    processors = []
    for effect in (effects if effects is not None else list(project.effects.values())):
        factory = _FACTORIES.get(effect.type)
        if factory is None:
            raise KeyError(f"no processor for effect type {effect.type!r}")
        processors.append(factory(effect, context))
    return processors


@register_processor("debug")
class DebugProcessor(EffectProcessor):
    """Burns face boxes, landmarks and track ids into the picture."""

    def apply(self, items: list[FrameItem]) -> None:
        for item in items:
            p = self.effect.params
            overlays = Overlays(boxes=p.get("boxes", True), landmarks=p.get("landmarks", True),
                                ids=p.get("ids", True), line_width=p.get("line_width", 2))
            faces = item.faces_of(self.effect)
            if faces:  # a frame without faces stays unconverted
                draw_faces(item.image, faces, overlays)
