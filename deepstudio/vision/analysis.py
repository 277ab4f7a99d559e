"""Whole-video face analysis: landmarks of every face in every frame, grouped into tracks.

Decoding runs in a background thread feeding a small bounded queue, so PyAV decodes the
next frames while MediaPipe works on this one. Per frame: shot-cut check, FaceMesh
(tracking mode), tracker. At the end every track is smoothed (One-Euro, restarted at cuts
and gaps). Results are cached per media content hash as a pickle-free ``.npz``.
"""

from __future__ import annotations

import json
import os
import queue
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from deepstudio.errors import MediaError
from deepstudio.media.decode import VideoReader
from deepstudio.media.probe import MediaInfo, probe
from deepstudio.types import BBox, FrameIndex, Progress, ProgressCallback
from deepstudio.vision.facemesh import NUM_LANDMARKS, FaceMeshDetector
from deepstudio.vision.shots import ShotDetector, colour_histogram
from deepstudio.vision.smoothing import smooth_sequence
from deepstudio.vision.tracker import FaceTracker

ANALYSIS_VERSION = 3
"""Bump when results would differ (models, tracker, smoothing, file layout): old caches die."""
DECODE_QUEUE_FRAMES = 8
PROGRESS_INTERVAL_S = 0.2


@dataclass(frozen=True)
class FaceTrack:
    """One face followed through the video. Row k of every array is frame ``frames[k]``."""

    track_id: int
    frames: np.ndarray
    """int32 (n,), increasing (gaps where the face was not found)."""
    landmarks: np.ndarray
    """float32 (n, 478, 3) as detected."""
    smoothed: np.ndarray
    """float32 (n, 478, 3) after One-Euro smoothing (use these for rendering)."""
    bboxes: np.ndarray
    """float32 (n, 4): x0, y0, x1, y1 of the detected landmarks."""
    scores: np.ndarray
    """float32 (n,): fraction of the landmarks inside the frame."""


@dataclass(frozen=True)
class TrackedFace:
    track_id: int
    landmarks: np.ndarray
    """float32 (478, 3), smoothed."""
    bbox: BBox


