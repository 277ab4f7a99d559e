"""Online face tracking: a stable integer id per face across frames.

Within a shot, detections are matched to the tracks seen in the last ``max_lost_s`` seconds
by box overlap and landmark-centre distance (Hungarian assignment), so ids survive a few
missed detections. A detection left over (a new face, a face back after a long occlusion,
any face after a cut) is compared by identity embedding with every earlier track that is
not matched in this frame; a close enough one gets its id back (a re-association).

Embeddings cost ~0.08-0.15 s each on this CPU build of dlib, so none are computed unless a
face can only come back by identity: tracks keep a few small face crops (at birth and then
every ``sample_every_s``). A single face that is tracked continuously, or missed for less
than ``max_lost_s``, therefore costs no embedding at all. Once a track is lost for longer, or
a cut ends its shot, its crops are embedded on a helper thread, so that the comparison that
may follow finds them ready. dlib holds the GIL while it works, so the analysis gives its
trackers an :class:`~deepstudio.vision.embedding_process.EmbeddingProcess`: the helper
thread then only waits for a child process and the Face Mesh workers go on.

The analysis tracks a long video in segments on several cores, one tracker each, and
:meth:`FaceTracker.join` then merges each tracker into the one before it by the same rules.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from deepstudio.types import BBox, Frame
from deepstudio.vision.facemesh import FaceObservation
from deepstudio.vision.identity import Embedder, FaceEmbedder, embedding_distance

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
    first_frame: int
    first_bbox: BBox
    first_centre: np.ndarray
    samples: list[_IdentitySample] = field(default_factory=list)

    @property
    def size(self) -> float:
        return max(self.bbox.width, self.bbox.height, 1.0)


def _centre(observation: FaceObservation) -> np.ndarray:
    return observation.landmarks[:, :2].mean(axis=0)


def _pair_cost(bbox: BBox, centre: np.ndarray, size: float, face_bbox: BBox,
               face_centre: np.ndarray) -> float:
    """Cost of a face continuing a track (box overlap and centre shift), or ``_FORBIDDEN``."""
    iou = bbox.iou(face_bbox)
    size = max(size, face_bbox.width, face_bbox.height)
    shift = float(np.linalg.norm(centre - face_centre)) / size
    if iou >= MIN_IOU or shift <= MAX_CENTRE_SHIFT:
        return (1.0 - iou) + shift
    return _FORBIDDEN


def _identity_candidates(track: _Track, earlier: list[_Track]) -> list[_Track]:
    """The ``earlier`` tracks ``track`` may continue by identity: sampled, and never on
    screen at the same time as it."""
    return [t for t in earlier if t.samples
            and (t.last_frame < track.first_frame or t.first_frame > track.last_frame)]


def _crop_sample(frame: Frame, bbox: BBox) -> _IdentitySample:
    height, width = frame.shape[:2]
    margin = CROP_MARGIN * max(bbox.width, bbox.height)
    x0, y0 = max(int(bbox.x0 - margin), 0), max(int(bbox.y0 - margin), 0)
    x1, y1 = min(int(bbox.x1 + margin) + 1, width), min(int(bbox.y1 + margin) + 1, height)
    crop = frame[y0:y1, x0:x1].copy()
    return _IdentitySample(crop, BBox(bbox.x0 - x0, bbox.y0 - y0, bbox.x1 - x0, bbox.y1 - y0))


class FaceTracker:
    """Assigns track ids to the faces of consecutive frames; see the module docstring."""

    def __init__(self, fps: float, embedder: Embedder | None = None,
                 max_lost_s: float = MAX_LOST_S, reid_distance: float = REID_DISTANCE,
                 joined_later: bool = False) -> None:
        """``joined_later``: this tracker starts mid-video and its tracks will be joined onto
        an earlier tracker's (:meth:`join`); a track that appears away from its first frame
        then has its first crop embedded in the background straight away, because the join
        will compare it by identity and would otherwise wait for that embedding."""
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
        self.first_cut: int | None = None
        self.last_cut: int | None = None
        """The first and the latest frame at which ``update`` was told a new shot starts."""
        self._in_view: dict[int, _Track] = {}
        """Tracks seen within the last ``max_lost_frames`` of their shot (the others can only
        come back by identity)."""
        self._joined_later = joined_later
        self._first_frame: int | None = None

    def update(self, frame_index: int, frame: Frame, faces: list[FaceObservation],
               cut: bool = False) -> list[int]:
        """Track ids of ``faces`` (same order). ``cut``: a new shot starts at this frame."""
        ids: list[int | None] = [None] * len(faces)
        if self._first_frame is None:
            self._first_frame = frame_index
        if cut:
            self.first_cut = frame_index if self.first_cut is None else self.first_cut
            self.last_cut = frame_index
        recent = [] if cut else [t for t in self._tracks
                                 if frame_index - t.last_frame <= self.max_lost_frames]
        self._embed_gone_tracks(frame_index, recent)
        if recent and faces:
            cost = self._spatial_cost(recent, faces)
            for row, col in zip(*linear_sum_assignment(cost)):
                if cost[row, col] < _FORBIDDEN:
                    ids[col] = recent[row].track_id
        leftover = [i for i, track_id in enumerate(ids) if track_id is None]
        queries: dict[int, np.ndarray] = {}
        if leftover:
            taken = {track_id for track_id in ids if track_id is not None}
            candidates = [t for t in self._tracks if t.track_id not in taken]
            found = self._reidentify(frame, faces, leftover, candidates, queries)
            for i, track_id in found.items():
                ids[i] = track_id
                self.reassociations.append((frame_index, track_id))
        by_id = {t.track_id: t for t in self._tracks}
        result = []
        for i, (face, track_id) in enumerate(zip(faces, ids)):
            if track_id is None:
                centre = _centre(face)
                track = _Track(self._next_id, face.bbox, centre, frame_index, frame_index,
                               frame_index, face.bbox, centre)
                self._next_id += 1
                self._tracks.append(track)
            else:
                track = by_id[track_id]
                track.bbox, track.centre, track.last_frame = face.bbox, _centre(face), frame_index
            self._in_view[track.track_id] = track
            if len(track.samples) < SAMPLES_PER_TRACK and frame_index >= track.next_sample_frame:
                sample = _crop_sample(frame, face.bbox)
                if track_id is None and i in queries:  # a new track: its query is this crop
                    sample.embedding, sample.crop = queries[i], sample.crop[:0]
                elif track_id is None and self._joined_later and (
                        self.first_cut is not None
                        or frame_index - self._first_frame > self.max_lost_frames):
                    self._embed_in_background(sample)
                track.samples.append(sample)
                track.next_sample_frame = frame_index + self.sample_every
            result.append(track.track_id)
        return result

    def join(self, later: FaceTracker, first_frame: int, cut: bool) -> dict[int, int]:
        """Take over the tracks of ``later``, which tracked the frames from ``first_frame`` on
        (right after this tracker's last frame) on its own; returns its track ids -> ids here.

        This is what :meth:`update` would have decided had it seen those frames itself: a
        track that starts within ``max_lost_frames`` of the boundary (and before ``later``'s
        first cut) continues the nearby track that ended just before it, unless ``cut`` says
        a shot starts at ``first_frame``; any other track that was new to ``later`` gets an
        earlier id back when its first face crop is close enough in identity to a track here
        that is not on screen at the same time. The analysis uses this to split a video into
        segments tracked in parallel.
        """
        mapping: dict[int, int] = {}
        incoming = sorted(later._tracks, key=lambda t: t.first_frame)
        earlier = list(self._tracks)
        by_id = {t.track_id: t for t in self._tracks}
        if not cut:
            self._join_across_boundary(later, incoming, first_frame, mapping)
        # Continued tracks first: extended, they are on screen beside the new ones, so they
        # are nobody's identity candidates and their crops need no embedding.
        for track in incoming:
            if track.track_id in mapping:
                self._extend(by_id[mapping[track.track_id]], track)
        unknown = [t for t in incoming if t.track_id not in mapping]
        for track in unknown:
            found = self._identify_track(track, earlier)
            if found is not None:
                mapping[track.track_id] = found
                self.reassociations.append((track.first_frame, found))
                self._extend(by_id[found], track)
            else:
                mapping[track.track_id] = self._next_id
                track.track_id = self._next_id
                self._next_id += 1
                self._tracks.append(track)
                by_id[track.track_id] = track
        self.reassociations.extend((frame, mapping[track_id])
                                   for frame, track_id in later.reassociations)
        self.reassociations.sort()
        self.embeddings_computed += later.embeddings_computed
        for frame in ([first_frame] if cut else []) + [later.first_cut, later.last_cut]:
            if frame is not None:
                self.first_cut = frame if self.first_cut is None else self.first_cut
                self.last_cut = frame
        return mapping

    def forget_before(self, frame: int, first_seen: dict[int, tuple[int, FaceObservation]],
                      cuts: list[int]) -> None:
        """Keep only what this tracker saw from ``frame`` on (the tracker before it covered
        the earlier frames, see :meth:`join`): ``first_seen`` holds, for each track seen
        since, its first frame and face from there; ``cuts`` the cuts from there."""
        self._tracks = [t for t in self._tracks if t.track_id in first_seen]
        for track in self._tracks:
            track.first_frame, face = first_seen[track.track_id]
            track.first_bbox, track.first_centre = face.bbox, _centre(face)
        self.reassociations = [(f, i) for f, i in self.reassociations
                               if f >= frame and i in first_seen]
        self.first_cut = cuts[0] if cuts else None
        self.last_cut = cuts[-1] if cuts else None

    def _join_across_boundary(self, later: FaceTracker, incoming: list[_Track],
                              first_frame: int, mapping: dict[int, int]) -> None:
        """Spatial matching of the tracks that end just before the boundary with those that
        start just after it (the frame-to-frame rule of :meth:`update`)."""
        ending = [t for t in self._tracks if first_frame - t.last_frame <= self.max_lost_frames
                  and (self.last_cut is None or t.last_frame >= self.last_cut)]
        starting = [t for t in incoming
                    if later.first_cut is None or t.first_frame < later.first_cut]
        if not ending or not starting:
            return
        cost = np.full((len(ending), len(starting)), _FORBIDDEN)
        for r, old in enumerate(ending):
            for c, new in enumerate(starting):
                if new.first_frame - old.last_frame <= self.max_lost_frames:
                    cost[r, c] = _pair_cost(old.bbox, old.centre, old.size,
                                            new.first_bbox, new.first_centre)
        for row, col in zip(*linear_sum_assignment(cost)):
            if cost[row, col] < _FORBIDDEN:
                mapping[starting[col].track_id] = ending[row].track_id

    def _identify_track(self, track: _Track, earlier: list[_Track]) -> int | None:
        """The id of the closest of the ``earlier`` tracks in identity that is not on screen
        while ``track`` is, if close enough (its first face crop is the query)."""
        candidates = _identity_candidates(track, earlier)
        if not candidates or not track.samples:
            return None
        query = self._sample_embedding(track.samples[0])
        distances = [min(embedding_distance(query, self._sample_embedding(s)) for s in t.samples)
                     for t in candidates]
        best = int(np.argmin(distances))
        return candidates[best].track_id if distances[best] < self.reid_distance else None

    @staticmethod
    def _extend(track: _Track, later: _Track) -> None:
        """``track`` continues as ``later`` (which follows it in time). It keeps the samples
        already embedded (or being embedded) first, so a later join need not wait for one."""
        samples = track.samples + later.samples
        track.bbox, track.centre, track.last_frame = later.bbox, later.centre, later.last_frame
        track.samples = sorted(samples, key=lambda s: s.embedding is None and s.pending is None
                               )[:SAMPLES_PER_TRACK]

    def _spatial_cost(self, tracks: list[_Track], faces: list[FaceObservation]) -> np.ndarray:
        cost = np.full((len(tracks), len(faces)), _FORBIDDEN)
        for r, track in enumerate(tracks):
            for c, face in enumerate(faces):
                cost[r, c] = _pair_cost(track.bbox, track.centre, track.size,
                                        face.bbox, _centre(face))
        return cost

    def _reidentify(self, frame: Frame, faces: list[FaceObservation], leftover: list[int],
                    candidates: list[_Track], queries: dict[int, np.ndarray]) -> dict[int, int]:
        """Leftover face index -> earlier track id, for faces close enough in identity.
        The leftover faces' embeddings are put in ``queries`` (a new track keeps its own)."""
        candidates = [t for t in candidates if t.samples]
        if not candidates:
            return {}
        distance = np.full((len(leftover), len(candidates)), np.inf)
        for r, i in enumerate(leftover):
            query = queries[i] = self._embed(frame, faces[i].bbox)
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
                self._embed_in_background(sample)

    def _embed_in_background(self, sample: _IdentitySample) -> None:
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
        """An embedding (thread-safe: both kinds of embedder may be called from any thread)."""
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = FaceEmbedder()
            self.embeddings_computed += 1
        return self._embedder.embed(image, bbox)
