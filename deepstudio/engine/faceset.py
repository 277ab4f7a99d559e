"""Facesets: aligned face crops + masks of one person, extracted from a video for training.

A faceset is a folder::

    faces/000000.png   aligned RGB crops, size x size (template alignment of deepstudio.vision)
    masks/000000.png   face-oval masks in the same crop coordinates (grey, 255 = face)
    faceset.json       identity, size, source media (path, content hash), track, per face:
                       file, frame index, yaw/pitch/roll estimate, sharpness, aligned landmarks;
                       counts of rejected faces per filter and the kept pose range

The folder is written whole under a hidden staging name beside it and then swapped in, so a
killed or failed extraction leaves the previous faceset (or none), never a mix of two.

Extraction filters out blurred frames (variance of the Laplacian well below the track's
median), extreme poses and near-duplicates of the previously kept face (same expression and
pose, same look), so training time goes to faces that teach the network something.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deepstudio.errors import MediaError, ProjectError
from deepstudio.media.decode import VideoReader
from deepstudio.media.probe import MediaInfo, probe
from deepstudio.persistence.atomic import (
    atomic_write_bytes,
    recover_folder,
    replace_folder,
    staging_folder,
)
from deepstudio.types import Progress, ProgressCallback
from deepstudio.vision.align import DEFAULT_COVERAGE, align_face, face_mask, transform_points
from deepstudio.vision.analysis import FaceAnalysis, FaceTrack, analyze_video
from deepstudio.vision.measures import head_pose

FACESET_VERSION = 1
FACESET_FILE = "faceset.json"
DEFAULT_SIZE = 256
"""Stored crop size: training resizes down to its resolution, so store a little more."""
SHARPNESS_SIZE = 128
"""Sharpness is measured at this size so that it does not depend on the stored size."""


@dataclass(frozen=True)
class FaceFilters:
    """Which faces to drop. A value of None switches a filter off."""

    blur_ratio: float | None = 0.5
    """Drop faces sharper than less than this fraction of the track's median sharpness."""
    max_yaw_deg: float | None = 65.0
    max_pitch_deg: float | None = 50.0
    duplicate_landmark_frac: float | None = 0.001
    """Near-duplicate: aligned landmarks moved less than this fraction of the crop size on
    average since the last kept face ..."""
    duplicate_levels: float = 0.75
    """... and a 32 px grey thumbnail differs by less than this many grey levels on average."""
    max_faces: int | None = None
    """Keep at most this many faces, spread evenly over the track."""


@dataclass(frozen=True)
class FacesetInfo:
    """What an extraction produced."""

    path: Path
    identity: str
    size: int
    faces: int
    track_id: int
    frames_seen: int
    rejected: dict[str, int]
    pose_range: dict[str, list[float]]
    """{"yaw": [min, max], "pitch": [...], "roll": [...]} of the kept faces, degrees."""
    source_hash: str


@dataclass(frozen=True)
class Faceset:
    """A faceset loaded for training. N faces of size S."""

    path: Path
    identity: str
    size: int
    faces: np.ndarray
    """uint8 (N, S, S, 3) RGB."""
    masks: np.ndarray
    """float32 (N, S, S) in [0, 1]."""
    landmarks: np.ndarray
    """float32 (N, 478, 2) in crop pixels."""
    frames: np.ndarray
    """int (N,) frame index of each face in its source video."""
    meta: dict[str, Any] = field(repr=False)


def sharpness(face: np.ndarray) -> float:
    """Variance of the Laplacian of the grey crop at :data:`SHARPNESS_SIZE` (higher = sharper)."""
    grey = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (SHARPNESS_SIZE, SHARPNESS_SIZE), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _thumbnail(face: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)


@dataclass
class FaceCandidate:
    """One aligned face before filtering; ``landmarks`` (478, 2) in crop pixels."""

    frame: int
    image: np.ndarray
    landmarks: np.ndarray
    pose: tuple[float, float, float]
    sharpness: float


def _pick_track(analysis: FaceAnalysis, track_id: int | None, video: Path) -> FaceTrack:
    if not analysis.tracks:
        raise MediaError("no face was found in the video", video)
    if track_id is None:
        return max(analysis.tracks.values(), key=lambda t: len(t.frames))
    if track_id not in analysis.tracks:
        raise MediaError(f"has no face track {track_id} (tracks: "
                         f"{', '.join(map(str, analysis.tracks))})", video)
    return analysis.tracks[track_id]


