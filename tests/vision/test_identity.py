from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

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


def test_embedding_process_gives_the_same_descriptor_and_survives_its_child(talk_frames,
                                                                            talk_faces):
    """Analysis embeds in a child process (dlib keeps the GIL): same descriptor as in
    process; a child that died gives a clear error and the next request starts a new one."""
    from deepstudio.vision.embedding_process import EmbeddingProcess

    expected = FaceEmbedder().embed(talk_frames[0], talk_faces[0].bbox)
    with EmbeddingProcess() as remote:
        np.testing.assert_array_equal(remote.embed(talk_frames[0], talk_faces[0].bbox),
                                      expected)
        remote._child.kill()
        remote._child.wait()
        with pytest.raises(RuntimeError, match="embedding process stopped"):
            remote.embed(talk_frames[0], talk_faces[0].bbox)
        again = remote.embed(talk_frames[30][:, ::-1], talk_faces[30].bbox)  # any layout
        assert again.shape == (128,)
        child = remote._child
    assert child.poll() == 0  # ended by closing its input
