"""Whole-video face analysis: landmarks of every face in every frame, grouped into tracks.

FaceMesh keeps one core busy, so the video is cut into segments (:class:`_SegmentPlan`:
fixed by the file, so results never depend on timing) that one worker thread per core takes
in order, each with its own FaceMesh graph and tracker (:func:`_track_segment` has the
hand-over between them); in each worker a decode thread feeds a small bounded queue, so PyAV
decodes the next frames while MediaPipe works on this one. Per frame: shot-cut check,
FaceMesh (tracking mode), tracker. The trackers share one
:class:`~deepstudio.vision.embedding_process.EmbeddingProcess` for identity comparisons
(dlib holds the GIL; in a child process it stalls no worker). The segments are joined in
frame order (:meth:`FaceTracker.join`), then every track is smoothed (One-Euro, restarted at
cuts and gaps). Results are cached per media content hash as a pickle-free ``.npz``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from deepstudio.errors import Cancelled, DiskFullError, MediaError, is_disk_full
from deepstudio.media.decode import VideoReader
from deepstudio.media.probe import MediaInfo, probe
from deepstudio.types import BBox, FrameIndex, Progress, ProgressCallback
from deepstudio.vision.embedding_process import EmbeddingProcess
from deepstudio.vision.facemesh import NUM_LANDMARKS, FaceMeshDetector
from deepstudio.vision.shots import ShotDetector, colour_histogram
from deepstudio.vision.smoothing import smooth_sequence
from deepstudio.vision.tracker import FaceTracker

ANALYSIS_VERSION = 5
"""Bump when results would differ (models, tracker, smoothing, file layout): old caches die."""
DECODE_QUEUE_FRAMES = 8
PROGRESS_INTERVAL_S = 0.2
MAX_WORKERS = 8
"""Analysis threads, one FaceMesh graph each (a graph keeps one core busy)."""
MIN_SEGMENT_FRAMES = 70
"""Segments are at least this long: each boundary costs ~10 frames of extra work."""
MIN_HALF_FRAMES = 30
"""A shorter video is still cut in two when both halves have this many frames: two workers
nearly halve its time, which pays for one boundary (multi_a, 120 frames: 1.0 s instead of
1.25 s; swap_a, 78 frames: 0.42-0.46 s instead of 0.47-0.50 s)."""
MAX_SEGMENTS = 1024
DECODE_SHARE = 0.3
"""Decoding a frame costs roughly this fraction of FaceMesh on it (places segment bounds)."""
SAME_FACE_IOU = 0.5
"""Box overlap at which two workers' faces in one frame count as the same face."""
PRIME_FRAMES = 8
"""A worker starting mid-video first runs FaceMesh (and the cut detector) on this many
earlier frames, unrecorded: FaceMesh keeps tracking faces that its detector would not find
afresh (small, turned, half covered), and a cold start at the boundary would miss them."""


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
                _write_npz(f, arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, path)
        except BaseException as exc:
            Path(temp).unlink(missing_ok=True)
            if is_disk_full(exc):
                raise DiskFullError(path) from None
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


def _write_npz(file: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    """What ``np.savez`` writes, with every part closed even when a write fails (np.savez
    leaves its zip file open then, and it fails again, noisily, when collected)."""
    with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


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
    plan = _SegmentPlan(info)
    # At least two workers even on one core: a worker at the end of its segment may wait for
    # the next segment's first frames, which the other worker then analyses.
    workers = min(max(2, min(os.cpu_count() or 1, MAX_WORKERS)), len(plan.segments))
    reporter = _ProgressReporter(progress, info.frame_count)
    stop = threading.Event()
    done = [0] * workers
    with (EmbeddingProcess() as embedder,
          ThreadPoolExecutor(workers, thread_name_prefix="analysis-worker") as pool):
        futures = [pool.submit(_worker, info, plan, fps, max_faces, embedder, stop, done, k)
                   for k in range(workers)]
        try:
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, PROGRESS_INTERVAL_S, FIRST_EXCEPTION)
                for future in finished:
                    future.result()  # raises a worker's error here
                reporter.frames_done(sum(done))
        except BaseException:
            stop.set()  # leaving the pool then waits for the other workers to stop
            raise
        segments = sorted((s for f in futures for s in f.result()), key=lambda s: s.start)
        tracker, rows, cuts = _join_segments(segments)
    tracks = {track_id: _build_track(track_id, observed, cuts, fps)
              for track_id, observed in sorted(rows.items())}
    return FaceAnalysis(info.content_hash, info.frame_count, fps, info.width, info.height,
                        tracks, cuts, list(tracker.reassociations), max_faces)


