"""Online face tracking: a stable integer id per face across frames.

Within a shot, detections are matched to the tracks seen in the last ``max_lost_s`` seconds
by box overlap and landmark-centre distance (Hungarian assignment), so ids survive a few
missed detections. A detection left over (a new face, a face back after a long occlusion,
any face after a cut) is compared by identity embedding with every earlier track that is
not matched in this frame; a close enough one gets its id back (a re-association).

Embeddings cost ~0.15 s each on this CPU build of dlib, so none are computed unless a face
can only come back by identity: tracks keep a few small face crops (at birth and then every
``sample_every_s``). A single face that is tracked continuously, or missed for less than
``max_lost_s``, therefore costs no embedding at all. Once a track is lost for longer, or a
cut ends its shot, its crops are embedded on a helper thread: FaceMesh keeps only one core
busy, so the comparison that may follow finds them ready (on occlusion_a, 4 embeddings of
~0.15 s made its analysis 16 % slower than FaceMesh alone when they ran in line).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from deepstudio.types import BBox, Frame
from deepstudio.vision.facemesh import FaceObservation
from deepstudio.vision.identity import FaceEmbedder, embedding_distance

MAX_LOST_S = 0.5
REID_DISTANCE = 0.55
"""Stricter than dlib's 0.6: a wrong merge is worse than a new id."""
MIN_IOU = 0.1
MAX_CENTRE_SHIFT = 0.5
"""Largest centre move between matched frames, in face sizes."""
SAMPLES_PER_TRACK = 3
SAMPLE_EVERY_S = 2.0
CROP_MARGIN = 0.3
_FORBIDDEN = 1e6


@dataclass
class _IdentitySample:
    """A face crop kept for a later identity comparison, embedded on first use."""

    crop: np.ndarray
    bbox: BBox
    embedding: np.ndarray | None = None
    pending: Future | None = None
    """The embedding being computed on the helper thread."""


@dataclass
class _Track:
    track_id: int
    bbox: BBox
    centre: np.ndarray
    last_frame: int
    next_sample_frame: int
    samples: list[_IdentitySample] = field(default_factory=list)

    @property
    def size(self) -> float:
        return max(self.bbox.width, self.bbox.height, 1.0)


def _centre(observation: FaceObservation) -> np.ndarray:
    return observation.landmarks[:, :2].mean(axis=0)


def _crop_sample(frame: Frame, bbox: BBox) -> _IdentitySample:
    height, width = frame.shape[:2]
    margin = CROP_MARGIN * max(bbox.width, bbox.height)
    x0, y0 = max(int(bbox.x0 - margin), 0), max(int(bbox.y0 - margin), 0)
    x1, y1 = min(int(bbox.x1 + margin) + 1, width), min(int(bbox.y1 + margin) + 1, height)
    crop = frame[y0:y1, x0:x1].copy()
    return _IdentitySample(crop, BBox(bbox.x0 - x0, bbox.y0 - y0, bbox.x1 - x0, bbox.y1 - y0))