@dataclass
class FaceAnalysis:
    """Faces of one media file. Build with :func:`analyze_video` or :meth:`load`."""

    content_hash: str
    frame_count: int
    fps: float
    width: int
    height: int
    tracks: dict[int, FaceTrack]
    cuts: list[int]
    """Frames at which a new shot starts."""
    reassociations: list[tuple[int, int]] = field(default_factory=list)
    """(frame, track id) where a face got an earlier track's id back by identity."""
    max_faces: int = 4

    @cached_property
    def _by_frame(self) -> dict[int, list[tuple[FaceTrack, int]]]:
        index: dict[int, list[tuple[FaceTrack, int]]] = {}
        for track in self.tracks.values():
            for row, frame in enumerate(track.frames.tolist()):
                index.setdefault(frame, []).append((track, row))
        return index

    def faces_at(self, frame: FrameIndex) -> list[TrackedFace]:
        """The tracked faces of one frame, by track id."""
        return [TrackedFace(track.track_id, track.smoothed[row],
                            BBox(*map(float, track.bboxes[row])))
                for track, row in self._by_frame.get(frame, [])]

    def summary(self) -> dict[str, Any]:
        """Counts for people: frames, how many have 0/1/2... faces, each track's range."""
        counts = np.bincount([len(self._by_frame.get(f, [])) for f in range(self.frame_count)],
                             minlength=1)
        return {
            "frames": self.frame_count,
            "fps": self.fps,
            "size": [self.width, self.height],
            "faces_per_frame": {str(n): int(c) for n, c in enumerate(counts) if c},
            "tracks": [{"id": t.track_id, "first": int(t.frames[0]), "last": int(t.frames[-1]),
                        "frames": len(t.frames)} for t in self.tracks.values()],
            "cuts": list(self.cuts),
            "reassociations": [list(r) for r in self.reassociations],
        }

    def to_json(self) -> str:
        """Everything, as JSON text (coordinates rounded to 1/100 pixel)."""
        data = self._metadata()
        data["tracks"] = [{
            "id": t.track_id,
            "frames": t.frames.tolist(),
            "landmarks": np.round(t.landmarks, 2).tolist(),
            "smoothed": np.round(t.smoothed, 2).tolist(),
            "bboxes": np.round(t.bboxes, 2).tolist(),
            "scores": np.round(t.scores, 4).tolist(),
        } for t in self.tracks.values()]
        return json.dumps(data)

    def _metadata(self) -> dict[str, Any]:
        return {"version": ANALYSIS_VERSION, "content_hash": self.content_hash,
                "frame_count": self.frame_count, "fps": self.fps, "width": self.width,
                "height": self.height, "cuts": list(self.cuts),
                "reassociations": [list(r) for r in self.reassociations],
                "max_faces": self.max_faces}

    def save(self, path: str | Path) -> None:
        """Write atomically as .npz (plain arrays plus a JSON metadata array; no pickle)."""
        path = Path(path)
        tracks = list(self.tracks.values())
        arrays = {
            "meta": np.frombuffer(json.dumps(self._metadata()).encode(), dtype=np.uint8),
            "track_ids": np.concatenate(
                [np.full(len(t.frames), t.track_id, np.int32) for t in tracks]
                or [np.zeros(0, np.int32)]),
        }
        empty = {"frames": (0,), "landmarks": (0, NUM_LANDMARKS, 3),
                 "smoothed": (0, NUM_LANDMARKS, 3), "bboxes": (0, 4), "scores": (0,)}
        for name, shape in empty.items():
            parts = [getattr(t, name) for t in tracks]
            dtype = np.int32 if name == "frames" else np.float32
            arrays[name] = np.concatenate(parts).astype(dtype) if parts else np.zeros(shape, dtype)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path) -> FaceAnalysis:
        """Read a file written by :meth:`save`; MediaError if it is not one."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(data["meta"].tobytes().decode())
                arrays = {name: data[name] for name in
                          ("track_ids", "frames", "landmarks", "smoothed", "bboxes", "scores")}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise MediaError(f"not a readable face analysis ({exc})", path) from None
        if meta.get("version") != ANALYSIS_VERSION:
            raise MediaError(f"face analysis version {meta.get('version')} is not "
                             f"{ANALYSIS_VERSION}", path)
        tracks = {}
        for track_id in np.unique(arrays["track_ids"]).tolist():
            rows = arrays["track_ids"] == track_id
            tracks[track_id] = FaceTrack(track_id, arrays["frames"][rows],
                                         arrays["landmarks"][rows], arrays["smoothed"][rows],
                                         arrays["bboxes"][rows], arrays["scores"][rows])
        return cls(meta["content_hash"], meta["frame_count"], meta["fps"], meta["width"],
                   meta["height"], tracks, meta["cuts"],
                   [tuple(r) for r in meta["reassociations"]], meta["max_faces"])


def cache_path(cache_dir: str | Path, content_hash: str) -> Path:
    return Path(cache_dir) / f"{content_hash}-v{ANALYSIS_VERSION}.npz"


def analyze_video(path: str | Path, progress: ProgressCallback | None = None,
                  cache_dir: str | Path | None = None, max_faces: int = 4) -> FaceAnalysis:
    """Track every face of a video (see the module docstring).

    ``progress`` receives :class:`Progress` a few times per second; raising
    :class:`Cancelled` from it stops the analysis. With ``cache_dir`` a result for the
    same content (and ``max_faces``) is reused, and a new one is stored there.
    """
    info = probe(path)
    if not info.has_video:
        raise MediaError("has no video stream", info.path)
    cached = cache_path(cache_dir, info.content_hash) if cache_dir is not None else None
    if cached is not None and cached.is_file():
        try:
            analysis = FaceAnalysis.load(cached)
        except MediaError:
            analysis = None  # unreadable or stale cache: analyse again and overwrite it
        if analysis is not None and analysis.max_faces == max_faces:
            if progress is not None:
                progress(Progress(1.0, "face analysis loaded from cache"))
            return analysis
    analysis = _analyze(info, progress, max_faces)
    if cached is not None:
        analysis.save(cached)
    if progress is not None:
        progress(Progress(1.0, f"face analysis done: {len(analysis.tracks)} face track(s)"))
    return analysis


def _analyze(info: MediaInfo, progress: ProgressCallback | None,
             max_faces: int) -> FaceAnalysis:
    fps = float(info.fps) or 25.0
    shots = ShotDetector()
    tracker = FaceTracker(fps)
    rows: dict[int, list[tuple[int, Any]]] = {}
    cuts: list[int] = []
    reporter = _ProgressReporter(progress, info.frame_count)
    with FaceMeshDetector(max_faces=max_faces) as detector:
        for index, frame, histogram in _prefetched_frames(info):
            cut = shots.update_histogram(histogram)
            if cut:
                cuts.append(index)
            faces = detector.detect(frame)
            ids = tracker.update(index, frame, faces, cut=cut)
            for track_id, face in zip(ids, faces):
                rows.setdefault(track_id, []).append((index, face))
            reporter.frame_done(index)
    tracks = {track_id: _build_track(track_id, observed, cuts, fps)
              for track_id, observed in sorted(rows.items())}
    return FaceAnalysis(info.content_hash, info.frame_count, fps, info.width, info.height,
                        tracks, cuts, list(tracker.reassociations), max_faces)


def _build_track(track_id: int, observed: list[tuple[int, Any]], cuts: list[int],
                 fps: float) -> FaceTrack:
    frames = np.array([index for index, _ in observed], dtype=np.int32)
    landmarks = np.stack([face.landmarks for _, face in observed]).astype(np.float32)
    bboxes = np.array([face.bbox.to_list() for _, face in observed], dtype=np.float32)
    scores = np.array([face.score for _, face in observed], dtype=np.float32)
    # Restart smoothing at the first frame of this track seen in each new shot.
    shot_of = np.searchsorted(np.asarray(cuts, dtype=np.int64), frames, side="right")
    breaks = np.r_[True, np.diff(shot_of) != 0]
    smoothed = smooth_sequence(landmarks, frames, fps, breaks=breaks)
    return FaceTrack(track_id, frames, landmarks, smoothed, bboxes, scores)


class _ProgressReporter:
    def __init__(self, callback: ProgressCallback | None, total: int) -> None:
        self.callback = callback
        self.total = max(total, 1)
        self.start = time.monotonic()
        self.last = self.start

    def frame_done(self, index: int) -> None:
        now = time.monotonic()
        if self.callback is None or now - self.last < PROGRESS_INTERVAL_S:
            return
        self.last = now
        fraction = (index + 1) / self.total
        eta = (now - self.start) * (1 - fraction) / fraction
        self.callback(Progress(fraction, f"analysing faces: frame {index + 1}/{self.total}",
                               eta_s=eta))


_END = object()


def _prefetched_frames(info: MediaInfo) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """The video's frames with their colour histograms (for cut detection), decoded in a
    background thread a few frames ahead, so both overlap MediaPipe on the main thread."""
    frames: queue.Queue[Any] = queue.Queue(maxsize=DECODE_QUEUE_FRAMES)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                frames.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def decode() -> None:
        try:
            with VideoReader(info) as reader:
                for index, frame in reader.frames():
                    if not put((index, frame, colour_histogram(frame))):
                        return
            put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    thread = threading.Thread(target=decode, name="analysis-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = frames.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def raw_facemesh_fps(frames: Sequence[np.ndarray], max_faces: int = 4) -> float:
    """Frames per second of MediaPipe FaceMesh alone (tracking mode, iris refinement, the
    settings :func:`analyze_video` uses) on already decoded RGB frames: the ceiling that
    analysis speed is compared with."""
    from mediapipe.python.solutions.face_mesh import FaceMesh

    views = []
    for frame in frames:
        view = np.ascontiguousarray(frame).view()
        view.flags.writeable = False  # no copy inside MediaPipe, as in FaceMeshDetector
        views.append(view)
    with FaceMesh(static_image_mode=False, max_num_faces=max_faces,
                  refine_landmarks=True) as mesh:
        start = time.perf_counter()
        for view in views:
            mesh.process(view)
        elapsed = time.perf_counter() - start
    return len(frames) / elapsed if elapsed > 0 else float("inf")