def _join_segments(segments: list[_Segment]
                   ) -> tuple[FaceTracker, dict[int, list[tuple[int, Any]]], list[int]]:
    """One tracker, the observations by track id and the cuts of segments in frame order;
    where a worker went on past its range, its frames replace the next worker's."""
    tracker, rows, cuts = segments[0].tracker, segments[0].rows, segments[0].cuts
    covered = segments[0].end
    for segment in segments[1:]:
        start = max(segment.start, covered)  # the worker before may have gone on past it
        later = {track_id: kept for track_id, observed in segment.rows.items()
                 if (kept := [(i, face) for i, face in observed if i >= start])}
        later_cuts = [c for c in segment.cuts if c >= start]
        if start > segment.start:
            segment.tracker.forget_before(start, {k: v[0] for k, v in later.items()},
                                          later_cuts)
        mapping = tracker.join(segment.tracker, start, start in later_cuts)
        cuts.extend(later_cuts)
        for local_id, observed in later.items():
            rows.setdefault(mapping[local_id], []).extend(observed)
        covered = max(covered, segment.end)
    return tracker, rows, cuts


@dataclass
class _Range:
    """One segment of the plan: frames ``start``..``end`` and what its worker found."""

    start: int
    end: int
    seen: dict[int, list[BBox]] = field(default_factory=dict)
    """The face boxes its worker found, by frame (read by the worker of the range before)."""
    finished: bool = False


class _SegmentPlan:
    """Cuts the video into segments that depend on the file alone, never on timing or on
    the number of cores, so an analysis gives the same landmarks every time (a worker's
    start changes FaceMesh's landmarks by fractions of a pixel, and those feed training).

    A power of two of segments (so 2, 4, 8 ... workers share them evenly) of at least
    ``MIN_SEGMENT_FRAMES`` (``MIN_HALF_FRAMES`` for two) and half the usual keyframe
    interval; a boundary may move to a keyframe (see :meth:`_place`), where its worker can
    start without decoding the frames before. Workers take the segments in order.
    """

    def __init__(self, info: MediaInfo) -> None:
        total = max(info.frame_count, 1)
        keys = np.unique(np.append(info.keyframe_indices(), 0))
        # Half a typical keyframe interval or more: then most boundaries can move to a
        # keyframe, and few start by decoding many frames nobody analyses.
        gop = float(np.median(np.diff(keys))) if keys.size > 1 else total
        shortest = max(MIN_SEGMENT_FRAMES, gop / 2)
        count = 2 if total / 2 >= max(MIN_HALF_FRAMES, gop / 2) else 1
        while total // (count * 2) >= shortest and count * 2 <= MAX_SEGMENTS:
            count *= 2
        length = total / count
        bounds = [0]
        for k in range(1, count):
            bound = self._place(round(k * length), keys)
            if bound - bounds[-1] >= MIN_SEGMENT_FRAMES // 2:
                bounds.append(bound)
        bounds.append(total)
        self.segments = [_Range(a, b) for a, b in itertools.pairwise(bounds)]
        self._next = 0
        self._changed = threading.Condition()

    @staticmethod
    def _place(ideal: int, keys: np.ndarray) -> int:
        """A boundary near ``ideal``: moved to a keyframe (plus priming) where the frames it
        saves decoding are worth more than the imbalance it makes, in frames of FaceMesh."""
        decode_from = int(keys[keys <= max(0, ideal - PRIME_FRAMES)][-1])
        redundant = (ideal - PRIME_FRAMES - decode_from) * DECODE_SHARE
        cheap = keys + PRIME_FRAMES
        nearest = int(cheap[np.argmin(np.abs(cheap - ideal))])
        return nearest if abs(nearest - ideal) * (1 + DECODE_SHARE) <= redundant else ideal

    def take(self) -> _Range | None:
        """The first segment nobody has taken yet."""
        with self._changed:
            if self._next == len(self.segments):
                return None
            self._next += 1
            return self.segments[self._next - 1]

    def successor(self, taken: _Range) -> _Range | None:
        index = self.segments.index(taken)
        return self.segments[index + 1] if index + 1 < len(self.segments) else None

    def record(self, taken: _Range, index: int, boxes: list[BBox]) -> None:
        with self._changed:
            taken.seen[index] = boxes
            self._changed.notify_all()

    def finish(self, taken: _Range) -> None:
        with self._changed:
            taken.finished = True
            self._changed.notify_all()

    def wait_seen(self, taken: _Range, index: int, stop: threading.Event) -> list[BBox] | None:
        """The boxes ``taken``'s worker found in frame ``index``, once it has got there
        (None if it never does: its video ended early)."""
        with self._changed:
            while index not in taken.seen and not taken.finished:
                if stop.is_set():
                    raise Cancelled
                self._changed.wait(PROGRESS_INTERVAL_S)
            return taken.seen.get(index)