def _aligned_candidates(video: Path, track: FaceTrack, size: int, rows: np.ndarray,
                        report: ProgressCallback) -> list[FaceCandidate]:
    """Align the track's face in the chosen rows (decoding the frames in order)."""
    wanted = {int(track.frames[r]): int(r) for r in rows}
    out: list[FaceCandidate] = []
    if not wanted:
        return out
    with VideoReader(video) as reader:
        for index, frame in reader.frames(min(wanted), max(wanted) + 1):
            row = wanted.get(index)
            if row is None:
                continue
            landmarks = track.smoothed[row]
            aligned = align_face(frame, landmarks, size, DEFAULT_COVERAGE)
            crop_points = transform_points(landmarks, aligned.matrix)
            out.append(FaceCandidate(index, aligned.image, crop_points[:, :2],
                                  head_pose(track.landmarks[row]), sharpness(aligned.image)))
            report(Progress(len(out) / len(wanted), f"aligning faces: {len(out)}/{len(wanted)}"))
    return out


def filter_faces(candidates: list[FaceCandidate], filters: FaceFilters, size: int
                 ) -> tuple[list[FaceCandidate], dict[str, int]]:
    """The faces that pass ``filters`` (in order) and how many each filter rejected."""
    rejected = {"blur": 0, "pose": 0, "duplicate": 0}
    median_sharpness = float(np.median([c.sharpness for c in candidates])) if candidates else 0
    kept: list[FaceCandidate] = []
    last_thumb: np.ndarray | None = None
    for c in candidates:
        yaw, pitch, _ = c.pose
        if filters.blur_ratio is not None and c.sharpness < filters.blur_ratio * median_sharpness:
            rejected["blur"] += 1
            continue
        if ((filters.max_yaw_deg is not None and abs(yaw) > filters.max_yaw_deg)
                or (filters.max_pitch_deg is not None and abs(pitch) > filters.max_pitch_deg)):
            rejected["pose"] += 1
            continue
        thumb = _thumbnail(c.image)
        if filters.duplicate_landmark_frac is not None and kept and last_thumb is not None:
            moved = float(np.linalg.norm(c.landmarks - kept[-1].landmarks, axis=1).mean())
            changed = float(np.abs(thumb - last_thumb).mean())
            limit = filters.duplicate_landmark_frac * size
            if moved < limit and changed < filters.duplicate_levels:
                rejected["duplicate"] += 1
                continue
        kept.append(c)
        last_thumb = thumb
    return kept, rejected


def _write_png(path: Path, image: np.ndarray) -> None:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise ProjectError("could not encode image", path)
    atomic_write_bytes(path, encoded.tobytes())


def _scaled(progress: ProgressCallback | None, start: float, stop: float) -> ProgressCallback:
    """A callback mapping a sub-task's 0..1 onto ``start..stop`` of the whole."""
    def report(p: Progress) -> None:
        if progress is not None:
            progress(Progress(start + (stop - start) * p.fraction, p.message, None, p.preview))
    return report


