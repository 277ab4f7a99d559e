"""Thumbnails and audio waveform peaks of media items, computed off the UI thread.

Views ask for a media id's thumbnail or peaks; the first ask starts the work on a small
background executor and returns None, and :attr:`MediaCache.updated` (emitted on the main
thread) says when it is ready.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from deepstudio.core.project import MediaItem
from deepstudio.qt.bridge import MainThreadBridge
from deepstudio.qt.images import qimage_from_rgb

THUMB_WIDTH = 192
WAVEFORM_RATE = 8000

Resolver = Callable[[str], tuple[MediaItem, Path] | None]
"""media id → (media item, absolute path), or None when the id is unknown."""


def thumbnail_rgb(path: Path, frame_count: int) -> np.ndarray:
    """A small RGB frame from a third into the video (past black leaders)."""
    from deepstudio.media.decode import VideoReader

    with VideoReader(path) as reader:
        frame = reader.read(min(frame_count - 1, frame_count // 3))
    h, w = frame.shape[:2]
    size = (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def frame_peaks(path: Path, frames: int, fps: float) -> np.ndarray:
    """Peak absolute amplitude per timeline frame (float32, length ``frames``)."""
    from deepstudio.media.audio import read_audio

    samples = np.abs(read_audio(path, sample_rate=WAVEFORM_RATE))
    per_frame = WAVEFORM_RATE / fps
    edges = np.minimum((np.arange(frames + 1) * per_frame).astype(np.int64), samples.size)
    peaks = np.zeros(frames, np.float32)
    for i in range(frames):
        if edges[i + 1] > edges[i]:
            peaks[i] = samples[edges[i]:edges[i + 1]].max()
    return peaks


class MediaCache(QObject):
    updated = Signal(str)

    def __init__(self, resolve: Resolver, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._resolve = resolve
        self._bridge = MainThreadBridge(self)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="media-cache")
        self._thumbs: dict[str, QImage | None] = {}
        self._peaks: dict[str, np.ndarray | None] = {}
        self._pending: set[tuple[str, str]] = set()

    def set_resolver(self, resolve: Resolver) -> None:
        self._resolve = resolve

    def thumbnail(self, media_id: str) -> QImage | None:
        if media_id in self._thumbs:
            return self._thumbs[media_id]
        target = self._resolve(media_id)
        if target is not None and target[0].has_video and target[0].frame_count > 0:
            item, path = target
            self._start("thumb", media_id, thumbnail_rgb, path, item.frame_count)
        return None

    def peaks(self, media_id: str, timeline_fps: float) -> np.ndarray | None:
        if media_id in self._peaks:
            return self._peaks[media_id]
        target = self._resolve(media_id)
        if target is not None and target[0].has_audio:
            item, path = target
            frames = max(1, round(item.duration_s * timeline_fps))
            self._start("peaks", media_id, frame_peaks, path, frames, timeline_fps)
        return None

    def _start(self, kind: str, media_id: str, fn: Callable, *args: object) -> None:
        key = (kind, media_id)
        if key in self._pending:
            return
        self._pending.add(key)
        future = self._pool.submit(fn, *args)
        self._bridge.on_done(future, lambda f: self._finished(kind, media_id, f))

    def _finished(self, kind: str, media_id: str, future: Future) -> None:
        self._pending.discard((kind, media_id))
        try:
            result = future.result()
        except Exception:  # an unreadable file: show no thumbnail/waveform, never crash
            result = None
        if kind == "thumb":
            self._thumbs[media_id] = None if result is None else qimage_from_rgb(result)
        else:
            self._peaks[media_id] = result
        self.updated.emit(media_id)

    def idle(self) -> bool:
        """True when no thumbnail or waveform is being computed."""
        return not self._pending

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