class FaceTracker:
    """Assigns track ids to the faces of consecutive frames; see the module docstring."""

    def __init__(self, fps: float, embedder: FaceEmbedder | None = None,
                 max_lost_s: float = MAX_LOST_S, reid_distance: float = REID_DISTANCE) -> None:
        self.max_lost_frames = max(1, round(max_lost_s * fps))
        self.sample_every = max(1, round(SAMPLE_EVERY_S * fps))
        self.reid_distance = reid_distance
        self._embedder = embedder
        self._tracks: list[_Track] = []
        self._next_id = 0
        self.reassociations: list[tuple[int, int]] = []
        """(frame, track id) of every id given back to a face by identity."""
        self.embeddings_computed = 0
        self._helper: ThreadPoolExecutor | None = None
        self._embedder_lock = threading.Lock()
        self._in_view: dict[int, _Track] = {}
        """Tracks seen within the last ``max_lost_frames`` of their shot (the others can only
        come back by identity)."""

    def update(self, frame_index: int, frame: Frame, faces: list[FaceObservation],
               cut: bool = False) -> list[int]:
        """Track ids of ``faces`` (same order). ``cut``: a new shot starts at this frame."""
        ids: list[int | None] = [None] * len(faces)
        recent = [] if cut else [t for t in self._tracks
                                 if frame_index - t.last_frame <= self.max_lost_frames]
        self._embed_gone_tracks(frame_index, recent)
        if recent and faces:
            cost = self._spatial_cost(recent, faces)
            for row, col in zip(*linear_sum_assignment(cost)):
                if cost[row, col] < _FORBIDDEN:
                    ids[col] = recent[row].track_id
        leftover = [i for i, track_id in enumerate(ids) if track_id is None]
        if leftover:
            taken = {track_id for track_id in ids if track_id is not None}
            candidates = [t for t in self._tracks if t.track_id not in taken]
            for i, track_id in self._reidentify(frame, faces, leftover, candidates).items():
                ids[i] = track_id
                self.reassociations.append((frame_index, track_id))
        by_id = {t.track_id: t for t in self._tracks}
        result = []
        for face, track_id in zip(faces, ids):
            if track_id is None:
                track = _Track(self._next_id, face.bbox, _centre(face), frame_index, frame_index)
                self._next_id += 1
                self._tracks.append(track)
            else:
                track = by_id[track_id]
                track.bbox, track.centre, track.last_frame = face.bbox, _centre(face), frame_index
            self._in_view[track.track_id] = track
            if len(track.samples) < SAMPLES_PER_TRACK and frame_index >= track.next_sample_frame:
                track.samples.append(_crop_sample(frame, face.bbox))
                track.next_sample_frame = frame_index + self.sample_every
            result.append(track.track_id)
        return result

    def _spatial_cost(self, tracks: list[_Track], faces: list[FaceObservation]) -> np.ndarray:
        cost = np.full((len(tracks), len(faces)), _FORBIDDEN)
        for r, track in enumerate(tracks):
            for c, face in enumerate(faces):
                iou = track.bbox.iou(face.bbox)
                size = max(track.size, face.bbox.width, face.bbox.height)
                shift = float(np.linalg.norm(track.centre - _centre(face))) / size
                if iou >= MIN_IOU or shift <= MAX_CENTRE_SHIFT:
                    cost[r, c] = (1.0 - iou) + shift
        return cost

    def _reidentify(self, frame: Frame, faces: list[FaceObservation], leftover: list[int],
                    candidates: list[_Track]) -> dict[int, int]:
        """Leftover face index -> earlier track id, for faces close enough in identity."""
        candidates = [t for t in candidates if t.samples]
        if not candidates:
            return {}
        distance = np.full((len(leftover), len(candidates)), np.inf)
        for r, i in enumerate(leftover):
            query = self._embed(frame, faces[i].bbox)
            for c, track in enumerate(candidates):
                distance[r, c] = min(embedding_distance(query, self._sample_embedding(s))
                                     for s in track.samples)
        rows, cols = linear_sum_assignment(np.where(np.isfinite(distance), distance, 1e3))
        return {leftover[r]: candidates[c].track_id for r, c in zip(rows, cols)
                if distance[r, c] < self.reid_distance}

    def _embed_gone_tracks(self, frame_index: int, recent: list[_Track]) -> None:
        """Start embedding the crops of tracks that can now only come back by identity."""
        still_near = {t.track_id for t in recent}
        gone = [t for t in self._in_view.values() if t.track_id not in still_near]
        for track in gone:
            del self._in_view[track.track_id]
            for sample in track.samples:
                if sample.embedding is None and sample.pending is None:
                    if self._helper is None:
                        # Its idle thread ends when the tracker is collected.
                        self._helper = ThreadPoolExecutor(1, thread_name_prefix="face-embed")
                    sample.pending = self._helper.submit(self._embed, sample.crop, sample.bbox)

    def _sample_embedding(self, sample: _IdentitySample) -> np.ndarray:
        if sample.embedding is None:
            if sample.pending is not None:
                sample.embedding = sample.pending.result()
            else:
                sample.embedding = self._embed(sample.crop, sample.bbox)
            sample.crop, sample.pending = sample.crop[:0], None  # the pixels are not needed
        return sample.embedding

    def _embed(self, image: Frame, bbox: BBox) -> np.ndarray:
        """An embedding (thread-safe: dlib releases the GIL and only reads its models)."""
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = FaceEmbedder()
            self.embeddings_computed += 1
        return self._embedder.embed(image, bbox)
