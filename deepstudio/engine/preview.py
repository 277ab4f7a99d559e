"""The preview service: composes one timeline frame at a time for the preview pane.

One worker thread, and the latest request wins: a request that has not started when a newer
one arrives is cancelled (its Future reports cancelled), so scrubbing never builds a queue of
stale frames. Decoders stay open per media file, so stepping forward decodes one frame.

An effect that cannot run (no model chosen, a model that fails to load or to apply) never
costs the picture: the frame is shown without that effect, and the frame reports the effect
and why (:attr:`PreviewFrame.issues`) only where the effect lies, for the view to badge. Only
the effects on the requested frame are built, so a broken effect elsewhere costs nothing.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from deepstudio.core.names import effect_name
from deepstudio.core.project import Effect
from deepstudio.engine.effects import EffectContext, EffectProcessor, FrameItem, build_processors
from deepstudio.engine.overlays import Overlays, draw_faces
from deepstudio.engine.problems import setup_badge
from deepstudio.engine.render import faces_on_frame, fit_frame, output_size
from deepstudio.engine.retime import clip_frame
from deepstudio.engine.threads import lower_thread_priority
from deepstudio.engine.timeline import top_clip_at
from deepstudio.errors import UserError
from deepstudio.media.decode import VideoReader

Compare = Literal["after", "before", "split"]


@dataclass(frozen=True)
class PreviewRequest:
    frame: int
    overlays: Overlays = field(default_factory=lambda: Overlays(False, False, False, False))
    compare: Compare = "after"
    split: float = 0.5
    """Fraction of the width, from the left, that shows the picture before effects."""


@dataclass(frozen=True)
class EffectIssue:
    """An effect on the frame that could not be applied, and why ("no model chosen")."""

    effect_id: str
    name: str
    """The effect as people call it ("Lip-sync on Anna")."""
    reason: str


@dataclass(frozen=True)
class PreviewFrame:
    frame_index: int
    image: np.ndarray
    faces: list
    issues: tuple[EffectIssue, ...] = ()


class PreviewService:
    """Serves preview frames of a session's timeline on one background thread."""

    def __init__(self, session) -> None:
        self._session = session
        self._cond = threading.Condition()
        self._pending: tuple[PreviewRequest, Future] | None = None
        self._closed = False
        self._readers: dict[str, VideoReader] = {}
        self._processors: dict[str, tuple[str, EffectProcessor | str]] = {}
        self._thread = threading.Thread(target=self._loop, name="deepstudio-preview",
                                        daemon=True)
        self._thread.start()

    def request(self, frame: int, overlays: Overlays | None = None, compare: Compare = "after",
                split: float = 0.5) -> Future:
        """Ask for a frame; a still-waiting earlier request is cancelled."""
        future: Future = Future()
        req = PreviewRequest(frame, overlays or Overlays(False, False, False, False), compare,
                             split)
        with self._cond:
            if self._pending is not None:
                self._pending[1].cancel()
            self._pending = (req, future)
            self._cond.notify()
        return future

    def render_frame(self, req: PreviewRequest) -> PreviewFrame:
        """Compose a frame on the calling thread (what the worker runs)."""
        project = self._session.project
        self._forget_removed_effects()
        try:
            size = output_size(project)
        except Exception:
            size = (640, 360)
        clip = top_clip_at(project, req.frame)
        if clip is None:
            return PreviewFrame(req.frame, np.zeros((size[1], size[0], 3), np.uint8), [])
        source, picture = clip_frame(self._reader(clip.media_id), project, clip, req.frame)
        media = project.media[clip.media_id]
        # A proxy of an odd-sized file carries one padding row/column: cut it off.
        picture = picture[:media.height, :media.width]
        image, scale, offset = fit_frame(picture, size)
        faces = faces_on_frame(self._session.analysis(clip.media_id), source, scale, offset)
        before = image.copy() if req.compare != "after" else None
        issues: list[EffectIssue] = []
        if req.compare != "before":
            item = FrameItem(req.frame, image, clip, source, faces)
            for effect in project.effects_at(req.frame):
                if effect.media_id is None or effect.media_id == clip.media_id:
                    self._apply(effect, item, issues)
            image = item.image
        if req.compare == "before":
            image = before
        elif req.compare == "split" and before is not None:
            cut = int(round(np.clip(req.split, 0, 1) * image.shape[1]))
            image[:, :cut] = before[:, :cut]
        if req.overlays.any:
            draw_faces(image, faces, req.overlays)
        return PreviewFrame(req.frame, image, faces, tuple(issues))

    def close(self) -> None:
        with self._cond:
            self._closed = True
            if self._pending is not None:
                self._pending[1].cancel()
                self._pending = None
            self._cond.notify()
        self._thread.join(timeout=2)
        for reader in self._readers.values():
            reader.close()
        for _, processor in self._processors.values():
            if isinstance(processor, EffectProcessor):
                processor.close()

    def _loop(self) -> None:
        lower_thread_priority()
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                req, future = self._pending
                self._pending = None
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self.render_frame(req))
            except BaseException as exc:
                future.set_exception(exc)

    def _reader(self, media_id: str) -> VideoReader:
        """A reader of the media's proxy if it has one (it may appear at any time), else of
        the media itself."""
        path = self._session.preview_path(media_id)
        reader = self._readers.get(media_id)
        if reader is None or reader.info.path != path:
            if reader is not None:
                reader.close()
            reader = VideoReader(path)
            self._readers[media_id] = reader
        return reader

    def _apply(self, effect: Effect, item: FrameItem, issues: list[EffectIssue]) -> None:
        """Apply one effect to the item, or leave the picture as it was and note why not."""
        project = self._session.project
        reason = self._processor(effect)
        if isinstance(reason, EffectProcessor):
            picture = item.image.copy()
            try:
                reason.process([item])
                return
            except Exception as exc:  # a model failing on this frame: show it without
                item.image = picture
                reason = _reason(exc)
        issues.append(EffectIssue(effect.id, effect_name(project, effect), reason))

    def _processor(self, effect: Effect) -> EffectProcessor | str:
        """The effect's processor (built once per version of the effect, and again when its
        model files change), or why it cannot be built."""
        project = self._session.project
        resolve = self._session.paths.resolve if self._session.paths is not None else Path
        badge = setup_badge(project, effect, resolve)
        if badge is not None:
            return badge
        key = json.dumps(effect.to_dict(), sort_keys=True, default=str) + _model_stamp(
            project, effect, resolve)
        cached = self._processors.get(effect.id)
        if cached is None or cached[0] != key:
            if cached is not None and isinstance(cached[1], EffectProcessor):
                cached[1].close()
            context = EffectContext(project, self._session.folder, self._session.device)
            try:
                built: EffectProcessor | str = build_processors(project, context, [effect])[0]
            except Exception as exc:
                built = _reason(exc)
            cached = (key, built)
            self._processors[effect.id] = cached
        return cached[1]

    def _forget_removed_effects(self) -> None:
        """Close the processors of effects no longer in the project (an undo, a delete)."""
        for gone in set(self._processors) - set(self._session.project.effects):
            processor = self._processors.pop(gone)[1]
            if isinstance(processor, EffectProcessor):
                processor.close()


def _reason(exc: Exception) -> str:
    """A short reason for a badge: a UserError's own words, else the exception's kind."""
    if isinstance(exc, UserError):
        return str(exc)
    return f"failed ({type(exc).__name__}: {exc})"


def _model_stamp(project, effect: Effect, resolve) -> str:
    """When the effect's model files last changed (a model being trained writes new
    checkpoints that the preview should pick up)."""
    stamps = []
    for value in effect.params.values():
        ref = project.models.get(value) if isinstance(value, str) else None
        if ref is not None:
            path = resolve(ref.path)
            files = [path] + (list(path.iterdir()) if path.is_dir() else [])
            stamps.append(max((f.stat().st_mtime_ns for f in files if f.exists()), default=0))
    return str(stamps)