@dataclass
class _Segment:
    """What one worker found in one range of frames, on its own."""

    start: int
    end: int
    """After the last frame it recorded: past its range when it handed over late."""
    rows: dict[int, list[tuple[int, Any]]]
    cuts: list[int]
    """Cuts at ``start`` included: the shot detector saw the frames before it (priming)."""
    tracker: FaceTracker


def _worker(info: MediaInfo, plan: _SegmentPlan, fps: float, max_faces: int,
            embedder: EmbeddingProcess, stop: threading.Event, done: list[int], slot: int
            ) -> list[_Segment]:
    """Analyse the segments ``plan`` hands out, with one FaceMesh graph."""
    segments = []
    with FaceMeshDetector(max_faces=max_faces) as detector:
        while (taken := plan.take()) is not None:
            detector.reset()
            try:
                tracker = FaceTracker(fps, embedder, joined_later=taken.start > 0)
                segments.append(_track_segment(info, taken, plan, detector, tracker, stop,
                                               done, slot))
            finally:
                plan.finish(taken)
    return segments


def _track_segment(info: MediaInfo, taken: _Range, plan: _SegmentPlan,
                   detector: FaceMeshDetector, tracker: FaceTracker, stop: threading.Event,
                   done: list[int], slot: int) -> _Segment:
    """Decode, FaceMesh and track one segment; counts its frames in ``done[slot]``.

    At the end of its segment the worker hands over to the worker of the next one. If it is
    following faces there, it goes on past its end until the next worker found the same
    faces in a frame (or it sees none): FaceMesh keeps tracking faces that its detector does
    not find afresh, and the next worker, started cold (primed on ``PRIME_FRAMES`` only),
    may have missed them. It waits for the next worker's frame rather than guessing, so
    where the hand-over happens depends on the two workers' results, not on their speed.
    """
    shots = ShotDetector()
    rows: dict[int, list[tuple[int, Any]]] = {}
    cuts: list[int] = []
    faces: list[Any] = []
    successor: _Range | None = None
    end = taken.start
    primed_from = max(0, taken.start - PRIME_FRAMES)
    with contextlib.closing(_prefetched_frames(info, primed_from, info.frame_count)) as frames:
        for index, frame, histogram in frames:
            if stop.is_set():
                raise Cancelled
            if index < taken.start:
                shots.update_histogram(histogram)
                detector.detect(frame)
                continue
            if index == taken.end:
                successor = plan.successor(taken)
                if not faces or successor is None:
                    break
            faces = detector.detect(frame)
            if successor is not None:
                if not faces or index >= successor.end:
                    break
                theirs = plan.wait_seen(successor, index, stop)
                if theirs is None or _same_boxes(faces, theirs):
                    break
            cut = shots.update_histogram(histogram)
            if cut:
                cuts.append(index)
            ids = tracker.update(index, frame, faces, cut=cut)
            for track_id, face in zip(ids, faces):
                rows.setdefault(track_id, []).append((index, face))
            if successor is None:
                plan.record(taken, index, [face.bbox for face in faces])
                done[slot] += 1
            end = index + 1
    return _Segment(taken.start, end, rows, cuts, tracker)


def _same_boxes(faces: list[Any], boxes: list[BBox]) -> bool:
    """Whether two workers found the same faces in a frame (one to one, boxes overlapping)."""
    if len(faces) != len(boxes):
        return False
    unmatched = list(boxes)
    for face in faces:
        best = max(unmatched, key=face.bbox.iou)
        if face.bbox.iou(best) < SAME_FACE_IOU:
            return False
        unmatched.remove(best)
    return True


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

    def frames_done(self, count: int) -> None:
        now = time.monotonic()
        if self.callback is None or count == 0 or now - self.last < PROGRESS_INTERVAL_S:
            return
        self.last = now
        fraction = min(count, self.total) / self.total
        eta = (now - self.start) * (1 - fraction) / fraction
        self.callback(Progress(fraction, f"analysing faces: {count}/{self.total} frames",
                               eta_s=eta))


_END = object()


def _prefetched_frames(info: MediaInfo, start: int, end: int
                       ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Frames ``start``..``end`` with their colour histograms (for cut detection), decoded
    in a background thread a few frames ahead, so both overlap MediaPipe."""
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
                for index, frame in reader.frames(start, end):
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
