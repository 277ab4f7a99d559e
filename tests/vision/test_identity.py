from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from deepstudio.vision.facemesh import FaceMeshDetector
from deepstudio.vision.identity import SAME_PERSON_DISTANCE, FaceEmbedder, embedding_distance


def test_same_person_close_different_people_far(testdata: Path, talk_frames, talk_faces):
    embedder = FaceEmbedder()
    a = embedder.embed(talk_frames[0], talk_faces[0].bbox)
    b = embedder.embed(talk_frames[59], talk_faces[59].bbox)
    assert a.shape == (128,) and a.dtype == np.float32
    assert embedding_distance(a, b) < 0.45
    with FaceMeshDetector(static=True) as detector:
        for name in ("face_02.jpg", "face_03.jpg"):
            photo = cv2.cvtColor(cv2.imread(str(testdata / name)), cv2.COLOR_BGR2RGB)
            other = embedder.embed(photo, detector.detect(photo)[0].bbox)
            assert embedding_distance(a, other) > SAME_PERSON_DISTANCE
