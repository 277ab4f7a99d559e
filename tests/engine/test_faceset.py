"""Faceset extraction from a real clip: aligned crops, masks, metadata, filters, loading."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepstudio.engine.faceset import (
    FaceCandidate,
    FaceFilters,
    extract_faceset,
    faceset_identity,
    filter_faces,
    load_faceset,
    sharpness,
)
from deepstudio.errors import MediaError, ProjectError
from deepstudio.vision import facemesh as fm
from deepstudio.vision.align import template_points
from deepstudio.vision.analysis import FaceAnalysis, analyze_video
from deepstudio.vision.measures import head_pose

SIZE = 64


@pytest.fixture(scope="module")
def analysis(testdata: Path) -> FaceAnalysis:
    return analyze_video(testdata / "swap_a.mp4")


@pytest.fixture(scope="module")
def faceset_dir(testdata: Path, analysis: FaceAnalysis,
                tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("faceset") / "alice"
    seen = []
    info = extract_faceset(testdata / "swap_a.mp4", out, "alice", size=SIZE, analysis=analysis,
                           progress=seen.append)
    assert info.frames_seen == analysis.frame_count == 78  # one face in every frame
    assert info.faces + sum(info.rejected.values()) == info.frames_seen
    assert 12 <= info.faces < info.frames_seen  # near-duplicates of a still face are dropped
    assert seen[-1].fraction == 1.0
    assert all(a.fraction <= b.fraction for a, b in itertools.pairwise(seen))
    return out


def test_faceset_files_and_metadata(faceset_dir: Path, analysis: FaceAnalysis) -> None:
    meta = json.loads((faceset_dir / "faceset.json").read_text())
    assert meta["identity"] == faceset_identity(faceset_dir) == "alice"
    assert meta["size"] == SIZE
    assert meta["source"]["content_hash"] == analysis.content_hash
    names = [e["file"] for e in meta["faces"]]
    assert sorted(p.name for p in (faceset_dir / "faces").iterdir()) == names
    assert sorted(p.name for p in (faceset_dir / "masks").iterdir()) == names
    frames = [e["frame"] for e in meta["faces"]]
    assert frames == sorted(set(frames))
    yaw_min, yaw_max = meta["pose_range"]["yaw"]
    assert -25 < yaw_min <= yaw_max < 25  # a frontal clip
    assert all(len(e["landmarks"]) == fm.NUM_LANDMARKS for e in meta["faces"])


def test_loaded_faceset_is_aligned_on_the_template(faceset_dir: Path) -> None:
    faceset = load_faceset(faceset_dir)
    n = len(faceset.faces)
    assert faceset.faces.shape == (n, SIZE, SIZE, 3) and faceset.faces.dtype == np.uint8
    assert faceset.masks.shape == (n, SIZE, SIZE)
    assert faceset.masks[:, SIZE // 2, SIZE // 2].min() == 1.0
    assert faceset.masks[:, 0, 0].max() == 0.0
    eye_corners = faceset.landmarks[:, [fm.RIGHT_EYE_OUTER, fm.LEFT_EYE_OUTER]]
    expected = template_points(SIZE)[[0, 3]]
    assert np.abs(eye_corners - expected).max() < SIZE * 0.06
    assert np.std(faceset.faces.astype(np.float32), axis=0).mean() > 2  # not one face repeated


def test_filters_drop_blur_pose_and_duplicates(faceset_dir: Path) -> None:
    faceset = load_faceset(faceset_dir)
    face, points = faceset.faces[0], faceset.landmarks[0]
    other = faceset.faces[len(faceset.faces) // 2]
    blurred = cv2.GaussianBlur(face, (0, 0), 2.0)
    assert sharpness(blurred) < 0.5 * sharpness(face)
    candidates = [
        FaceCandidate(0, face, points, (0.0, 0.0, 0.0), sharpness(face)),
        FaceCandidate(1, face.copy(), points + 0.01, (0.0, 0.0, 0.0), sharpness(face)),
        FaceCandidate(2, blurred, points, (0.0, 0.0, 0.0), sharpness(blurred)),
        FaceCandidate(3, other, faceset.landmarks[len(faceset.faces) // 2], (80.0, 0.0, 0.0),
                   sharpness(other)),
        FaceCandidate(4, other, faceset.landmarks[len(faceset.faces) // 2], (5.0, 3.0, 0.0),
                   sharpness(other)),
    ]
    kept, rejected = filter_faces(candidates, FaceFilters(), SIZE)
    assert [c.frame for c in kept] == [0, 4]
    assert rejected == {"blur": 1, "pose": 1, "duplicate": 1}
    off = FaceFilters(blur_ratio=None, max_yaw_deg=None, max_pitch_deg=None,
                      duplicate_landmark_frac=None)
    assert len(filter_faces(candidates, off, SIZE)[0]) == 5


def test_head_pose_of_a_turned_head() -> None:
    points = np.zeros((fm.NUM_LANDMARKS, 3), np.float32)
    points[fm.RIGHT_EYE_OUTER] = (0, 0, 0)
    points[fm.LEFT_EYE_OUTER] = (np.cos(np.radians(30)), 0, np.sin(np.radians(30)))
    points[fm.FACE_OVAL[0]] = (0.5, -1, 0)
    points[fm.CHIN] = (0.5, 1, 0)
    yaw, pitch, roll = head_pose(points)
    assert yaw == pytest.approx(30, abs=0.1) and abs(pitch) < 0.1 and abs(roll) < 0.1


def test_extraction_refusals(testdata: Path, analysis: FaceAnalysis, tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="has no face track 7"):
        extract_faceset(testdata / "swap_a.mp4", tmp_path / "x", "a", track_id=7,
                        analysis=analysis)
    with pytest.raises(MediaError, match="another media file"):
        extract_faceset(testdata / "swap_b.mp4", tmp_path / "x", "a", analysis=analysis)


def test_broken_facesets_are_refused(faceset_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(faceset_dir, copy)
    next((copy / "faces").iterdir()).unlink()
    with pytest.raises(ProjectError, match="missing or unreadable faceset image"):
        load_faceset(copy)
    (copy / "faceset.json").write_text("{")
    with pytest.raises(ProjectError, match="unreadable"):
        load_faceset(copy)
    with pytest.raises(ProjectError, match="not a faceset"):
        load_faceset(tmp_path)
