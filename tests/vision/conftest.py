"""Fixtures of the vision tests: frames of the real clips and their FaceMesh landmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepstudio.media.decode import VideoReader
from deepstudio.vision.facemesh import FaceMeshDetector, FaceObservation


def read_frames(path: Path, count: int | None = None) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return [frame for _, frame in reader.frames(0, count)]


@pytest.fixture(scope="session")
def talk_frames(testdata: Path) -> list[np.ndarray]:
    """The first 60 frames of talk_b.mp4 (one frontal face, 524x524)."""
    return read_frames(testdata / "talk_b.mp4", 60)


@pytest.fixture(scope="session")
def talk_faces(talk_frames: list[np.ndarray]) -> list[FaceObservation]:
    """The single face of each frame of :func:`talk_frames` (tracking mode)."""
    faces = []
    with FaceMeshDetector(max_faces=1) as detector:
        for frame in talk_frames:
            found = detector.detect(frame)
            assert len(found) == 1
            faces.append(found[0])
    return faces


@pytest.fixture(scope="session")
def clip_frames(testdata: Path):
    """``clip_frames(name, count=None)``: the first frames of a testdata clip, as RGB arrays."""
    return lambda name, count=None: read_frames(testdata / name, count)