def extract_faceset(video_path: str | Path, out_dir: str | Path, identity_name: str,
                    track_id: int | None = None, size: int = DEFAULT_SIZE,
                    analysis: FaceAnalysis | None = None,
                    progress: ProgressCallback | None = None,
                    filters: FaceFilters | None = None) -> FacesetInfo:
    """Extract the faces of one track (default: the longest) of a video into ``out_dir``.

    Runs the face analysis when ``analysis`` is not given. A faceset already in ``out_dir``
    is replaced as a whole; a folder holding anything else is refused. Raising
    :class:`Cancelled` from ``progress`` stops it.
    """
    video = Path(video_path)
    out = Path(out_dir)
    _check_replaceable(out)
    filters = filters or FaceFilters()
    info = probe(video)
    align_start = 0.0
    if analysis is None:
        analysis = analyze_video(video, _scaled(progress, 0.0, 0.5))
        align_start = 0.5
    elif analysis.content_hash != info.content_hash:
        raise MediaError("face analysis belongs to another media file", video)
    track = _pick_track(analysis, track_id, video)
    rows = np.arange(len(track.frames))
    if filters.max_faces is not None and len(rows) > filters.max_faces:
        rows = np.unique(np.linspace(0, len(rows) - 1, filters.max_faces).round().astype(int))
    candidates = _aligned_candidates(video, track, size, rows,
                                     _scaled(progress, align_start, 0.9))
    kept, rejected = filter_faces(candidates, filters, size)
    staging = staging_folder(out)
    shutil.rmtree(staging, ignore_errors=True)
    try:
        entries = _write_faces(staging, kept, size, progress)
        meta = _meta(identity_name, size, video, info, track, candidates, kept, rejected, entries)
        atomic_write_bytes(staging / FACESET_FILE, json.dumps(meta).encode())
        replace_folder(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if progress is not None:
        progress(Progress(1.0, f"faceset: {len(kept)} faces kept of {len(candidates)}"))
    return FacesetInfo(out, identity_name, size, len(kept), track.track_id, len(candidates),
                       rejected, meta["pose_range"], info.content_hash)


def _check_replaceable(out: Path) -> None:
    """Refuse an output folder that holds anything but a faceset (it would be replaced)."""
    recover_folder(out)
    if out.exists() and not out.is_dir():
        raise ProjectError("is a file, not a faceset folder", out)
    if out.is_dir() and not (out / FACESET_FILE).is_file() and any(out.iterdir()):
        raise ProjectError("holds other files: choose a new folder or an existing faceset", out)


def _write_faces(folder: Path, kept: list[FaceCandidate], size: int,
                 progress: ProgressCallback | None) -> list[dict[str, Any]]:
    """Write the kept faces and their masks into ``folder``; their faceset.json entries."""
    for sub in ("faces", "masks"):
        (folder / sub).mkdir(parents=True)
    entries = []
    for number, c in enumerate(kept):
        name = f"{number:06d}.png"
        mask = face_mask(c.landmarks, (size, size), feather_px=size / 32)
        _write_png(folder / "faces" / name, c.image)
        _write_png(folder / "masks" / name, np.rint(mask * 255).astype(np.uint8))
        yaw, pitch, roll = c.pose
        entries.append({"file": name, "frame": c.frame, "yaw": round(yaw, 2),
                        "pitch": round(pitch, 2), "roll": round(roll, 2),
                        "sharpness": round(c.sharpness, 1),
                        "landmarks": np.round(c.landmarks, 1).tolist()})
        if progress is not None and number % 10 == 0:
            progress(Progress(0.9 + 0.1 * number / max(1, len(kept)), "writing faceset"))
    return entries


def _meta(identity_name: str, size: int, video: Path, info: MediaInfo, track: FaceTrack,
          candidates: list[FaceCandidate], kept: list[FaceCandidate], rejected: dict[str, int],
          entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The content of faceset.json."""
    poses = np.array([c.pose for c in kept]) if kept else np.zeros((0, 3))
    pose_range = {axis: ([round(float(poses[:, i].min()), 2), round(float(poses[:, i].max()), 2)]
                         if len(poses) else [])
                  for i, axis in enumerate(("yaw", "pitch", "roll"))}
    return {"version": FACESET_VERSION, "identity": identity_name, "size": size,
            "coverage": DEFAULT_COVERAGE,
            "source": {"path": str(video), "content_hash": info.content_hash,
                       "frame_count": info.frame_count, "fps": float(info.fps)},
            "track_id": track.track_id, "frames_seen": len(candidates), "rejected": rejected,
            "pose_range": pose_range, "faces": entries}


def _read_png(path: Path, flags: int) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    if image is None:
        raise ProjectError("missing or unreadable faceset image", path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image


def read_faceset_meta(folder: str | Path) -> dict[str, Any]:
    """The checked faceset.json of a faceset folder; ProjectError when it is broken."""
    folder = Path(folder)
    path = folder / FACESET_FILE
    if not path.exists():
        recover_folder(folder)  # a replacement cut short between its two renames
    try:
        meta = json.loads(path.read_bytes())
        version = meta["version"]
        meta["size"], meta["identity"] = int(meta["size"]), str(meta["identity"])
        if not isinstance(meta["faces"], list):
            raise TypeError("'faces' is not a list")
    except FileNotFoundError:
        raise ProjectError("not a faceset (no faceset.json)", folder) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProjectError(f"faceset description is unreadable ({exc})", path) from None
    if version > FACESET_VERSION:
        raise ProjectError(f"faceset from a newer DeepStudio (version {version})", path)
    return meta


def faceset_identity(folder: str | Path) -> str:
    """The name of the person a faceset shows (without loading its images)."""
    return read_faceset_meta(folder)["identity"]


def load_faceset(folder: str | Path) -> Faceset:
    """Read a faceset written by :func:`extract_faceset`; ProjectError when it is broken."""
    folder = Path(folder)
    path = folder / FACESET_FILE
    meta = read_faceset_meta(folder)
    size, entries, identity = meta["size"], meta["faces"], meta["identity"]
    if not entries:
        raise ProjectError("faceset holds no faces", path)
    faces = np.stack([_read_png(folder / "faces" / e["file"], cv2.IMREAD_COLOR)
                      for e in entries])
    masks = np.stack([_read_png(folder / "masks" / e["file"], cv2.IMREAD_GRAYSCALE)
                      for e in entries]).astype(np.float32) / 255.0
    if faces.shape[1:] != (size, size, 3) or masks.shape[1:] != (size, size):
        raise ProjectError(f"faceset images are not {size}x{size}", folder)
    landmarks = np.array([e["landmarks"] for e in entries], dtype=np.float32)
    frames = np.array([e["frame"] for e in entries], dtype=np.int64)
    return Faceset(folder, identity, size, faces, masks, landmarks, frames, meta)
